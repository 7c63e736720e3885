"""The photos parity checks: a bundle's run test split, or a folder given with --images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter import photos
from carspotter.errors import BundleError
from carspotter.train.dataset import read_split_boxes
from carspotter.train.readers import PHOTO_SUFFIXES


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


def split_photoset(run_dir: Path, data_dir: Path, split_file: str, size: int, limit: int | None = None) -> PhotoSet:
    """Decode the photos of one of a run's split files (e.g. ``split_test.csv``), with their true labels.

    Args:
        run_dir: the run folder holding ``split_file``.
        data_dir: the data folder the split's paths are relative to (run.json ``data.dir``).
        size: input side in pixels.
        limit: keep the first N photos of the split.

    Raises:
        BundleError: the split file is gone.
    """
    split = Path(run_dir) / split_file
    if not split.is_file():
        raise BundleError(f"{split}: the run's split file is gone; pass --images DIR")
    rows = read_split_boxes(split)[:limit]
    label_of = {rel: label for rel, label, _ in rows}
    loaded = photos.load_photos([data_dir / rel for rel, _, _ in rows], size, boxes=[box for _, _, box in rows])
    names = [str(p.relative_to(data_dir)) for p in loaded.paths]
    skipped = [(str(Path(p).relative_to(data_dir)), reason) for p, reason in loaded.skipped]
    truth = np.array([label_of[n] for n in names], dtype=np.int64)
    return PhotoSet(loaded.pixels, names, f"{Path(split_file).stem.removeprefix('split_')} split of {run_dir}", skipped, truth)


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
    if images is None:
        run_dir = Path(manifest["source_run"]["dir"])
        data_dir = Path(json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["data"]["dir"])
        return split_photoset(run_dir, data_dir, manifest["source_run"]["test_split"], size, limit)
    root = Path(images)
    if not root.is_dir():
        raise BundleError(f"--images {images}: no such folder")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES and not any(
        part.startswith(".") for part in p.relative_to(root).parts))[:limit]
    loaded = photos.load_photos(paths, size)
    names = [str(p.relative_to(root)) for p in loaded.paths]
    skipped = [(str(Path(p).relative_to(root)), reason) for p, reason in loaded.skipped]
    return PhotoSet(loaded.pixels, names, str(root.resolve()), skipped)
