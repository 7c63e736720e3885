"""What two passes cost: ``carspotter benchmark``'s two-pass table for a file with the localizer's box output.

On a generated 4032 x 3024 photo (12 MP, :func:`carspotter.contracts.resize_vectors.generated_photo`; the pixels do
not change the cost), each step of :func:`carspotter.model.localizer.two_pass` timed on its own, median of ``runs``
after one warm-up: the reference resize of the whole photo, pass 1 (probabilities and box from one run of the file:
``Session.infer_with_box``), the box logic with the ROI's cut and resize, pass 2. The ROI is the box a car at half the
frame's width would get (``0.25, 0.25, 0.75, 0.75``), so pass 2 always runs: the cost when the car is small.
"""

from __future__ import annotations

import numpy as np

from carspotter.contracts.resize_vectors import generated_photo
from carspotter.model.reference_resize import resize
from carspotter.model.roi import Roi, cut
from carspotter.model.two_pass import box_to_roi
from carspotter.util.timing import median_ms

PHOTO = (4032, 3024)
BOX = np.array([0.25, 0.25, 0.75, 0.75], np.float32)


def two_pass_cost(session, size: int, runs: int = 5) -> dict:
    """Median milliseconds of each step of two passes with ``session`` (a file with the box output) at input side S.

    Returns:
        ``{"photo", "runs", "ms": {"resize", "pass1", "roi", "pass2", "total"}, "vs_one_pass"}`` where ``vs_one_pass``
        is total / (resize + pass 1).
    """
    photo = generated_photo(*PHOTO, seed=7)
    whole = resize(photo, size)[None]
    roi = box_to_roi(BOX, Roi(0, 0, *PHOTO))
    inside = resize(cut(photo, roi), size)[None]
    ms = {
        "resize": median_ms(lambda: resize(photo, size), runs, warmup=1),
        "pass1": median_ms(lambda: session.infer_with_box(whole), runs, warmup=1),
        "roi": median_ms(lambda: resize(cut(photo, box_to_roi(BOX, Roi(0, 0, *PHOTO))), size), runs, warmup=1),
        "pass2": median_ms(lambda: session.infer(inside), runs, warmup=1),
    }
    ms["total"] = sum(ms.values())
    return {
        "photo": f"{PHOTO[0]} x {PHOTO[1]}",
        "runs": runs,
        "ms": {k: round(v, 1) for k, v in ms.items()},
        "vs_one_pass": round(ms["total"] / (ms["resize"] + ms["pass1"]), 2),
    }
