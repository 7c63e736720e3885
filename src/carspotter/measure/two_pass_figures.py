"""Figures of two-pass recognition on labelled photos: what ``carspotter evaluate --two-pass`` adds to a column.

For each photo file, decoded again at full resolution, :func:`carspotter.model.localizer.two_pass` (pass 1 on the
photo, pass 2 on the localizer's box when the car is small); the column's usual figures
(:func:`carspotter.measure.evaluation.column_figures`) on the two-pass answers, how often pass 2 ran, and — when
the photos have boxes (a CSV's ``x0,y0,x1,y1``, the devkit's) — the IoU of the box used with the given one (the
whole photo counts as the box when no pass 2 ran).
"""

from __future__ import annotations

import numpy as np

from carspotter.measure.evaluation import column_figures
from carspotter.measure.intervals import wilson
from carspotter.model import photos
from carspotter.model.localizer import two_pass
from carspotter.model.roi import Roi, iou


def two_pass_column(
    infer, paths, truth, size: int, labels: list[str], threshold=None, negative=None, annotated=None, names=None
) -> dict:
    """The ``two_pass`` object of one evaluate column.

    Args:
        infer: ``[N, S, S, 3] uint8 -> (probabilities [N, C], box [N, 4])``.
        paths: N photo files; truth: ``[N]`` class indices; size: S.
        labels, threshold, negative: as :func:`carspotter.measure.evaluation.column_figures` takes them.
        annotated: N given boxes (ROI convention, None entries) or None.
        names: N photo names for the per-photo list (default the file names).

    Returns:
        column figures plus ``second_pass`` (count, share, Wilson interval), ``iou`` (when boxes are given: n, mean,
        median, share at IoU >= 0.5 with its Wilson interval) and ``photos`` (name, ROI used or None, passes).
    """
    probs, used, per_photo = [], [], []
    for i, path in enumerate(paths):
        image = photos.decode_rgb(path)
        answer = two_pass(infer, image, size)
        probs.append(answer.probabilities)
        used.append(answer.roi or Roi(0, 0, *image.size))
        per_photo.append(
            {
                "photo": (names or [p.name for p in paths])[i],
                "roi": list(answer.roi) if answer.roi else None,
                "passes": answer.passes,
            }
        )
    figures = column_figures(np.stack(probs), truth, labels, threshold, negative)
    k = sum(p["passes"] == 2 for p in per_photo)
    figures["second_pass"] = {"count": k, "share": k / len(paths), "ci": list(wilson(k, len(paths)))}
    if annotated is not None and any(a is not None for a in annotated):
        ious = np.array([iou(u, a) for u, a in zip(used, annotated) if a is not None])
        hits = int((ious >= 0.5).sum())
        figures["iou"] = {
            "n": len(ious),
            "mean": float(ious.mean()),
            "median": float(np.median(ious)),
            "at_least_0.5": hits / len(ious),
            "at_least_0.5_ci": list(wilson(hits, len(ious))),
        }
    figures["photos"] = per_photo
    return figures
