"""Street-photo stand-ins with exact boxes: car crops pasted into scenes (copy-paste composites).

The photos the project has are cropped to the car; the photos users take are not. Pasting a crop into a larger
scene at a known place gives a photo where the car is a part of the frame *and* its exact box, for free: what a
localizer is trained on (:mod:`carspotter.train.localizer`) and what one pass, two passes and the true box are
measured on (``carspotter evaluate --composites``). Copy-paste augmentation: Dwibedi, Misra, Hebert, "Cut, Paste and
Learn", ICCV 2017; Ghiasi et al., "Simple Copy-Paste is a Strong Data Augmentation Method", CVPR 2021.

A scene, given a car crop, a seed and the car's share of the scene's width:

1. **Background**: a real photo that is not a car (scikit-image's sample images) or a synthetic texture
   (:mod:`carspotter.measure.notcar`), a random window of it, blurred (Gaussian, sigma 2 px at its own size) and
   stretched to the scene's size, so that it is out of focus as behind a car photographed at a few metres.
2. **Distractors**: 0 to 3 sharp rectangles cut from other backgrounds, each 5 to 20 % of the scene's width, anywhere
   (the car is pasted after them, so its box stays exact).
3. **The car**: resized (OpenCV ``INTER_AREA`` down, ``INTER_CUBIC`` up) to the given share of the scene's width,
   aspect kept (its height capped at the scene's), at a uniform random place where it fits whole.

Scenes are 4:3 landscape (4032 x 3024 is a 12 MP phone photo) unless a size is given. The box is a
:class:`carspotter.model.roi.Roi` of the scene: half-open pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from carspotter.model.roi import Roi

SCENE_12MP = (4032, 3024)
"""A 12 MP phone photo, landscape: width x height in pixels."""


@dataclass(frozen=True)
class Scene:
    """One composite: ``pixels`` ``[H, W, 3]`` uint8 RGB, ``box`` the car's exact box, ``background`` its source name."""

    pixels: np.ndarray
    box: Roi
    background: str


@lru_cache(maxsize=1)
def backgrounds() -> tuple[tuple[str, np.ndarray], ...]:
    """``(name, [h, w, 3] uint8)``: scikit-image's non-car photos and the synthetic textures of
    :mod:`carspotter.measure.notcar` (``motorcycle_left`` excluded: a vehicle)."""
    from carspotter.measure import notcar

    found = [(n.name, n.pixels) for n in notcar.skimage_photos() + notcar.synthetic_photos()]
    return tuple((name, pixels) for name, pixels in found if "motorcycle" not in name)


def _window(image: np.ndarray, rng: np.random.Generator, aspect: float) -> np.ndarray:
    """A random window of ``image`` with width / height ``aspect``, 50 to 100 % of the largest that fits."""
    h, w = image.shape[:2]
    fit_w = min(w, h * aspect)
    ww = max(4, min(w, int(rng.uniform(0.5, 1.0) * fit_w)))
    hh = max(4, min(h, int(round(ww / aspect))))
    x, y = int(rng.integers(0, w - ww + 1)), int(rng.integers(0, h - hh + 1))
    return image[y : y + hh, x : x + ww]


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    up = width > image.shape[1] or height > image.shape[0]
    return cv2.resize(
        np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA
    )


def compose(
    car: np.ndarray, share: float, seed: int, size: tuple[int, int] = SCENE_12MP, distractors: bool = True
) -> Scene:
    """Paste ``car`` into a scene (steps 1 to 3 of the module docstring).

    Args:
        car: ``[h, w, 3]`` uint8 RGB, the car's crop.
        share: the car's width as a share of the scene's width, 0 < share <= 1.
        seed: makes background, distractors and place reproducible.
        size: the scene's ``(width, height)`` in pixels.
        distractors: paste 0 to 3 rectangles from other backgrounds first.

    Raises:
        ValueError: ``share`` outside (0, 1].
    """
    import cv2

    if not 0 < share <= 1:
        raise ValueError(f"share {share}: the car's share of the scene's width must be in (0, 1]")
    rng = np.random.default_rng(seed)
    width, height = size
    pool = backgrounds()
    name, source = pool[int(rng.integers(len(pool)))]
    back = _window(source, rng, width / height)
    back = cv2.GaussianBlur(np.ascontiguousarray(back), (0, 0), 2.0)
    scene = _resize(back, width, height)
    for _ in range(int(rng.integers(0, 4)) if distractors else 0):
        _, other = pool[int(rng.integers(len(pool)))]
        dw = max(4, int(rng.uniform(0.05, 0.2) * width))
        patch = _resize(_window(other, rng, rng.uniform(0.5, 2.0)), dw, max(4, int(dw / rng.uniform(0.5, 2.0))))
        patch = patch[:height, :width]
        py, px = int(rng.integers(0, height - patch.shape[0] + 1)), int(rng.integers(0, width - patch.shape[1] + 1))
        scene[py : py + patch.shape[0], px : px + patch.shape[1]] = patch
    cw = max(1, int(round(share * width)))
    ch = int(round(cw * car.shape[0] / car.shape[1]))
    if ch > height:  # a tall crop: cap the height, keep the aspect
        ch, cw = height, max(1, int(round(height * car.shape[1] / car.shape[0])))
    x0, y0 = int(rng.integers(0, width - cw + 1)), int(rng.integers(0, height - ch + 1))
    scene[y0 : y0 + ch, x0 : x0 + cw] = _resize(car, cw, ch)
    return Scene(scene, Roi(x0, y0, x0 + cw, y0 + ch), name)


__all__ = ["Scene", "SCENE_12MP", "backgrounds", "compose"]
