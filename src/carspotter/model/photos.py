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
5. Every pixel is decoded (no JPEG DCT-domain "draft" scaling, which no app can reproduce):
   what the reference computes is what an app that decodes the file computes. Pillow's
   decompression-bomb guard stays on at its hard limit (``2 x Image.MAX_IMAGE_PIXELS``,
   178,956,970 px): a 48 MP (8064 x 6048) or 108 MP (12000 x 9000) phone photo is read, a 200 MP
   one is refused. Cost, measured (``tests/benchmarks/bench_camera_photos.py``, docs/figures-history.md
   "Camera photos"): see :data:`MAX_PIXELS`.
6. Resize to ``size x size`` by stretching (aspect ratio not kept) with the reference resize,
   :func:`carspotter.model.reference_resize.resize`: an integer box pre-reduction (the
   antialiasing; sides below 2 x S untouched), then MediaPipe Tasks' own bilinear (OpenCV 4
   ``warpPerspective``, no antialiasing). Exactly specified there and ported bit for bit to the
   bundle's Swift, Kotlin and JavaScript packages.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from carspotter.model.reference_resize import resize
from carspotter.model.roi import RoiError, check_roi, cut
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

PHOTO_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
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
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in PHOTO_SUFFIXES
        and not any(is_hidden(part) for part in p.relative_to(root).parts)
    )


def decode_rgb(path: str | Path) -> Image.Image:
    """Decode every pixel of a photo file into an upright 8-bit RGB Pillow image (steps 1 to 5 above).

    Args:
        path: any image file Pillow reads (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, and HEIC /
            HEIF through pillow-heif).

    Returns:
        A loaded ``PIL.Image.Image`` in mode ``"RGB"``, at the file's size after EXIF rotation.

    Raises:
        PhotoError: missing, empty, truncated, not an image, over :data:`MAX_PIXELS`, or
            shorter side below :data:`MIN_SIDE`.
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
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: the warning is allowed
            # (a 108 MP phone photo), the error is the guard.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.seek(0)
                im.load()
                ImageOps.exif_transpose(im, in_place=True)  # in place: no second copy of a 48 MP photo
                rgb = _to_rgb(im)
    except Image.DecompressionBombError as exc:
        raise PhotoError(
            path,
            f"too many pixels, refused as a possible decompression bomb ({exc}); scale it down below 178 megapixels",
        ) from None
    except UnidentifiedImageError:
        raise PhotoError(path, "not an image Pillow can read; remove it or convert it to JPEG/PNG") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(path, f"corrupt or truncated image ({exc}); re-download or remove it") from None
    if min(rgb.size) < MIN_SIDE:
        raise PhotoError(path, f"too small ({rgb.size[0]}x{rgb.size[1]} px; the minimum side is {MIN_SIDE} px)")
    return rgb


MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
"""Largest photo decoded, in pixels (Pillow's decompression-bomb error threshold, 178,956,970 with
Pillow's default limit). Decoding every pixel and the reference resize cost, measured on the 2-core
development machine (median of 3 fresh processes; peak resident memory): 12 MP 0.14 s and 104 MiB,
48 MP 0.45 s and 244 MiB, 108 MP 1.2 s and 470 MiB (``tests/benchmarks/bench_camera_photos.py``,
docs/figures-history.md "Camera photos")."""


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


def crop(image: Image.Image, box, path: str | Path = "") -> Image.Image:
    """Cut an upright RGB image to a region of interest, at full resolution, before the resize.

    Args:
        image: the upright photo (after EXIF orientation, :func:`decode_rgb`).
        box: ``(x0, y0, x1, y1)`` whole pixels, half-open, inside the photo: the ROI semantics of
            :mod:`carspotter.model.roi` (nothing is clipped).
        path: the photo's file, named in the error.

    Raises:
        PhotoError: the ROI breaks :data:`carspotter.model.roi.RULE` (one line naming the file, the ROI and the rule).
    """
    try:
        checked = check_roi(box, *image.size)
    except RoiError as exc:
        raise PhotoError(path, str(exc)) from None
    return cut(image, checked)


def load_photo(path: str | Path, size: int, box=None) -> np.ndarray:
    """Decode, optionally cut to a region of interest ``box``, and resize one photo: ``[size, size, 3]`` uint8 RGB.

    Every pixel is decoded, the ROI (:mod:`carspotter.model.roi`) is cut at full resolution, then the reference
    resize (:func:`carspotter.model.reference_resize.resize`) runs on the ROI's pixels.

    Raises:
        PhotoError: see :func:`decode_rgb` and :func:`crop`.
    """
    image = decode_rgb(path)
    return resize(crop(image, box, path) if box is not None else image, size)


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
