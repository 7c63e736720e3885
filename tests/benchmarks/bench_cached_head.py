"""Head phase through the frozen base (naive) against cached bottleneck features: time and val accuracy.

    python tests/benchmarks/bench_cached_head.py [--classes 20] [--epochs 20] [--image-size 299]

Runs ``carspotter train`` three times on the first ``--classes`` classes of
``../shared/data/stanford_cars`` with the offline backbone of ``../shared/weights``, phase 1
only (``--epochs-finetune 0``), early stopping off so every variant trains the same number
of epochs, same seed and split:

1. ``--head-mode naive``: every epoch runs InceptionV3 forward on every (augmented)
   training and validation photo;
2. ``--head-mode cached --head-views 0``: features of the plain photos, once;
3. ``--head-mode cached --head-views 1`` (the default): plus one augmented view.

Prints the head phase's seconds (feature extraction included), the speed-up over naive,
and val top-1 / top-3 of the model the phase leaves (best epoch's weights). The speed-up
is about ``epochs x (train + val) / ((1 + views) x train + val)`` photos through the base.
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
SHARED = REPO.parent / "shared"


def _head_row(args, out: Path, label: str, mode: str, views: int) -> dict:
    """Train one variant's phase 1 into ``out``; its row: seconds, val accuracy, best epoch, photo counts."""
    from carspotter.train.trainer import TrainConfig, train

    train(
        TrainConfig(
            data_dir=args.data,
            out=str(out),
            weights=args.weights,
            input_range="0,1",
            max_classes=args.classes,
            epochs_head=args.epochs,
            epochs_finetune=0,
            patience=0,
            batch_size=args.batch_size,
            image_size=args.image_size,
            head_mode=mode,
            head_views=views,
        )
    )
    run = json.loads((out / "run.json").read_text())
    head = run["phases"]["head"]
    return {
        "variant": label,
        "seconds": head["seconds"],
        "feature_seconds": head.get("feature_seconds"),
        "val_top1": run["metrics"]["val"]["top1"],
        "val_top3": run["metrics"]["val"]["top3"],
        "best_epoch": head.get("best_epoch"),
        "val_photos": run["metrics"]["val"]["count"],
        "train_photos": sum(run["classes"]["counts"]["train"]),
    }


def _print_table(args, rows: list[dict]) -> None:
    """The variants' seconds, speed-up over naive and val accuracy; also as JSON with ``--json``."""
    naive = rows[0]["seconds"]
    print(
        f"\nHead phase, {args.classes} classes, {rows[0]['train_photos']} training / {rows[0]['val_photos']} val photos, "
        f"{args.epochs} epochs, {args.image_size} px, batch {args.batch_size}, CPU threads: {os.cpu_count()}"
    )
    print(f"{'variant':30} {'seconds':>9} {'speed-up':>9} {'val top-1':>10} {'val top-3':>10} {'best epoch':>11}")
    for r in rows:
        print(
            f"{r['variant']:30} {r['seconds']:9.1f} {naive / r['seconds']:8.1f}x {r['val_top1']:10.3f} "
            f"{r['val_top3']:10.3f} {r['best_epoch']:>11}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data" / "stanford_cars"))
    parser.add_argument("--weights", default=str(SHARED / "weights" / "inception_v3_nsfwjs_notop.weights.h5"))
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    for p in (args.data, args.weights):
        if not Path(p).exists():
            print(f"bench_cached_head: {p} not found; pass --data / --weights", file=sys.stderr)
            return 2

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, mode, views in (
            ("naive (through frozen base)", "naive", 0),
            ("cached, 0 augmented views", "cached", 0),
            ("cached, 1 augmented view", "cached", 1),
        ):
            out = Path(tmp) / f"{mode}{views}"
            rows.append(_head_row(args, out, label, mode, views))
    _print_table(args, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
