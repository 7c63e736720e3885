"""Make test photos with Pillow: known colours, EXIF orientation, every mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def two_tone(width: int = 120, height: int = 80) -> Image.Image:
    """RGB image, left half red (255,0,0), right half blue (0,0,255)."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[:, : width // 2] = (255, 0, 0)
    arr[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(arr, "RGB")


def save_with_orientation(image: Image.Image, path: Path, orientation: int) -> Path:
    """Save a JPEG carrying EXIF Orientation ``orientation`` (1..8)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def write_photos(folder: Path, count: int, seed: int = 0, size: tuple[int, int] = (64, 48)) -> list[Path]:
    """Write ``count`` distinct random JPEGs into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"photo_{seed}_{i}.jpg"
        Image.fromarray(arr).save(path, quality=90)
        paths.append(path)
    return paths
