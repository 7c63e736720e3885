"""Training for scale: does ``--augment ...,zoomout=P`` keep full-frame accuracy and help one pass on small cars?

    python tests/benchmarks/bench_scale_training.py runs/cars50 runs/cars50-zoomout [--scenes 2] [--record]

Two runs trained alike (same classes, seed and split) except that B adds zoom-out composites. On their common
**test** split (neither trained on it; the script checks the two splits are the same photos): top-1 of each on the
photos as they are (the car fills the frame), and one pass on composite 12 MP scenes with the car at 50 % and 30 %
of the width (``--scenes`` per photo and share, :mod:`carspotter.measure.composites`, the same scenes for both).
Paired differences B - A with Newcombe's 95 % interval and McNemar's exact p (:mod:`carspotter.measure.intervals`).
The rule, fixed before the runs were trained: full-frame accuracy "does not drop" when the lower bound of B - A is
no more than 3 points below zero on at least 200 photos. ``--record`` writes docs/figures/scale-training.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from records import FULL_FRAME_RULE, full_frame_holds, paired_text, share_text, write_record


def _predictions(run_dir: Path, inputs: np.ndarray) -> np.ndarray:
    import keras

    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    return model.predict(inputs, batch_size=16, verbose=0).argmax(1)


def measure(run_a: Path, run_b: Path, scenes: int, shares=(0.5, 0.3), log=print) -> dict:
    from carspotter.contracts.photoset import data_folder
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.composites import compose
    from carspotter.measure.intervals import paired_difference, wilson
    from carspotter.model import photos
    from carspotter.model.reference_resize import resize

    a, b = read_run(run_a), read_run(run_b)
    rows = a.split_rows("test")
    if [(r.path, r.label) for r in rows] != [(r.path, r.label) for r in b.split_rows("test")]:
        raise SystemExit(
            f"{run_a} and {run_b} have different test splits: train them with the same data, classes and seed"
        )
    size, root = a.input.size, data_folder(a)
    cars = [np.asarray(photos.decode_rgb(root / r.path)) for r in rows]
    truth = np.array([r.label for r in rows])
    sets = {"full frame": np.stack([resize(c, size) for c in cars])}
    for share in shares:
        sets[f"{share:.0%} of a 12 MP scene"] = np.stack(
            [
                resize(compose(c, share, 7919 * i + 104729 * j + int(share * 1000)).pixels, size)
                for i, c in enumerate(cars)
                for j in range(scenes)
            ]
        )
        log(f"{len(cars) * scenes} scenes at share {share}")
    out = {"photos": len(rows), "scenes_per_photo": scenes, "rule": FULL_FRAME_RULE, "sets": {}}
    for name, inputs in sets.items():
        want = truth if name == "full frame" else np.repeat(truth, scenes)
        hit_a, hit_b = _predictions(run_a, inputs) == want, _predictions(run_b, inputs) == want
        diff = paired_difference(hit_b, hit_a)
        out["sets"][name] = {
            "n": len(want),
            "a": [float(hit_a.mean()), *wilson(int(hit_a.sum()), len(want))],
            "b": [float(hit_b.mean()), *wilson(int(hit_b.sum()), len(want))],
            "b_minus_a": diff.to_json(),
        }
        log(f"{name}: A {hit_a.mean():.1%}, B {hit_b.mean():.1%}, B - A {diff}")
    full = out["sets"]["full frame"]
    out["full_frame_holds"] = full_frame_holds(full["n"], full["b_minus_a"])
    return out


def record(result: dict, run_a: Path, run_b: Path, command: str) -> Path:
    """Write the docs/figures record of :func:`measure`'s result; returns its path."""
    rows = [
        [
            name,
            str(s["n"]),
            share_text(*s["a"]),
            share_text(*s["b"]),
            paired_text(s["b_minus_a"]),
            f"{s['b_minus_a']['mcnemar_exact_p']:.3g}",
        ]
        for name, s in result["sets"].items()
    ]
    verdict = "holds" if result["full_frame_holds"] else "does not hold"
    return write_record(
        "scale-training",
        21,
        "Training for scale: zoom-out composites, paired",
        command,
        result["photos"],
        f"A = {run_a.name} (default augmentation), B = {run_b.name} (plus zoomout=0.5), same classes, "
        f"seed and split; their {result['photos']} test photos; the full-frame rule (B - A lower bound "
        f">= -3 points on >= 200 photos, fixed before training) {verdict}",
        {"columns": ["photos", "n", "A top-1", "B top-1", "B - A (paired)", "McNemar p"], "rows": rows},
        ["Composite scenes of one photo are not independent; their intervals treat them as if they were."],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    result = measure(args.run_a, args.run_b, args.scenes, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=1))
    if args.record:
        print(f"written {record(result, args.run_a, args.run_b, ' '.join(['python', *sys.argv]))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
