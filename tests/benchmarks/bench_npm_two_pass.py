"""Two-pass recognition by the npm package in Node against the Python reference, on composite 12 MP scenes.

    python tests/benchmarks/bench_npm_two_pass.py BUNDLE RUN [--scenes 64] [--photos DIR] [--json out.json] [--chromium]

BUNDLE is a bundle exported from RUN after ``carspotter localize RUN`` (its ONNX file has the ``box`` output). Scene
``i`` (``tests/npm_two_pass.py``): photo ``i // C`` of class ``i % C`` of RUN's classes (from ``--photos``, default
the run's data folder) pasted into a 4032 x 3024 composite at 50 % or 30 % of its width, every fourth scene with a
region for pass 1. On each: the reference (:func:`carspotter.model.localizer.two_pass`, the run's Keras two-output
model) and the package's ``twoPass`` (onnxruntime-node, the package copied beside ``$CARSPOTTER_NODE_DIR/node_modules``,
default ``tests/js``). Agreement: the same passes, the same ROI within 1 pixel on each coordinate, the same top-1;
printed with its Wilson 95 % interval, each part alone, the share of scenes where pass 2 ran, the largest box and
probability differences, and the package's milliseconds per scene. Scenes go through in chunks of 8 raw RGB files
(36 MB each), deleted after each chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
CHUNK = 8


def measure(
    bundle: Path, run_dir: Path, scenes: int, photos: Path | None, log=print, chromium: str | None = None
) -> dict:
    """Every scene's verdict (``npm_two_pass.agreement``) and the package's time, in Node and, with ``chromium`` (the
    browser's path), in headless Chromium too; see the module docstring."""
    from carspotter.contracts.photoset import data_folder
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.app_drivers import install_npm_copy
    from carspotter.model.localizer import load_two_output
    from npm_two_pass import agreement, chromium_answers, make_scenes, node_answers

    model = load_two_output(run_dir)
    infer = lambda x: model.predict(x, verbose=0)  # noqa: E731
    photos = photos or data_folder(read_run(run_dir))
    node_modules = Path(os.environ.get("CARSPOTTER_NODE_DIR", REPO / "tests" / "js")) / "node_modules"
    rows = []
    with tempfile.TemporaryDirectory(prefix="npm-two-pass-") as tmp:
        pkg = install_npm_copy(bundle / "onnx", Path(tmp), node_modules)
        for start in range(0, scenes, CHUNK):
            folder = Path(tmp) / "scenes"
            made = make_scenes(run_dir, photos, range(start, min(scenes, start + CHUNK)), folder, infer)
            browser = chromium_answers(chromium, Path(tmp), pkg, made, folder) if chromium else [None] * len(made)
            for scene, got, page in zip(made, node_answers(pkg, made, folder), browser):
                rows.append(
                    {
                        "seed": scene["seed"],
                        "share": scene["share"],
                        "region": scene["region"],
                        "reference": {k: scene["reference"][k] for k in ("passes", "roi", "top1")},
                        "npm": {k: got[k] for k in ("passes", "roi", "top1")},
                        "ms": got["ms"],
                        **agreement(scene["reference"], got),
                        **({"chromium": agreement(scene["reference"], page)} if page else {}),
                    }
                )
            shutil.rmtree(folder)
            in_page = f", {sum(r['chromium']['agree'] for r in rows)} in Chromium" if chromium else ""
            log(f"  {len(rows)}/{scenes} scenes, {sum(r['agree'] for r in rows)} agree in Node{in_page}")
    return summary(rows)


def summary(rows: list[dict]) -> dict:
    """Counts with Wilson 95 % intervals, the largest differences, the package's median milliseconds per scene."""
    import numpy as np

    from carspotter.measure.intervals import wilson

    n = len(rows)

    def share(key, where=lambda r: r):
        k = sum(bool(where(r)[key]) for r in rows)
        return {"k": k, "n": n, "share": k / n if n else None, "ci": list(wilson(k, n))}

    in_page = rows and "chromium" in rows[0]

    second = sum(r["reference"]["passes"] == 2 for r in rows)
    return {
        "agreement": share("agree"),
        **({"chromium_agreement": share("agree", lambda r: r["chromium"])} if in_page else {}),
        **({"chromium_box_max_abs_diff": max(r["chromium"]["box_max_abs_diff"] for r in rows)} if in_page else {}),
        "same_passes": share("passes"),
        "roi_within_1px": share("roi"),
        "roi_exact": share("roi_exact"),
        "same_top1": share("top1"),
        "reference_pass2": {"k": second, "n": n, "ci": list(wilson(second, n))},
        "box_max_abs_diff": max((r["box_max_abs_diff"] for r in rows), default=None),
        "max_abs_dp": max((r["max_abs_dp"] for r in rows), default=None),
        "npm_ms_median": float(np.median([r["ms"] for r in rows])) if rows else None,
        "interval": "Wilson 95 %",
        "disagreements": [r for r in rows if not r["agree"]],
        "rows": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="a bundle exported from RUN with its localizer")
    parser.add_argument("run", type=Path, help="the run (with localizer/ from carspotter localize)")
    parser.add_argument("--scenes", type=int, default=64, help="composite scenes (default %(default)s)")
    parser.add_argument(
        "--photos", type=Path, default=None, help="car crops in <class>/ folders (default: the run's data folder)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every scene's verdict here")
    parser.add_argument("--chromium", action="store_true", help="also in headless Chromium (onnxruntime-web)")
    args = parser.parse_args()
    chromium = (shutil.which("chromium") or shutil.which("chromium-browser")) if args.chromium else None
    if args.chromium and chromium is None:
        parser.error("--chromium: no chromium on PATH (apt-get install chromium)")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    result = measure(args.bundle, args.run, args.scenes, args.photos, log=log, chromium=chromium)
    a = result["agreement"]
    print(
        f"npm twoPass (Node) vs the reference on {a['n']} composite 12 MP scenes: agreement {a['k']}/{a['n']} = "
        f"{100 * a['share']:.1f} % (Wilson 95 % {100 * a['ci'][0]:.1f}-{100 * a['ci'][1]:.1f} %)"
    )
    if "chromium_agreement" in result:
        c = result["chromium_agreement"]
        print(
            f"npm twoPass (headless Chromium, onnxruntime-web) on the same scenes: agreement {c['k']}/{c['n']} = "
            f"{100 * c['share']:.1f} % (Wilson 95 % {100 * c['ci'][0]:.1f}-{100 * c['ci'][1]:.1f} %); max |box d| "
            f"{result['chromium_box_max_abs_diff']:.2g}"
        )
    for key in ("same_passes", "roi_within_1px", "roi_exact", "same_top1"):
        p = result[key]
        print(f"  {key}: {p['k']}/{p['n']} (Wilson 95 % {100 * p['ci'][0]:.1f}-{100 * p['ci'][1]:.1f} %)")
    print(
        f"  pass 2 ran (reference) on {result['reference_pass2']['k']}/{a['n']} scenes; max |box d| "
        f"{result['box_max_abs_diff']:.2g}; max |dp| {result['max_abs_dp']:.2g}; twoPass "
        f"{result['npm_ms_median']:.0f} ms median per scene in Node"
    )
    for r in result["disagreements"]:
        print(
            f"  differs: seed {r['seed']} share {r['share']} region {r['region']}: reference {r['reference']}, "
            f"npm {r['npm']}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    c = result.get("chromium_agreement", a)
    return 0 if a["k"] == a["n"] and c["k"] == c["n"] else 1


if __name__ == "__main__":
    sys.exit(main())
