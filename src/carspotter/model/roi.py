"""Region of interest: which pixels of a photo the model is given.

The semantics, the same in the reference and in every package (Swift, Kotlin, JavaScript), checked on the
golden set's ROI vectors (:mod:`carspotter.contracts.resize_vectors`):

- A ROI is four integers ``x0, y0, x1, y1`` in pixels of the **upright** photo, after the EXIF orientation is
  applied (so a portrait phone photo's ROI is in portrait coordinates), origin at the top-left pixel.
- It is **half-open**: it holds the pixels with ``x0 <= x < x1`` and ``y0 <= y < y1``; its size is
  ``(x1 - x0) x (y1 - y0)``. The whole photo is ``0, 0, W, H``.
- It must lie **inside** the photo and hold at least one pixel: ``0 <= x0 < x1 <= W`` and ``0 <= y0 < y1 <= H``.
  Nothing is clipped: a ROI that is empty, reversed, negative, reaches past the photo, is not a whole number
  (``10.5``) or is not a number (NaN, infinity) is refused with one line that names the ROI, the photo's size and
  the rule. Whole numbers written as floats (``10.0``, as JavaScript has them) are accepted.
- The ROI's pixels are cut out **at full resolution, before the box pre-reduction**, and the reference resize
  (:mod:`carspotter.model.reference_resize`) runs on them as if they were the photo: the box factors come from
  the ROI's size, the boxes start at its top-left pixel, and the bilinear step replicates the ROI's own edge
  pixels. No pixel outside the ROI ever reaches the model.

Where a ROI comes from: the user (``carspotter predict --roi``, an app's crop UI or a platform detector), a
dataset's boxes (a CSV's ``x0,y0,x1,y1`` columns, the Stanford Cars devkit's), or the localizer in two-pass
recognition (:mod:`carspotter.model.two_pass`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from carspotter.util.errors import UsageError

RULE = "0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, whole pixels of the upright photo, half-open"
"""The rule a ROI must meet, as error messages and the manifest state it."""


class RoiError(UsageError):
    """A ROI that breaks :data:`RULE`; the message is one line naming the ROI, the photo's size and the rule."""


class Roi(NamedTuple):
    """A checked region of interest: ``x0 <= x < x1``, ``y0 <= y < y1`` in upright-photo pixels."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        """Width in pixels, ``x1 - x0`` (at least 1)."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Height in pixels, ``y1 - y0`` (at least 1)."""
        return self.y1 - self.y0

    def text(self) -> str:
        """``"x0,y0,x1,y1"``, as ``--roi`` takes it."""
        return f"{self.x0},{self.y0},{self.x1},{self.y1}"


def _shown(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value, name: str, shown: str) -> int:
    if isinstance(value, bool):
        raise RoiError(f"ROI {shown}: {name} is a boolean, not a pixel coordinate; {RULE}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RoiError(f"ROI {shown}: {name} = {value!r} is not a number; {RULE}") from None
    if math.isnan(number) or math.isinf(number):
        raise RoiError(f"ROI {shown}: {name} is {number}, not a pixel coordinate; {RULE}")
    if number != math.floor(number):
        raise RoiError(f"ROI {shown}: {name} = {number} is not a whole pixel; {RULE}")
    return int(number)


def check_roi(roi, width: int, height: int) -> Roi:
    """Check a ROI against a ``width x height`` upright photo and return it as a :class:`Roi`.

    Args:
        roi: four numbers ``(x0, y0, x1, y1)`` (ints, or floats holding whole numbers), a :class:`Roi`, or a string
            ``"x0,y0,x1,y1"`` (:func:`parse_roi`).
        width, height: the upright photo's size in pixels.

    Raises:
        RoiError: not four numbers, not whole, NaN or infinite, negative, empty or reversed, or past the photo's edge.
    """
    if isinstance(roi, str):
        roi = parse_roi(roi)
    try:
        values = list(roi)
    except TypeError:
        raise RoiError(f"ROI {roi!r}: not four numbers x0,y0,x1,y1; {RULE}") from None
    shown = "(" + ", ".join(_shown(v) for v in values) + ")"
    if len(values) != 4:
        raise RoiError(f"ROI {shown}: {len(values)} numbers, not four (x0, y0, x1, y1); {RULE}")
    x0, y0, x1, y1 = (_whole(v, n, shown) for v, n in zip(values, ("x0", "y0", "x1", "y1")))
    size = f"the {width}x{height} photo"
    if min(x0, y0, x1, y1) < 0:
        raise RoiError(f"ROI {shown} has a negative coordinate; it must lie inside {size}: {RULE}")
    if x1 <= x0 or y1 <= y0:
        raise RoiError(f"ROI {shown} is empty (x1 <= x0 or y1 <= y0); it must hold at least one pixel: {RULE}")
    if x1 > width or y1 > height:
        raise RoiError(f"ROI {shown} reaches outside {size} (x1 <= {width}, y1 <= {height}); {RULE}")
    return Roi(x0, y0, x1, y1)


def parse_roi(text: str) -> tuple:
    """``"x0,y0,x1,y1"`` (commas or spaces) as four floats, unchecked; :func:`check_roi` checks them.

    Raises:
        RoiError: not four numbers.
    """
    parts = [p for p in text.replace(",", " ").split() if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise RoiError(f"ROI {text!r}: not four numbers x0,y0,x1,y1; {RULE}") from None
    if len(values) != 4:
        raise RoiError(f"ROI {text!r}: {len(values)} numbers, not four (x0,y0,x1,y1); {RULE}")
    return values


def cut(image, roi: Roi):
    """The ROI's pixels of an upright image, at full resolution.

    Args:
        image: ``PIL.Image.Image`` (RGB) or ``[H, W, C]`` uint8 array.
        roi: a checked :class:`Roi` (see :func:`check_roi`).

    Returns:
        the same kind as ``image``: ``[roi.height, roi.width, C]`` (an array view, or a cropped Pillow image).
    """
    if hasattr(image, "getbands"):
        return image.crop(tuple(roi))
    return image[roi.y0 : roi.y1, roi.x0 : roi.x1]


def iou(a, b) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)`` (half-open, any units): 0..1, 0 when both are empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
