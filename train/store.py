"""Decode every photo once, in parallel, into one ``[N, S, S, 3]`` uint8 array: the pixel cache.

Photos are decoded with :mod:`carspotter.model.photos` (the one definition of preprocessing) by
a thread pool before training starts, so the training loop only gathers ready pixels and
never waits on JPEG decoding, and an unreadable photo is reported before the first epoch
rather than failing it. The array lives in RAM when it fits under a memory budget, else
in a ``.npy`` memory-mapped file on disk (``numpy.lib.format.open_memmap``), which the
operating system pages in as batches are read. A finished disk cache is kept in the
run's resume folder, so a resumed run does not decode again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.model import photos
from carspotter.model.spec import RESIZE
from carspotter.util.atomic import atomic_write
from carspotter.util.errors import UsageError
from carspotter.train.resume import ResumeFolder

CACHES = ("auto", "memory", "disk")
MEMORY_FRACTION = 0.5
"""``auto`` keeps the pixels in RAM when they need at most this fraction of the available memory."""


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` (Linux), else physical memory from ``sysconf``; None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def choose_cache(cache: str, n_photos: int, size: int) -> str:
    """Resolve ``auto`` to ``memory`` or ``disk`` for ``n_photos`` photos of ``size x size x 3`` bytes."""
    if cache not in CACHES:
        raise UsageError(f"--cache {cache}: must be one of {', '.join(CACHES)}")
    if cache != "auto":
        return cache
    need, have = n_photos * size * size * 3, available_memory_bytes()
    return "memory" if have is None or need <= MEMORY_FRACTION * have else "disk"


@dataclass
class PhotoStore:
    """Decoded photos.

    Attributes:
        pixels: ``[N, S, S, 3]`` uint8 RGB (a NumPy array or a read-only memmap).
        ok: ``[N]`` bool, False for photos that did not decode (their rows are zeros).
        skipped: ``{index: reason}`` for photos that did not decode.
        where: ``"memory"`` or the path of the ``.npy`` cache file.
    """

    pixels: np.ndarray
    ok: np.ndarray
    skipped: dict[int, str]
    where: str

    @property
    def nbytes(self) -> int:
        """Size of the pixel array in bytes."""
        return int(self.pixels.nbytes)


def decode(
    paths: list[Path],
    boxes: list,
    size: int,
    workers: int,
    cache: str,
    folder: Path | None,
    progress: str = "decode photos",
) -> PhotoStore:
    """Decode ``paths`` (cropped to ``boxes``) to ``size x size`` once.

    Args:
        paths: N photo files.
        boxes: N crop boxes or None entries.
        size: input side in pixels.
        workers: decoding threads.
        cache: ``memory``, ``disk`` or ``auto`` (see :func:`choose_cache`).
        folder: where a disk cache lives (the run's resume folder); required for ``disk``.
        progress: progress-bar label.

    Returns:
        :class:`PhotoStore`; a finished disk cache for the same photos is reused.
    """
    where = choose_cache(cache, len(paths), size)
    shape = (len(paths), size, size, 3)
    if where == "disk":
        if folder is None:
            raise UsageError("--cache disk needs a folder for the cache file")
        cache_file, done_file = ResumeFolder(folder).pixels(size)
        # the preprocessing is in the key: a cache written by a version that resized otherwise is decoded again
        key = [str(p) for p in paths], [list(b) if b else None for b in boxes], RESIZE
        if done_file.is_file() and cache_file.is_file():
            done = json.loads(done_file.read_text())
            if done.get("key") == list(key):
                pixels = np.load(cache_file, mmap_mode="r")
                skipped = {int(k): v for k, v in done["skipped"].items()}
                ok = np.ones(len(paths), bool)
                ok[list(skipped)] = False
                return PhotoStore(pixels, ok, skipped, str(cache_file))
        pixels = np.lib.format.open_memmap(cache_file, mode="w+", dtype=np.uint8, shape=shape)
    else:
        pixels = np.zeros(shape, np.uint8)
    ok = np.zeros(len(paths), bool)
    skipped: dict[int, str] = {}
    for i, (_, px, err) in enumerate(photos.iter_photos(paths, size, workers, boxes, progress)):
        if err is None:
            pixels[i] = px
            ok[i] = True
        else:
            skipped[i] = err
    if where == "disk":
        pixels.flush()
        del pixels
        atomic_write(done_file, json.dumps({"key": list(key), "skipped": {str(k): v for k, v in skipped.items()}}))
        pixels = np.load(cache_file, mmap_mode="r")
        return PhotoStore(pixels, ok, skipped, str(cache_file))
    return PhotoStore(pixels, ok, skipped, "memory")
