"""Core AI's runtime against the Keras reference on photos the model never saw: top-1 and top-3 agreement with their
95 % Wilson intervals, max |dp|, latency per photo.

    python tests/benchmarks/bench_coreai.py --bundle bundles/NAME --run runs/NAME \
        [--photos ../shared/data/stanford_cars] [--count 400] [--variants fp16,int8-weights] [--json out.json]

The photos are taken from the class folders of ``--photos`` that are *not* among the run's labels (round-robin over
those classes, sorted names): no photo of them was trained, validated or calibrated on, and none is a gate photo of
export. Agreement between a format and its reference is about arithmetic, so it is measured on any real car photo;
top-1 accuracy is not reported (their classes are not the model's). Each photo is decoded once with the reference's
decoder and resize; the reference and every Core AI file see the same pixels. Core AI's runtime is one CPU thread
here (about 2.7 s a photo for InceptionV3 at 299 px in fp32), so 400 photos take about 20 minutes per variant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]


def unseen_photos(root: Path, labels: list[str], count: int) -> list[Path]:
    """Up to ``count`` photos from the class folders of ``root`` that are not ``labels``, round-robin over classes."""
    from carspotter.model.photos import find_photos

    classes = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name not in set(labels)]
    queues = [find_photos(d) for d in classes]
    chosen, i = [], 0
    while len(chosen) < count and any(queues):
        if queues[i % len(queues)]:
            chosen.append(queues[i % len(queues)].pop(0))
        i += 1
    return chosen


def measure(bundle: Path, run: Path, photos: Path, count: int, variants: list[str] | None) -> dict:
    from carspotter.contracts.bundle_handle import open_bundle
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.intervals import wilson
    from carspotter.measure.parity_rule import compare_top3, tolerance
    from carspotter.model import runtimes
    from carspotter.export.formats.coreai.runtime import CoreAISession
    from carspotter.model.photos import load_photos
    from carspotter.util.progress import progress

    handle, record = open_bundle(bundle), read_run(run)
    entry = handle.manifest.formats["coreai"]
    names = variants or [entry.default_variant]
    loaded = load_photos(unseen_photos(photos, record.labels, count), handle.manifest.spec.size, progress="decode")
    reference = runtimes.keras_probs(runtimes.load_reference(record), loaded.pixels)
    out = {"photos": len(loaded.paths), "skipped": len(loaded.skipped), "source": str(photos), "variants": {}}
    for name in names:
        path = bundle / entry.variants[name].path
        with CoreAISession(path) as session:
            t0, probs = time.perf_counter(), []
            for px in progress(loaded.pixels, len(loaded.pixels), f"coreai {name}"):
                probs.append(session.infer(px[None]))
            seconds = time.perf_counter() - t0
        probs = np.concatenate(probs)
        np.save(Path(tempfile.gettempdir()) / f"bench_coreai_{name}.npy", probs)  # for a look afterwards
        top1 = int((probs.argmax(1) == reference.argmax(1)).sum())
        tol = tolerance(entry.variants[name].precision)
        rule = compare_top3(
            reference,
            probs,
            labels=record.labels,
            photos=[str(p) for p in loaded.paths],
            tau=tol.tau,
            max_abs_diff_limit=tol.max_abs_diff,
            format="coreai",
            target=name,
            precision=entry.variants[name].precision,
        )
        gated = min(n_all := len(probs), round(rule.top1_agreement * n_all) + rule.top1_near_ties)
        top3 = int(sum(list(np.argsort(-p)[:3]) == list(np.argsort(-r)[:3]) for p, r in zip(probs, reference)))
        n = len(probs)
        out["variants"][name] = {
            "gated_agreement": gated / n,
            "gated_interval": wilson(gated, n),
            "top1_near_ties": rule.top1_near_ties,
            "tau": rule.tau,
            "top1_agreement": top1 / n,
            "top1_interval": wilson(top1, n),
            "top3_ordered_agreement": top3 / n,
            "top3_ordered_interval": wilson(top3, n),
            "max_abs_diff": float(np.abs(probs - reference).max()),
            "ms_per_photo": 1000 * seconds / n,
            "bytes": entry.variants[name].bytes,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--photos", default=str(REPO.parent / "shared" / "data" / "stanford_cars"))
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--variants", default=None, help="comma-separated Core AI variants (default: the default)")
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--record",
        default=None,
        metavar="FILE",
        help="write a figure record for docs/figures.md (tests/benchmarks/figures_page.py)",
    )
    args = parser.parse_args(argv)
    result = measure(
        Path(args.bundle),
        Path(args.run),
        Path(args.photos),
        args.count,
        args.variants.split(",") if args.variants else None,
    )
    print(
        f"Core AI runtime vs the Keras reference on {result['photos']} photos of classes the run never saw "
        f"({result['skipped']} skipped)"
    )
    for row in _rows(result):
        print("| " + " | ".join(row) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.record:
        Path(args.record).write_text(json.dumps(figure_record(result, args), indent=1) + "\n", encoding="utf-8")
    return 0


COLUMNS = [
    "variant",
    "MiB",
    "top-1 agreement, near-ties counted as parity counts them [95 % CI]",
    "top-1 agreement, raw [95 % CI]",
    "ordered top-3, raw [95 % CI]",
    "max abs dp",
    "ms / photo",
]


def _rows(result: dict) -> list[list[str]]:
    """The table: a header, its rule, one row per variant."""

    def ci(v, key):
        lo, hi = v[key.replace("agreement", "interval")]
        return f"{v[key]:.1%} [{lo:.1%}, {hi:.1%}]"

    rows = [COLUMNS, ["---"] * len(COLUMNS)]
    for name, v in result["variants"].items():
        rows.append(
            [
                name,
                f"{v['bytes'] / 2**20:.1f}",
                f"{ci(v, 'gated_agreement')} ({v['top1_near_ties']} near-ties, tau {v['tau']:g})",
                ci(v, "top1_agreement"),
                ci(v, "top3_ordered_agreement"),
                f"{v['max_abs_diff']:.1e}",
                f"{v['ms_per_photo']:,.0f}",
            ]
        )
    return rows


def figure_record(result: dict, args) -> dict:
    """The figures as a record of docs/figures/ (tests/benchmarks/figures_page.py)."""
    import datetime as dt
    import platform

    from carspotter.model.reference_worker import cpu_name

    rows = _rows(result)[2:]
    return {
        "id": "coreai-unseen",
        "order": 21,
        "title": "Core AI's runtime against the reference on unseen photos",
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.node() or 'this machine'}: {cpu_name()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores, no GPU",
        "command": "python tests/benchmarks/bench_coreai.py " + " ".join(sys.argv[1:]),
        "photos": f"{result['photos']} photos of the Stanford Cars classes the run never saw ({result['skipped']} "
        "skipped)",
        "summary": "The shipped Core AI file run by coreai-core's runtime, one photo per call, against the Keras "
        "reference on the same decoded pixels (ordered top-3: no near-tie allowance).",
        "table": {"columns": COLUMNS, "rows": rows},
    }


if __name__ == "__main__":
    sys.exit(main())
