"""Two-pass recognition's box logic: from the localizer's box to the region the second pass classifies.

Pass 1 runs the model on the photo (or on the ROI the caller gave); its ``box`` output is the car's box as four
probabilities-like numbers ``x0, y0, x1, y1`` in 0..1 of that input (which is the region stretched to S x S, so
0..1 of the region on each axis). :func:`box_to_roi` turns it into a ROI of whole photo pixels
(:mod:`carspotter.model.roi`); when :func:`needs_second_pass` says the car is small, pass 2 classifies that ROI
at full resolution and the answer says which ROI it used.

Every step is stated so that Swift, Kotlin and JavaScript compute the same integers (checked on the golden set's
box vectors, :mod:`carspotter.contracts.box_vectors`):

1. The four float32 outputs are widened to float64 exactly. Any NaN or infinity: no box (the answer is pass 1's).
2. Each is clamped to ``[0, 1]``.
3. With the region ``(rx0, ry0, rx1, ry1)`` of width ``rw`` and height ``rh``:
   ``px0 = rx0 + floor(x0 * rw)``, ``px1 = rx0 + ceil(x1 * rw)``, likewise ``py0, py1`` with ``ry0`` and ``rh``
   (one float64 product each, then floor / ceil).
4. If ``px1 - px0 < MIN_BOX_SIDE`` or ``py1 - py0 < MIN_BOX_SIDE`` (a reversed box included): no box.
5. Pass 2 runs when :func:`needs_second_pass`: the ROI is below ``SECOND_PASS_BELOW`` of the region on either
   side, in integers ``roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9``. A box (nearly) filling the region would
   classify nearly the same pixels twice.

The constants were fixed before any localizer was measured with them (2026-12-07). A margin of 1/8 of the box's
side on each side (step 5 until 2026-12-07) was dropped after a measurement on validation scenes, never the test
scenes the figures use: on 90 scenes per width made from the 10-class run's validation photos, two-pass top-1 was
30.0 % / 26.7 % with the margin and 34.4 % / 32.2 % without it (50 % / 30 % of the width; given the true box,
35.6 % / 37.8 %), and the box IoU 0.65 / 0.54 against 0.75 / 0.62: the localizer's boxes do not cut the car
short, the margin only added background. Changing them changes the box vectors, and every package with them.
"""

from __future__ import annotations

import math

from carspotter.model.roi import Roi

MIN_BOX_SIDE = 8
"""Smallest box side, in photo pixels, taken as a car (step 4); below it the localizer found nothing usable."""

SECOND_PASS_BELOW = (9, 10)
"""Pass 2 runs when the ROI is below 9/10 of the region's width or of its height (step 5)."""

RULE = (
    "box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), clamped to 0..1; "
    "px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; "
    "pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9"
)
"""The box logic in one line, for the manifest (``two_pass.rule``) and the package READMEs."""


def box_to_roi(box, region: Roi) -> Roi | None:
    """The ROI pass 2 classifies, from pass 1's box output (steps 1 to 4 of the module docstring).

    Args:
        box: 4 numbers ``x0, y0, x1, y1`` in 0..1 of ``region`` (the model's ``box`` output, float32).
        region: what pass 1 saw, in upright-photo pixels (``Roi(0, 0, W, H)`` for the whole photo).

    Returns:
        the ROI in upright-photo pixels, inside ``region``; None when the box is not finite or too small.
    """
    values = [float(v) for v in box]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return None
    x0, y0, x1, y1 = (min(1.0, max(0.0, v)) for v in values)
    px0, px1 = region.x0 + math.floor(x0 * region.width), region.x0 + math.ceil(x1 * region.width)
    py0, py1 = region.y0 + math.floor(y0 * region.height), region.y0 + math.ceil(y1 * region.height)
    if px1 - px0 < MIN_BOX_SIDE or py1 - py0 < MIN_BOX_SIDE:
        return None
    return Roi(px0, py0, px1, py1)


def needs_second_pass(roi: Roi | None, region: Roi) -> bool:
    """True when pass 2 should classify ``roi``: a box was found and it is below 9/10 of ``region`` on a side (step 5)."""
    if roi is None:
        return False
    num, den = SECOND_PASS_BELOW
    return roi.width * den < region.width * num or roi.height * den < region.height * num
