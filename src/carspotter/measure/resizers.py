"""The resizer catalogue of the app paths: each :class:`AppPath` turns a photo file into model input as one kind of
app does (the list and what each does: :mod:`carspotter.measure.app_paths`)."""

from __future__ import annotations

from collections.abc import Mapping

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter.model import photos
from carspotter.measure.app_drivers import _npm, _npm_chromium_unavailable, _sharp, _sharp_unavailable

Pixels = Callable[[list[Path], list, int], np.ndarray]


PACKAGE_MIN_AGREEMENT = 0.995
"""Top-1 agreement with the reference the bundle's own packages must reach (their resize is the reference's, ported)."""


@dataclass(frozen=True)
class AppPath:
    """One way an app turns a photo file into model input.

    Attributes:
        name: short id (``opencv-linear``).
        client: who does it this way.
        pixels: ``(files, crop boxes, S) -> [N, S, S, 3] float32`` pixels 0..255, or None when
            the path hands whole photos to a runtime that resizes them itself (``given``) or needs the bundle
            (``bundle_pixels``).
        given: for a path that hands a format's whole-photo runtime (:attr:`FormatSpec.photo_runtime`) the photo:
            ``([H, W, 3] upright uint8, S) -> the pixels given to it``; None for the others.
        unavailable: ``() -> reason or None``.
        bundle_pixels: ``(bundle folder, files, crop boxes, S) -> [N, S, S, 3] float32``: a path that runs code
            shipped in the bundle (its npm package).
        min_agreement: this path's top-1 agreement gate, when stricter than :class:`AppGate`'s.
    """

    name: str
    client: str
    pixels: Pixels | None
    unavailable: Callable[[], str | None] = lambda: None
    bundle_pixels: Callable[[Path, list[Path], list, int], np.ndarray] | None = None
    min_agreement: float | None = None
    given: Callable[[np.ndarray, int], np.ndarray] | None = None


def _upright(path: Path, box):
    image = photos.decode_rgb(path)
    return image if box is None else photos.crop(image, box, path)


def _each(fn) -> Pixels:
    def run(files, boxes, size):
        return np.stack([np.asarray(fn(f, b, size), dtype=np.float32) for f, b in zip(files, boxes)])

    return run


def _carspotter(path, box, size):
    return photos.load_photo(path, size, box)


def _pillow_antialias(path, box, size):
    from PIL import Image

    return np.asarray(_upright(path, box).resize((size, size), Image.Resampling.BILINEAR))


def _pillow_no_antialias(path, box, size):
    from PIL import Image

    image = _upright(path, box)
    w, h = image.size
    # AFFINE maps each output pixel to (x * w / S, y * h / S) in the input; BILINEAR samples 2x2 there.
    return np.asarray(
        image.transform(
            (size, size), Image.Transform.AFFINE, (w / size, 0, 0, 0, h / size, 0), resample=Image.Resampling.BILINEAR
        )
    )


def _pillow_draft(path, box, size):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if box is None:
            im.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when still >= size
        image = photos._to_rgb(ImageOps.exif_transpose(im))
    if box is not None:
        image = photos.crop(image, box, path)
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))


def _opencv(interpolation: str):
    def run(path, box, size):
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: OpenCV cannot read it")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if box is not None:
            rgb = rgb[box[1] : box[3], box[0] : box[2]]
        return cv2.resize(rgb, (size, size), interpolation=getattr(cv2, interpolation))

    return run


def _tf_bilinear(path, box, size):
    import tensorflow as tf

    return tf.image.resize(np.asarray(_upright(path, box)), (size, size), method="bilinear", antialias=False).numpy()


def _opencv_unavailable() -> str | None:
    try:
        import cv2  # noqa: F401
    except ImportError as exc:
        return f"OpenCV cannot be imported here ({exc})"
    return None


_OWN: dict[str, AppPath] = {
    p.name: p
    for p in (
        AppPath(
            "carspotter",
            "carspotter's own decoder (Pillow decode, the reference resize): the reference's path",
            _each(_carspotter),
        ),
        AppPath("pillow-antialias", "Python app: Pillow Image.resize bilinear (antialiased)", _each(_pillow_antialias)),
        AppPath(
            "pillow-no-antialias",
            "Python app: Pillow bilinear sampling without antialiasing",
            _each(_pillow_no_antialias),
        ),
        AppPath(
            "pillow-draft", "Python app: Pillow as Image.thumbnail (JPEG draft + reducing_gap=2)", _each(_pillow_draft)
        ),
        AppPath(
            "opencv-linear",
            "Python/C++ app: OpenCV imread + resize INTER_LINEAR",
            _each(_opencv("INTER_LINEAR")),
            _opencv_unavailable,
        ),
        AppPath(
            "opencv-area",
            "Python/C++ app: OpenCV imread + resize INTER_AREA",
            _each(_opencv("INTER_AREA")),
            _opencv_unavailable,
        ),
        AppPath("tf-bilinear", "TensorFlow app: tf.image.resize bilinear, antialias=False", _each(_tf_bilinear)),
        AppPath(
            "sharp", "Node / React Native backend: sharp fill, default kernel (lanczos3)", _sharp, _sharp_unavailable
        ),
        AppPath(
            "npm-node",
            "npm package, Node + sharp decode (the bundle's npm package: its port of the reference resize)",
            None,
            _sharp_unavailable,
            bundle_pixels=_npm("node"),
            min_agreement=PACKAGE_MIN_AGREEMENT,
        ),
        AppPath(
            "npm-chromium",
            "npm package, Chromium decode (createImageBitmap, canvas RGBA, the package's resize)",
            None,
            _npm_chromium_unavailable,
            bundle_pixels=_npm("chromium"),
            min_agreement=PACKAGE_MIN_AGREEMENT,
        ),
    )
}


class _Paths(Mapping):
    """Every app path by name: this module's, with the formats' own (:attr:`~carspotter.model.format_spec.Shipping.app_paths`: the paths that hand
    a format's whole-photo runtime the photo) after ``tf-bilinear``; read from the registry on first use."""

    def __init__(self):
        self._paths: dict[str, AppPath] | None = None

    def _all(self) -> dict[str, AppPath]:
        if self._paths is None:
            from carspotter.model.formats import FORMATS

            own = list(_OWN.items())
            at = [n for n, _ in own].index("tf-bilinear") + 1
            formats = [(p.name, p) for f in FORMATS.values() for p in f.shipping.app_paths]
            self._paths = dict(own[:at] + formats + own[at:])
        return self._paths

    def __getitem__(self, name: str) -> AppPath:
        return self._all()[name]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


PATHS: Mapping[str, AppPath] = _Paths()
"""Every app path by name (see :class:`_Paths`)."""
