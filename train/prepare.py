"""The photos of a training run (:mod:`carspotter.train.trainer`): the dataset scanned and split, each photo decoded
once into RAM or a disk cache, every class checked to still have enough. ``cfg`` is the run's
:class:`carspotter.train.trainer.TrainConfig`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from carspotter.util.errors import DatasetError
from carspotter.train import dataset as ds
from carspotter.train import store as store_mod
from carspotter.train.phases import Photos, log
from carspotter.train.resume import ResumeFolder


@dataclass
class Decoded:
    """A dataset scanned, split and decoded once.

    Attributes:
        data: the scanned dataset.
        photos: decoded pixels, rows and labels per split.
        kept: ``{split: [Photo]}`` that decoded (what the split files list).
        skipped: ``(relative path, reason)`` of photos that did not decode.
        where: ``memory`` or the disk cache file; decode_s the decoding seconds.
    """

    data: ds.Dataset
    photos: Photos
    kept: dict
    skipped: list
    where: str
    decode_s: float


def scan_and_split(cfg) -> tuple[ds.Dataset, dict]:
    """Read and split the dataset, saying on the console what was renamed, dropped, ignored or in conflict."""
    data = ds.scan(
        cfg.data_dir,
        cfg.max_classes,
        cfg.min_photos,
        cfg.data_format,
        cfg.mapping,
        cfg.crop_to_box,
        cfg.workers,
        cfg.negatives,
    )
    log(f"{len(data.classes)} classes, {len(data.photos)} photos in {data.root} (layout: {data.format})")
    for a, b in sorted(data.normalized.items()):
        log(f"class {a!r} trained as {b!r} (Unicode {ds.LABEL_FORM}: the same name as typed on Linux or Windows)")
    for name, written in sorted(data.merged.items()):
        log(f"classes {', '.join(map(repr, written))} merged into {name!r}: the same name in Unicode {ds.LABEL_FORM}")
    for a, b in sorted(data.renamed.items()):
        log(f"class {a!r} trained as {b!r} (mapping file)")
    for c, reason in sorted(data.dropped_classes.items()):
        log(f"dropped class {c!r}: {reason}")
    for rel, reason in data.ignored_files[:20]:
        log(f"ignored {rel}: {reason}")
    if len(data.ignored_files) > 20:
        log(f"... and {len(data.ignored_files) - 20} more ignored files (all listed in run.json)")
    for paths in data.conflicts.values():
        log(f"labelling conflict, left out of every split: identical photo filed as {', '.join(paths)}")
    for paths in data.leaks.values():
        log(f"identical photo in two fixed splits, kept only in the first: {', '.join(paths)}")
    return data, ds.split(data, cfg.seed)


def decode_all(cfg, data: ds.Dataset, parts: dict, resume: ResumeFolder) -> Decoded:
    """Decode every photo once (parallel threads) into RAM or a disk cache; check every class still has enough.

    Raises:
        DatasetError: skipped photos leave a class under ``--min-photos``, or with no training photo.
    """
    t0 = time.time()
    order = [p for s in ds.SPLITS for p in parts[s]]
    store = store_mod.decode(
        [data.root / p.path for p in order], [p.box for p in order], cfg.image_size, cfg.workers, cfg.cache, resume.path
    )
    rows, labels, kept, skipped, start = {}, {}, {}, [], 0
    for name in ds.SPLITS:
        idx = np.arange(start, start + len(parts[name]))
        start += len(parts[name])
        good = idx[store.ok[idx]]
        rows[name] = good
        labels[name] = np.array([order[i].label for i in good], dtype=np.int64)
        kept[name] = [order[i] for i in good]
        skipped += [(order[i].path, store.skipped[i]) for i in idx if not store.ok[i]]
    for rel, reason in skipped:
        log(f"skipped photo {rel}: {reason}")
    c = len(data.classes)
    counts = np.bincount(np.concatenate([labels[s] for s in ds.SPLITS]), minlength=c)
    short = [f"{data.classes[i]!r} ({n})" for i, n in enumerate(counts) if n < cfg.min_photos]
    if short:
        raise DatasetError(
            f"{data.root}: after skipping unreadable photos, classes below the minimum of {cfg.min_photos}: "
            f"{', '.join(short)}; fix or add photos, or lower --min-photos"
        )
    train_counts = np.bincount(labels["train"], minlength=c)
    if (train_counts == 0).any():
        missing = [data.classes[i] for i in np.flatnonzero(train_counts == 0)]
        raise DatasetError(
            f"{data.root}: no training photo for {', '.join(map(repr, missing[:5]))} after the split; add photos"
        )
    seconds = time.time() - t0
    log(
        f"decoded {int(store.ok.sum())} photos in {seconds:.1f} s into {store.where} "
        f"({store.nbytes / 2**20:.0f} MiB); skipped {len(skipped)}"
    )
    return Decoded(data, Photos(store.pixels, rows, labels, c), kept, skipped, store.where, seconds)
