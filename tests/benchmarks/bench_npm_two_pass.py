"""Two-pass recognition by the npm package in Node against the Python reference, on composite 12 MP scenes.

    python tests/benchmarks/bench_npm_two_pass.py BUNDLE RUN [--scenes 64] [--photos DIR] [--json out.json]

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
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
CHUNK = 8


def measure(bundle: Path, run_dir: Path, scenes: int, photos: Path | None, log=print) -> dict:
    """Every scene's verdict (``npm_two_pass.agreement``) and the package's time; see the module docstring."""
    import shutil

    from carspotter.contracts.photoset import data_folder
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.app_drivers import install_npm_copy
    from carspotter.model.localizer import load_two_output
    from npm_two_pass import agreement, make_scenes, node_answers

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
            for scene, got in zip(made, node_answers(pkg, made, folder)):
                rows.append(
                    {
                        "seed": scene["seed"],
                        "share": scene["share"],
                        "region": scene["region"],
                        "reference": {k: scene["reference"][k] for k in ("passes", "roi", "top1")},
                        "npm": {k: got[k] for k in ("passes", "roi", "top1")},
                        "ms": got["ms"],
                        **agreement(scene["reference"], got),
                    }
                )
            shutil.rmtree(folder)
            log(f"  {len(rows)}/{scenes} scenes, {sum(r['agree'] for r in rows)} agree")
    return summary(rows)


def summary(rows: list[dict]) -> dict:
    """Counts with Wilson 95 % intervals, the largest differences, the package's median milliseconds per scene."""
    import numpy as np

    from carspotter.measure.intervals import wilson

    n = len(rows)

    def share(key):
        k = sum(bool(r[key]) for r in rows)
        return {"k": k, "n": n, "share": k / n if n else None, "ci": list(wilson(k, n))}

    second = sum(r["reference"]["passes"] == 2 for r in rows)
    return {
        "agreement": share("agree"),
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
    args = parser.parse_args()
    result = measure(args.bundle, args.run, args.scenes, args.photos, log=lambda m: print(m, file=sys.stderr))
    a = result["agreement"]
    print(
        f"npm twoPass (Node) vs the reference on {a['n']} composite 12 MP scenes: agreement {a['k']}/{a['n']} = "
        f"{100 * a['share']:.1f} % (Wilson 95 % {100 * a['ci'][0]:.1f}-{100 * a['ci'][1]:.1f} %)"
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
    return 0 if a["k"] == a["n"] else 1


if __name__ == "__main__":
    sys.exit(main())
