"""The reference resize: an integer box pre-reduction, then MediaPipe's bilinear, to ``S x S``.

This is the resize every carspotter model is trained and checked with, and what the bundle's
Swift, Kotlin and JavaScript packages port bit for bit (checked on the golden set's resize
vectors, :mod:`carspotter.contracts.resize_vectors`). Two steps, both pure integer arithmetic on
8-bit RGB, so any language reproduces them exactly:

1. **Box pre-reduction** (:func:`box_reduce`), the antialiasing. On each axis separately the
   factor is ``k = max(1, side // S)`` (``kx`` from the width, ``ky`` from the height), so an
   axis shorter than ``2 x S`` is left as it is. The photo is cut into ``kx x ky`` boxes from the
   top-left corner; the last column and row of boxes may be narrower (``W % kx`` columns,
   ``H % ky`` rows) and keep what they have, so the reduced photo is ``ceil(W / kx) x
   ceil(H / ky)``. Each output value is the box's mean, rounded half up in integers:
   ``(sum + n // 2) // n`` with ``n`` the number of pixels in that box (``kx * ky`` or fewer at
   the right and bottom edges). A 4032 x 3024 photo (12 MP) at S = 299 has ``kx = 13``,
   ``ky = 10`` and becomes 311 x 303; 8064 x 6048 (48 MP) has 26 x 20 and becomes 311 x 303.
2. **Bilinear without antialiasing** (:func:`bilinear`) exactly as MediaPipe Tasks'
   ``ImageClassifier`` does on the CPU: OpenCV 4's ``warpPerspective`` from the image's corners
   to the output's, ``INTER_LINEAR`` with OpenCV's fixed-point weights (1/32 pixel), edge
   pixels replicated; output pixel ``x`` samples ``x * w / S`` (the mapping ONNX calls
   *asymmetric*). After step 1 it scales by less than 2 on every axis that was reduced, so no
   source pixel is skipped.

Why (measured, docs/figures-history.md "Camera photos"): the model is trained on photos of at most a
few hundred pixels; a 13x bilinear step samples one pixel in 169 and aliases ("a 4032-px photo
squashed to 299 px is mush"). Averaging the boxes first is the simplest antialiasing that is
exact in integers. Pillow's ``Image.reduce`` does the same boxes but rounds through a
fixed-point reciprocal (one level lower on some pixels, measured), and OpenCV's ``INTER_AREA``
likewise, so neither can be the portable definition; NumPy does the sums here.

Photos with both sides below ``2 x S`` are unchanged by step 1: bare MediaPipe (the whole photo
handed to ``ImageClassifier``) still equals the reference on them. On larger photos the
Android package reduces first and hands MediaPipe the reduced pixels.
"""

from __future__ import annotations

import numpy as np

REDUCTION = {
    "method": "integer box average per axis before the bilinear step: k = max(1, side // S) on each axis, "
    "boxes from the top-left, the last box on an axis keeps the remaining side % k pixels, "
    "value = (sum + n // 2) // n over the n pixels of the box (mean rounded half up); "
    "sides below 2 x S unchanged",
    "reduced_size": "ceil(W / kx) x ceil(H / ky)",
}
"""The record of step 1 for run.json and the manifest (``preprocessing.resize.reduction``)."""


def box_factors(width: int, height: int, size: int) -> tuple[int, int]:
    """``(kx, ky)``: the box reduction's factor on each axis, ``max(1, side // size)``.

    Args:
        width, height: the upright photo's size in pixels.
        size: the model's input side S in pixels.
    """
    return max(1, width // size), max(1, height // size)


def box_reduce(rgb, size: int) -> np.ndarray:
    """Step 1: average ``kx x ky`` boxes (:func:`box_factors`), rounded half up in integers.

    Args:
        rgb: ``[H, W, C]`` uint8 array (C = 3 for RGB), or an RGB ``PIL.Image.Image``.
        size: the model's input side S in pixels.

    Returns:
        ``[ceil(H / ky), ceil(W / kx), C]`` uint8; the photo itself as an array when ``kx == ky == 1``.

    Memory: one strip of ``ky`` rows is read and summed at a time (uint32), so beside the decoded photo a
    48 MP photo needs a few MiB (a Pillow image is read strip by strip, never copied whole into NumPy).
    """
    w, h = rgb.size if hasattr(rgb, "getbands") else (rgb.shape[1], rgb.shape[0])
    kx, ky = box_factors(w, h, size)
    if kx == 1 and ky == 1:
        return np.asarray(rgb, dtype=np.uint8)
    strip = (
        (lambda top, rows: np.asarray(rgb.crop((0, top, w, top + rows)), dtype=np.uint8))
        if hasattr(rgb, "getbands")
        else (lambda top, rows: rgb[top : top + rows])
    )
    starts = np.arange(0, w, kx)
    widths = np.minimum(starts + kx, w) - starts
    out = None
    for i, top in enumerate(range(0, h, ky)):
        rows = min(ky, h - top)
        sums = np.add.reduceat(strip(top, rows).sum(axis=0, dtype=np.uint32), starts, axis=0)
        n = (widths * rows)[:, None].astype(np.uint32)
        if out is None:
            out = np.empty((-(-h // ky), len(starts), sums.shape[1]), np.uint8)
        out[i] = (sums + n // 2) // n
    return out


def bilinear(rgb: np.ndarray, size: int) -> np.ndarray:
    """Step 2: stretch to ``size x size`` exactly as MediaPipe Tasks does on the CPU.

    MediaPipe's ``ImageToTensorCalculator`` (OpenCV converter,
    ``mediapipe/calculators/tensor/image_to_tensor_converter_opencv.cc``) maps the region of
    interest's corners (``cv::boxPoints`` of the whole image: bottom-left, top-left, top-right,
    bottom-right) onto the output's with ``cv::getPerspectiveTransform`` and samples with
    ``cv::warpPerspective(INTER_LINEAR, BORDER_REPLICATE)`` on the 8-bit image; this does the same
    with the same library, so the pixels are identical (``tests/test_reference_resize.py`` checks
    it against MediaPipe itself). OpenCV 5 rounds otherwise (up to 4 levels): pinned below 5.

    Args:
        rgb: ``[H, W, 3]`` uint8.
        size: output side in pixels.

    Returns:
        ``[size, size, 3]`` uint8 RGB.
    """
    import cv2

    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    corners = np.float32([[0, h], [0, 0], [w, 0], [w, h]])
    target = np.float32([[0, size], [0, 0], [size, 0], [size, size]])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def resize(image, size: int) -> np.ndarray:
    """The reference resize: :func:`box_reduce`, then :func:`bilinear`.

    Args:
        image: upright RGB ``PIL.Image.Image`` or ``[H, W, 3]`` uint8 array, any size.
        size: output side S in pixels (299 for InceptionV3's default).

    Returns:
        ``[size, size, 3]`` uint8 RGB array.
    """
    return bilinear(box_reduce(image, size), size)
