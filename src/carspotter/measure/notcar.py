"""Photos that are not cars, to measure how a car model scores what users also point cameras at.

Two documented sets, both with no download:

- ``skimage``: the natural photos and scans that ship inside scikit-image's wheel
  (``skimage.data``, BSD-3-Clause; each image's origin is in ``skimage/data/README.txt``):
  an astronaut, a cat, a cup of coffee, a rocket, a motorcycle, a clock, coins, a camera
  man, the moon, a retina, a microscope slide, bricks, grass, gravel, a page of text, the
  Hubble deep field, the scikit-image logo. Grey images are repeated to RGB; the logo's
  alpha is composited on white as :mod:`carspotter.model.photos` does.
- ``synthetic`` (seeded, 299-px): flat colours (black, white, mid grey, red, green, blue,
  sky blue, asphalt grey), uniform and Gaussian noise, smoothed noise blobs, a horizontal
  and a diagonal gradient, a checkerboard, stripes.

Every image is resized with :func:`carspotter.model.photos.resize`, the reference preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle_left",
    "clock",
    "coins",
    "camera",
    "moon",
    "retina",
    "immunohistochemistry",
    "brick",
    "grass",
    "gravel",
    "page",
    "hubble_deep_field",
    "logo",
)
"""``skimage.data`` images used (``motorcycle_left`` is the left view of ``stereo_motorcycle``)."""

FLAT_COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 30, 30),
    "green": (30, 160, 60),
    "blue": (30, 60, 200),
    "sky": (135, 190, 235),
    "asphalt": (70, 72, 75),
}

SYNTHETIC_SIDE = 299
SYNTHETIC_SEED = 2017


@dataclass
class NotCar:
    """One non-car image.

    Attributes:
        name: e.g. ``skimage/coffee`` or ``synthetic/noise-uniform``.
        source: ``skimage`` or ``synthetic``.
        pixels: ``[H, W, 3]`` uint8 RGB at its own size.
    """

    name: str
    source: str
    pixels: np.ndarray


def _skimage_image(name: str) -> np.ndarray:
    import skimage.data

    im = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
    im = np.asarray(im)
    if im.ndim == 2:
        im = np.repeat(im[:, :, None], 3, axis=2)
    if im.shape[2] == 4:
        rgba = Image.fromarray(im.astype(np.uint8), "RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return im.astype(np.uint8)


def skimage_photos() -> list[NotCar]:
    """The :data:`SKIMAGE_PHOTOS` images.

    Raises:
        ImportError: scikit-image is not installed (it is a dependency of carspotter).
    """
    return [NotCar(f"skimage/{n}", "skimage", _skimage_image(n)) for n in SKIMAGE_PHOTOS]


def synthetic_photos(side: int = SYNTHETIC_SIDE, seed: int = SYNTHETIC_SEED) -> list[NotCar]:
    """The synthetic set described in the module docstring, ``[side, side, 3]`` uint8 each."""
    rng = np.random.default_rng(seed)
    out = [
        NotCar(f"synthetic/flat-{k}", "synthetic", np.full((side, side, 3), rgb, np.uint8))
        for k, rgb in FLAT_COLOURS.items()
    ]
    out.append(NotCar("synthetic/noise-uniform", "synthetic", rng.integers(0, 256, (side, side, 3), dtype=np.uint8)))
    gauss = np.clip(rng.normal(128, 40, (side, side, 3)), 0, 255).astype(np.uint8)
    out.append(NotCar("synthetic/noise-gaussian", "synthetic", gauss))
    small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    blobs = np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC))
    out.append(NotCar("synthetic/noise-blobs", "synthetic", blobs))
    ramp = np.linspace(0, 255, side)
    out.append(
        NotCar(
            "synthetic/gradient-horizontal",
            "synthetic",
            np.repeat(np.repeat(ramp[None, :, None], side, 0), 3, 2).astype(np.uint8),
        )
    )
    diag = (ramp[:, None] + ramp[None, :]) / 2
    out.append(
        NotCar(
            "synthetic/gradient-diagonal",
            "synthetic",
            np.stack([diag, 255 - diag, np.full_like(diag, 128)], axis=2).astype(np.uint8),
        )
    )
    yy, xx = np.mgrid[:side, :side]
    checker = (((yy // 16) + (xx // 16)) % 2 * 255).astype(np.uint8)
    out.append(NotCar("synthetic/checkerboard", "synthetic", np.repeat(checker[:, :, None], 3, 2)))
    stripes = ((xx // 6) % 2 * 200 + 30).astype(np.uint8)
    out.append(NotCar("synthetic/stripes", "synthetic", np.repeat(stripes[:, :, None], 3, 2)))
    return out


def not_car_set(size: int) -> tuple[list[str], list[str], np.ndarray]:
    """Both sets as model inputs.

    Args:
        size: S, the model's input side.

    Returns:
        ``(names, sources, pixels)``: ``pixels`` ``[N, S, S, 3]`` uint8 RGB, resized by
        :func:`carspotter.model.photos.resize`.
    """
    from carspotter.model.photos import resize

    items = skimage_photos() + synthetic_photos()
    pixels = np.stack([resize(Image.fromarray(i.pixels, "RGB"), size) for i in items])
    return [i.name for i in items], [i.source for i in items], pixels
