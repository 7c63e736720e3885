"""Find the car: one pass, two passes and the true box on 12 MP street-photo stand-ins (docs/figures.md).

    python tests/benchmarks/bench_find_the_car.py runs/cal10 [--scenes 4] [--record]

For every photo of the run's **test** split (never its training photos) and each share of the scene's width (50 %
and 30 %), ``--scenes`` composites (:mod:`carspotter.measure.composites`: a 4032 x 3024 scene, out-of-focus
background, distractors, the car pasted at a random place; seeded by photo and scene). On each scene, the run's
Keras reference:

- **one pass**: the whole scene through the reference resize;
- **two passes**: :func:`carspotter.model.localizer.two_pass` with the run's localizer (``carspotter localize``);
- **true box**: the scene cut to the car's exact box (the best any localizer can do);

and, once per photo, **the crop** (the car filling the frame). Top-1 with Wilson 95 % intervals; the paired
differences two-pass minus one-pass and two-pass minus true box with Newcombe's interval (scenes of one photo are
not independent: the intervals treat them as if they were, so they are narrower than they should be by up to
sqrt(scenes); the per-photo figure is printed beside them); the two-pass ROI's IoU with the true box; seconds per
scene. ``--record`` writes docs/figures/find-the-car.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from records import paired_text, share_text, top1_figures, write_record


def measure(run_dir: Path, scenes: int, shares=(0.5, 0.3), log=print) -> dict:
    import keras

    from carspotter.contracts.photoset import data_folder
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.composites import compose
    from carspotter.measure.intervals import paired_difference
    from carspotter.model import localizer, photos
    from carspotter.model.reference_resize import resize
    from carspotter.model.roi import cut, iou

    run = read_run(run_dir)
    size, root = run.input.size, data_folder(run)
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    both = localizer.load_two_output(run_dir, model)
    infer = lambda x: both.predict(x, verbose=0)  # noqa: E731
    rows = run.split_rows("test")
    cars = [np.asarray(photos.decode_rgb(root / r.path)) for r in rows]
    truth = np.array([r.label for r in rows])
    crop_hits = model.predict(np.stack([resize(c, size) for c in cars]), verbose=0).argmax(1) == truth
    out = {"photos": len(rows), "scenes_per_photo": scenes, "crop": top1_figures(crop_hits), "shares": {}}
    for share in shares:
        one, two, true_box, ious, passes, seconds = [], [], [], [], [], []
        for i, car in enumerate(cars):
            for j in range(scenes):
                scene = compose(car, share, 7919 * i + 104729 * j + int(share * 1000))
                t0 = time.perf_counter()
                answer = localizer.two_pass(infer, scene.pixels, size)
                seconds.append(time.perf_counter() - t0)
                one.append(answer.first.argmax() == truth[i])
                two.append(answer.probabilities.argmax() == truth[i])
                true_box.append(
                    model.predict(resize(cut(scene.pixels, scene.box), size)[None], verbose=0)[0].argmax() == truth[i]
                )
                ious.append(iou(answer.found, scene.box) if answer.found else 0.0)
                passes.append(answer.passes)
            log(f"share {share}: {i + 1}/{len(cars)} photos")
        one, two, true_box = np.array(one), np.array(two), np.array(true_box)
        out["shares"][str(share)] = {
            "scenes": len(one),
            "one_pass": top1_figures(one),
            "two_pass": top1_figures(two),
            "true_box": top1_figures(true_box),
            "two_minus_one": paired_difference(two, one).to_json(),
            "two_minus_true": paired_difference(two, true_box).to_json(),
            "mean_iou": float(np.mean(ious)),
            "iou_at_least_0.5": float(np.mean(np.array(ious) >= 0.5)),
            "second_pass_share": float(np.mean(np.array(passes) == 2)),
            "seconds_per_scene": float(np.median(seconds)),
        }
    return out


def record(result: dict, run_dir: Path, command: str) -> Path:
    """Write the docs/figures record of :func:`measure`'s result; returns its path."""

    def pct(f):
        return share_text(f["top1"], *f["ci"])

    rows = [["car fills the frame (the crop)", str(result["photos"]), pct(result["crop"]), "", "", "", "", ""]]
    for share, s in result["shares"].items():
        rows.append(
            [
                f"{float(share):.0%} of a 12 MP scene's width",
                str(s["scenes"]),
                pct(s["one_pass"]),
                pct(s["two_pass"]),
                pct(s["true_box"]),
                paired_text(s["two_minus_one"]),
                paired_text(s["two_minus_true"]),
                f"{s['mean_iou']:.2f} ({s['second_pass_share']:.0%} pass 2)",
            ]
        )
    columns = [
        "where the car is",
        "scenes",
        "one pass",
        "two passes",
        "true box",
        "two minus one (paired)",
        "two minus true box (paired)",
        "box IoU",
    ]
    return write_record(
        "find-the-car",
        20,
        "Find the car: one pass, two passes, the true box (12 MP scenes)",
        command,
        result["photos"],
        f"{run_dir.name}: its {result['photos']} test photos (never trained on), each pasted into "
        f"{result['scenes_per_photo']} composite 4032 x 3024 scenes per width share; top-1, 10 classes",
        {"columns": columns, "rows": rows},
        [
            "Scenes of one photo are not independent; the intervals treat them as if they were.",
            "Raw result: " + json.dumps(result),
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    result = measure(args.run_dir, args.scenes, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(result, indent=1))
    if args.record:
        print(f"written {record(result, args.run_dir, ' '.join(['python', *sys.argv]))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
