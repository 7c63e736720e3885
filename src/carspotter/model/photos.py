"""The one definition of what the model sees: decode, orient, convert and resize a photo.

Training, export (representative data, app READMEs), parity and every bundle's
documented preprocessing use these functions (the record of them is :attr:`carspotter.model.spec.InputSpec.preprocessing`), so a
difference between formats is never the loader's.

Steps, in order (all with Pillow):

1. Open with Pillow's decompression-bomb limit left on (``Image.MAX_IMAGE_PIXELS``;
   the warning above it is treated as an error too); animated files use frame 0.
2. Apply the EXIF orientation tag (``ImageOps.exif_transpose``), so a portrait phone
   photo reaches the model upright.
3. Convert to 8-bit RGB: 16-bit images are scaled (value >> 8), palette and grey images
   expanded, CMYK converted by Pillow, and alpha composited on white (255, 255, 255).
4. Reject photos whose shorter side is below :data:`MIN_SIDE` pixels.
5. A JPEG much larger than the input (both sides at least 2 x :data:`DRAFT_FACTOR` x the
   input side, e.g. a 12- or 48-megapixel phone photo) is decoded at 1/2, 1/4 or 1/8 scale
   inside libjpeg (Pillow's ``draft``), never below 4 x the input side; such a JPEG may also
   exceed Pillow's pixel limit up to twice over, since it is never held at full size. The
   DCT-domain reduction averages while the resize of step 6 samples, so the input differs
   from resizing the full decode by a mean of 1.7 (12 MP) to 2.5 (48 MP) levels of 255, max 50
   to 77, on upscaled real photos; 7.3 / 45 on pixel-level noise. On the 598 original-size
   Stanford photos (none large enough for the shipped factor), reducing down to 1 x the input
   side changed 38 inputs, 7 top-1 of a 20-class model and 19 top-3 orders; down to 2 x, one
   input and no top-1 (``tests/benchmarks/bench_large_photos.py``). Decode + resize time drops
   3 to 8x and peak memory from 523 to 87 MiB at 48 MP. App-side resizers
   (:mod:`carspotter.measure.app_paths`) and crop boxes always decode every pixel.
6. Resize to ``size x size`` by stretching (aspect ratio not kept) exactly as MediaPipe Tasks'
   ``ImageClassifier`` does on the CPU (the Android path): OpenCV 4's ``warpPerspective`` from the
   whole image's corners to the input's corners, bilinear (``INTER_LINEAR``, OpenCV's fixed-point
   weights at 1/32 pixel), no antialiasing, edge pixels replicated. Output pixel ``x`` samples the
   photo at ``x * w / S`` (the mapping ONNX and TensorRT call *asymmetric*; not pixel centres, and not ``align_corners``, which is ``x * (w-1) / (S-1)``). Verified bit for bit against
   MediaPipe's own pixels (``tests/test_reference_resize.py``, a probe model whose outputs are
   its input); OpenCV 5 rounds otherwise (up to 4 levels), hence the pin below 5. Chosen over
   Pillow's antialiased bilinear (the previous reference) by the numbers in docs/app-paths.md ("App
   paths"): with it, MediaPipe's resize left 82 to 93 % top-1 agreement on original-size photos;
   now MediaPipe is the reference. Other resizers (Vision's ``.scaleFill``, OpenCV ``resize``,
   Pillow, sharp) still differ; :mod:`carspotter.measure.app_paths` measures them.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from carspotter.util.errors import PhotoError

MIN_SIDE = 32
"""Smallest accepted shorter side of a decoded photo, in pixels."""

def _register_heif() -> None:
    """Let Pillow open HEIC / HEIF (iPhone photos since iOS 11) through ``pillow-heif``
    (BSD-3-Clause; its wheels bundle libheif, LGPL-3.0, and libde265). pillow-heif applies the
    HEIF rotation and mirror (``irot`` / ``imir``) while decoding and resets the EXIF
    orientation to 1, so :func:`decode_rgb`'s EXIF transpose does not rotate a second time;
    10- and 12-bit (HDR) HEICs are brought to 8 bits per channel (its ``convert_hdr_to_8bit``
    default). AVIF is read by Pillow itself (11.3+)."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - a dependency; without it .heic files are listed as unreadable
        return
    pillow_heif.register_heif_opener()


_register_heif()

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif",
                            ".avif"})
"""File suffixes (lower case) read as photos; anything else is listed as not a photo."""

ALPHA_BACKGROUND = (255, 255, 255)
"""RGB colour transparent pixels are composited on."""

def is_hidden(name: str) -> bool:
    """True for names skipped everywhere: dot files/folders (``.DS_Store``, ``.git``) and ``__MACOSX``."""
    return name.startswith(".") or name == "__MACOSX"


def find_photos(folder: str | Path) -> list[Path]:
    """Every photo under ``folder`` (recursive, sorted by path), hidden files and folders skipped.

    A photo is a file whose suffix is in :data:`PHOTO_SUFFIXES`; whether it decodes is
    decided later by :func:`decode_rgb`.
    """
    root = Path(folder)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
                  and not any(is_hidden(part) for part in p.relative_to(root).parts))


def decode_rgb(path: str | Path, draft_for: int | None = None) -> Image.Image:
    """Decode a photo file into an upright 8-bit RGB Pillow image (steps 1 to 5 above).

    Args:
        path: any image file Pillow reads (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, and HEIC /
            HEIF through pillow-heif).
        draft_for: the model's input side (299) when the image is only going to be resized to
            it: a large JPEG is then decoded at a reduced scale (:func:`draft_scale`); None
            decodes every pixel (what the app-side resizers and the golden set need).

    Returns:
        A loaded ``PIL.Image.Image`` in mode ``"RGB"``: original size after EXIF rotation, or
        the JPEG's size divided by 2, 4 or 8 when ``draft_for`` reduced it.

    Raises:
        PhotoError: missing, empty, truncated, not an image, over Pillow's pixel limit
            (for a JPEG decoded at a reduced scale: over twice that limit), or shorter side
            below :data:`MIN_SIDE`.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise PhotoError(path, "empty file (0 bytes); replace or remove it")
    except FileNotFoundError:
        raise PhotoError(path, "no such file") from None
    except PermissionError:
        raise PhotoError(path, "not readable (permission denied)") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                big = [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
                reduced = draft_for is not None and draft_scale(im, draft_for) > 1 and _draft(im, draft_for)
                if big and not reduced:  # over Pillow's limit and decoded whole: refused as Pillow would
                    raise Image.DecompressionBombWarning(str(big[0].message))
                im.seek(0)
                im.load()
                ImageOps.exif_transpose(im, in_place=True)  # in place: no second copy of a 48 MP photo
                rgb = _to_rgb(im)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(path, f"too many pixels, refused as a possible decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise PhotoError(path, "not an image Pillow can read; remove it or convert it to JPEG/PNG") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(path, f"corrupt or truncated image ({exc}); re-download or remove it") from None
    if min(rgb.size) < MIN_SIDE:
        raise PhotoError(path, f"too small ({rgb.size[0]}x{rgb.size[1]} px; the minimum side is {MIN_SIDE} px)")
    return rgb


DRAFT_FACTOR = 4
"""A JPEG decoded at a reduced scale keeps at least this many pixels per input pixel on
each side (4 x 299 = 1,196 px). The DCT-domain reduction averages blocks; an Android app
does the like with ``BitmapFactory.Options.inSampleSize`` before MediaPipe sees the bitmap."""


def draft_scale(im: Image.Image, size: int) -> int:
    """The reduction (1, 2, 4 or 8) a JPEG is decoded at for a ``size x size`` input.

    libjpeg scales during the inverse DCT (Pillow's ``Image.draft``), so a 48-megapixel photo
    is never held at full size: the largest of 1/2, 1/4, 1/8 that keeps both sides at least
    :data:`DRAFT_FACTOR` x ``size`` is used; 1 for other formats and smaller photos. The
    result differs slightly from resizing the full decode (measured by
    ``tests/benchmarks/bench_large_photos.py``; figures in docs/figures.md).

    Args:
        im: an opened, not yet loaded image.
        size: the model's input side in pixels.
    """
    if im.format != "JPEG":
        return 1
    need = DRAFT_FACTOR * size
    return max((s for s in (8, 4, 2) if min(im.size) // s >= need), default=1)


def _draft(im: Image.Image, size: int) -> bool:
    """Ask libjpeg for a reduced-scale decode; True if it took (a JPEG with one tile)."""
    before = im.size
    im.draft(im.mode, (DRAFT_FACTOR * size,) * 2)
    return im.size != before


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB as documented in the module docstring."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        arr = np.asarray(im, dtype=np.uint32)
        if im.mode == "I" and arr.max(initial=0) <= 255:
            arr8 = arr.astype(np.uint8)
        else:
            arr8 = np.clip(arr >> 8, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB")
    if im.mode == "F":
        arr = np.clip(np.asarray(im), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, ALPHA_BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode == "RGB":
        return im
    return im.convert("RGB")


def resize(image: Image.Image | np.ndarray, size: int) -> np.ndarray:
    """Stretch an RGB image to the model's input exactly as MediaPipe Tasks does on CPU (step 6).

    MediaPipe's ``ImageToTensorCalculator`` (OpenCV converter,
    ``mediapipe/calculators/tensor/image_to_tensor_converter_opencv.cc``) maps the region of
    interest's corners (``cv::boxPoints`` of the whole image: bottom-left, top-left, top-right,
    bottom-right) onto the output's with ``cv::getPerspectiveTransform`` and samples with
    ``cv::warpPerspective(INTER_LINEAR, BORDER_REPLICATE)`` on the 8-bit image; this does the same
    with the same library, so the pixels are identical (tested against MediaPipe itself).

    Args:
        image: RGB ``PIL.Image.Image`` or ``[H, W, 3]`` uint8 array, any size.
        size: output side in pixels (299 for InceptionV3's default).

    Returns:
        ``[size, size, 3]`` uint8 RGB array.
    """
    import cv2

    rgb = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    h, w = rgb.shape[:2]
    corners = np.float32([[0, h], [0, 0], [w, 0], [w, h]])
    target = np.float32([[0, size], [0, 0], [size, 0], [size, size]])
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop(image: Image.Image, box: tuple[int, int, int, int], path: str | Path = "") -> Image.Image:
    """Crop an upright RGB image to ``box = (left, top, right, bottom)`` pixels (right/bottom
    exclusive, as ``Image.crop``), clamped to the image. Used for datasets with bounding
    boxes (Stanford Cars devkit); applied after EXIF orientation, before the resize.

    Raises:
        PhotoError: the box leaves less than :data:`MIN_SIDE` pixels on a side.
    """
    w, h = image.size
    left, top, right, bottom = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    if min(right - left, bottom - top) < MIN_SIDE:
        raise PhotoError(path, f"crop box {tuple(box)} leaves less than {MIN_SIDE} px of the {w}x{h} photo; fix the annotation")
    return image.crop((left, top, right, bottom))


def load_photo(path: str | Path, size: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Decode, optionally crop to ``box``, and resize one photo: ``[size, size, 3]`` uint8 RGB.

    A large JPEG used whole is decoded at a reduced scale (:func:`draft_scale`).

    Raises:
        PhotoError: see :func:`decode_rgb` and :func:`crop`.
    """
    if box is not None:  # crop boxes are in full-resolution pixels: decode every pixel
        return resize(crop(decode_rgb(path), box, path), size)
    return resize(decode_rgb(path, draft_for=size), size)


@dataclass
class LoadedPhotos:
    """Photos decoded for the model.

    Attributes:
        pixels: ``[N, size, size, 3]`` uint8 RGB, in the order of ``paths``.
        paths: the photos that loaded.
        skipped: ``(path, reason)`` for each photo that did not load.
    """

    pixels: np.ndarray
    paths: list[Path]
    skipped: list[tuple[Path, str]]


def iter_photos(paths, size: int, workers: int = 4, boxes=None, progress: str | None = None):
    """Decode and resize photos in parallel threads (Pillow releases the GIL), in order.

    Args:
        paths: N photo file paths.
        size: output side in pixels.
        workers: decoding threads.
        boxes: N crop boxes (or None entries), or None for whole photos.
        progress: label of the progress on stderr (:mod:`carspotter.util.progress`: a bar on a
            terminal, a log line every 30 s off one); None for none.

    Yields:
        ``(path, [size, size, 3] uint8 array or None, reason or None)`` per photo.
    """
    paths = [Path(p) for p in paths]
    boxes = boxes if boxes is not None else [None] * len(paths)

    def one(item):
        p, box = item
        try:
            return p, load_photo(p, size, box), None
        except PhotoError as exc:
            return p, None, exc.reason

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(one, zip(paths, boxes))
        if progress:
            from carspotter.util.progress import progress as show

            results = show(results, len(paths), progress)
        yield from results


def load_photos(paths, size: int, workers: int = 4, progress: str | None = None, boxes=None) -> LoadedPhotos:
    """Decode and resize many photos in parallel threads (Pillow releases the GIL).

    Args:
        paths: photo file paths.
        size: output side in pixels.
        workers: decoding threads.
        progress: label for a tqdm progress bar on stderr; None for no bar.
        boxes: crop boxes, one per path (None entries for whole photos), or None.

    Returns:
        :class:`LoadedPhotos`; photos that fail are listed in ``skipped`` with the
        reason, never dropped silently.
    """
    results = list(iter_photos(paths, size, workers, boxes, progress))
    ok = [(p, px) for p, px, err in results if err is None]
    skipped = [(p, err) for p, px, err in results if err is not None]
    pixels = np.stack([px for _, px in ok]) if ok else np.zeros((0, size, size, 3), np.uint8)
    return LoadedPhotos(pixels=pixels, paths=[p for p, _ in ok], skipped=skipped)
