"""The photos parity checks: a bundle's run test split, or a folder given with --images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter import photos
from carspotter.errors import BundleError
from carspotter.train.dataset import PHOTO_SUFFIXES, read_split


@dataclass
class PhotoSet:
    """Decoded photos, identical bytes for every format.

    Attributes:
        pixels: ``[N, S, S, 3]`` uint8 RGB.
        names: N photo names (relative paths) for messages.
        source: where they came from.
        skipped: ``(name, reason)`` for photos that did not decode.
        truth: ``[N]`` true class indices for the run's test split; None for --images.
    """

    pixels: np.ndarray
    names: list[str]
    source: str
    skipped: list[tuple[str, str]]
    truth: np.ndarray | None = None


def load_photoset(manifest: dict, images: str | None = None, limit: int | None = None) -> PhotoSet:
    """Decode the photos once with :func:`carspotter.photos.load_photos` at the bundle's input size.

    Args:
        manifest: the bundle's validated manifest.
        images: a folder of photos (searched recursively); None for the run's test split.
        limit: keep the first N photos (sorted by path).

    Raises:
        BundleError: the run's split file or data folder is gone, or the folder is missing.
    """
    size = manifest["input"]["shape"][1]
    if images is not None:
        root = Path(images)
        if not root.is_dir():
            raise BundleError(f"--images {images}: no such folder")
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and not any(
            part.startswith(".") for part in p.relative_to(root).parts))
        source = str(root.resolve())
    else:
        run_dir = Path(manifest["source_run"]["dir"])
        split = run_dir / manifest["source_run"]["test_split"]
        if not split.is_file():
            raise BundleError(f"{split}: the run's test split is gone; pass --images DIR")
        data_dir = Path(json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["data"]["dir"])
        root = data_dir
        rows = read_split(split)
        label_of = {rel: y for rel, y in rows}
        paths = [data_dir / rel for rel, _ in rows]
        source = f"test split of {run_dir}"
    if limit is not None:
        paths = paths[:limit]
    loaded = photos.load_photos(paths, size)
    names = [str(p.relative_to(root)) for p in loaded.paths]
    skipped = [(str(Path(p).relative_to(root)), reason) for p, reason in loaded.skipped]
    truth = np.array([label_of[n] for n in names], dtype=np.int64) if images is None else None
    return PhotoSet(loaded.pixels, names, source, skipped, truth)
