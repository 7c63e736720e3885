"""App paths on a run's test split and on the same photos at their original size: one table.

    python tests/benchmarks/bench_app_paths.py --run runs/NAME --bundle bundles/NAME \
        [--full ../shared/data/stanford_cars_full] [--json figures.json]

For every app path of :mod:`carspotter.measure.app_paths` (MediaPipe resizing the photo itself,
OpenCV, Pillow without antialiasing, tf.image, sharp when Node has it, ...) and two photo
sets, the run's test split as trained on (``test``) and the original-size files of those
test photos found under ``--full`` (``full``: same file names, as the dataset distributes
them), and with ``--all-full`` every original-size photo of the run's classes (``full-all``:
training photos included, so its accuracy is optimistic; the agreement is what counts), prints top-1 agreement and ordered top-3 agreement with the reference (on our exact
pixels), top-1 accuracy against the true labels next to the reference's, max |dp|, pixel
drift, the agreement on the upscaled photos, and the app-path gate's verdict.
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


def full_size_test_folder(run, full: Path, dest: Path) -> int:
    """Links to the original-size files of the run's test photos, laid out ``dest/<class>/<file>``; returns how many."""
    count = 0
    for row in run.split_rows("test"):
        src = full / row.path
        if src.is_file():
            (dest / Path(row.path).parent).mkdir(parents=True, exist_ok=True)
            (dest / row.path).symlink_to(src)
            count += 1
    return count


def full_size_class_folder(run, full: Path, dest: Path) -> int:
    """Links to every original-size photo of the run's classes, laid out ``dest/<class>/<file>``; returns how many."""
    count = 0
    for label in run.labels:
        for src in sorted((full / label).glob("*")) if (full / label).is_dir() else []:
            (dest / label).mkdir(parents=True, exist_ok=True)
            (dest / label / src.name).symlink_to(src)
            count += 1
    return count


def measure(bundle: str, run: str, images: str | None) -> list[dict]:
    from carspotter.parity.checks import plan, run_check
    from carspotter.parity.context import ParityContext

    ctx = ParityContext(bundle, images=images, run=run)
    rows = []
    for check in (c for c in plan(ctx) if c.id.startswith("app:live:")):
        outcome = run_check(ctx, check)
        if outcome.status == "skipped" or "app_path" not in outcome.facts:
            print(f"  {check.id}: {outcome.status}: {outcome.message}", file=sys.stderr)
            continue
        rows.append(
            {**outcome.facts["app_path"], "gate": outcome.facts["gate"], "gate_passed": outcome.facts["gate_passed"]}
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--full", default=str(REPO.parent / "shared" / "data" / "stanford_cars_full"))
    parser.add_argument("--json", default=None)
    parser.add_argument("--all-full", action="store_true", help="also every original-size photo of the run's classes")
    args = parser.parse_args()
    from carspotter.contracts.runfolder import read_run

    run = read_run(args.run)
    table = {"test": measure(args.bundle, args.run, None)}
    with tempfile.TemporaryDirectory() as tmp:
        n = full_size_test_folder(run, Path(args.full), Path(tmp))
        if n:
            table["full"] = measure(args.bundle, args.run, tmp)
        else:
            print(f"no original-size file of the test photos under {args.full}", file=sys.stderr)
    if args.all_full:
        with tempfile.TemporaryDirectory() as tmp:
            if full_size_class_folder(run, Path(args.full), Path(tmp)):
                table["full-all"] = measure(args.bundle, args.run, tmp)
    print(
        f"\nrun {run.name}: {len(run.labels)} classes, input {run.input.size} px, augment "
        f"{run.record.get('training', {}).get('augment')}"
    )
    print(
        "| photos | path | n | top-1 agreement | top-3 agreement | top-1 (reference) | max abs dp | pixel drift | "
        "upscaled: n, agreement | gate |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---|---|")
    for name, rows in table.items():
        for r in rows:
            drift = f"{r['pixel_drift_mean']:.2f}" if r["pixel_drift_mean"] is not None else "-"
            acc = f"{r['top1']:.1%} ({r['reference_top1']:.1%})" if r["top1"] is not None else "-"
            up = r["upscaled"]
            print(
                f"| {name} | {r['path']} | {r['photos']} | {r['top1_agreement']:.1%} | {r['top3_agreement']:.1%} | {acc} | "
                f"{r['max_abs_diff']:.3f} | {drift} | {up['photos']}, {up['top1_agreement']:.1%} | "
                f"{'pass' if r['gate_passed'] else 'MISSED'} |"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"run": run.name, "augment": run.record.get("training", {}).get("augment"), "table": table}, indent=1
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
