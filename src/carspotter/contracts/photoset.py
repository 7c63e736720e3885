"""Sets of decoded photos for measuring models: a run's split, a folder, or training photos for calibration.

Each photo is decoded and resized once by :mod:`carspotter.model.photos`; the same uint8 pixels
then go to every format, so a difference between formats is never the loader's.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.model import photos
from carspotter.util.errors import RunError, UsageError
from carspotter.contracts.runfolder import Run


@dataclass
class PhotoSet:
    """Decoded photos, identical bytes for every format.

    Attributes:
        pixels: ``[N, S, S, 3]`` uint8 RGB.
        names: N photo names (relative paths) for messages.
        source: where they came from, for people.
        skipped: ``(name, reason)`` for photos that did not decode.
        truth: ``[N]`` true class indices when known (a run's split); None for a folder.
        paths: N photo files (where they were read).
        boxes: N crop boxes (or None entries) applied after decoding, or None.
        annotated: N boxes of the car as the dataset gives them (ROI convention; None entries where a photo has
            none), whether or not they were cropped to; None when the dataset has no boxes.
    """

    pixels: np.ndarray
    names: list[str]
    source: str
    skipped: list[tuple[str, str]]
    truth: np.ndarray | None = None
    paths: list[Path] | None = None
    boxes: list | None = None
    annotated: list | None = None


def data_folder(run: Run, data_dir: str | Path | None = None) -> Path:
    """The folder a run's split paths are relative to: ``data_dir`` if given, else run.json's ``data.dir``.

    Raises:
        RunError: the folder is not there (names it, and the ``--data`` flag that points elsewhere).
    """
    folder = Path(data_dir) if data_dir is not None else run.data_dir
    if not folder.is_dir():
        how = "--data DIR" if data_dir is None else "a --data DIR that exists"
        raise RunError(
            f"{folder}: the photo folder of run {run.name} is not there (moved or on another machine); "
            f"pass {how} pointing at the photos it was trained on"
        )
    return folder


def split_photoset(
    run: Run, split: str = "test", data_dir: str | Path | None = None, limit: int | None = None
) -> PhotoSet:
    """Decode the photos of one of a run's splits, with their true labels.

    Args:
        run: the run (its split files name the photos).
        split: ``train``, ``val`` or ``test``.
        data_dir: where the photos are, if not where run.json says.
        limit: keep the first N photos of the split.

    Raises:
        RunError: the split file or the photo folder is missing.
    """
    rows = [(r.path, r.label, r.box) for r in run.split_rows(split)[:limit]]
    return _decode(data_folder(run, data_dir), rows, run.input.size, f"{split} split of run {run.name}")


def _decode(root: Path, rows: list[tuple], size: int, source: str) -> PhotoSet:
    """Decode ``rows`` of ``(path relative to root (or absolute), class index, crop box or None)`` at ``size``:
    the photos that decode, named relative to ``root``, with their classes and boxes; the others in ``skipped``."""
    by_file = {str(root / path): (label, box) for path, label, box in rows}
    loaded = photos.load_photos([root / path for path, _, _ in rows], size, boxes=[box for _, _, box in rows])
    # os.path.relpath, not Path.relative_to: negatives (--negatives) may lie beside the data folder ("../").
    names = [os.path.relpath(p, root) for p in loaded.paths]
    skipped = [(os.path.relpath(p, root), reason) for p, reason in loaded.skipped]
    truth = np.array([by_file[str(p)][0] for p in loaded.paths], dtype=np.int64)
    return PhotoSet(
        loaded.pixels, names, source, skipped, truth, list(loaded.paths), [by_file[str(p)][1] for p in loaded.paths]
    )


def folder_photoset(
    folder: str | Path, size: int, limit: int | None = None, labels: list[str] | None = None
) -> PhotoSet:
    """Decode every photo under ``folder`` (sorted by path, hidden files skipped) at ``size``.

    When ``labels`` is given and every photo sits in a class folder named as a label
    (``folder/<class>/...``, the training layout), the photos get those true labels.

    Raises:
        UsageError: the folder does not exist.
    """
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"--images {folder}: no such folder")
    loaded = photos.load_photos(photos.find_photos(root)[:limit], size)
    names = [str(p.relative_to(root)) for p in loaded.paths]
    skipped = [(str(Path(p).relative_to(root)), reason) for p, reason in loaded.skipped]
    index = {name: i for i, name in enumerate(labels or [])}
    tops = [Path(n).parts[0] if len(Path(n).parts) > 1 else None for n in names]
    truth = np.array([index[t] for t in tops], np.int64) if names and labels and all(t in index for t in tops) else None
    return PhotoSet(
        loaded.pixels, names, f"folder {root.name}/ ({len(names)} photos)", skipped, truth, list(loaded.paths)
    )


def representative_photos(run: Run, count: int, data_dir: str | Path | None = None) -> np.ndarray:
    """``[M, S, S, 3]`` uint8 training photos for post-training quantization (the representative
    dataset): ``count`` drawn from the train split with the run's seed, all if there are fewer,
    taken round-robin over the classes so that every class is in it (from ``count`` >= classes).
    A calibration that never saw a class's activations clips them (TensorFlow Lite's
    post-training integer quantization guide asks for data that covers the input space).

    Raises:
        RunError: the split file or the photo folder is missing.
    """
    root = data_folder(run, data_dir)
    chosen = representative_rows(run, count)
    return photos.load_photos([root / r.path for r in chosen], run.input.size, boxes=[r.box for r in chosen]).pixels


def representative_rows(run: Run, count: int) -> list:
    """The train-split rows :func:`representative_photos` decodes: shuffled with the run's seed, then one photo of
    each class per round, the first ``count``."""
    rows = run.split_rows("train")
    random.Random(run.seed).shuffle(rows)
    by_class: dict[int, list] = {}
    for r in rows:
        by_class.setdefault(r.label, []).append(r)
    rounds = itertools.zip_longest(*(by_class[c] for c in sorted(by_class)))  # one photo of each class per round
    return [r for one_round in rounds for r in one_round if r is not None][:count]


def gate_photoset(run: Run, limit: int, data_dir: str | Path | None = None) -> PhotoSet:
    """Every labelled photo of a run, for the variants' gates: the test split, then validation, then training photos,
    at most ``limit``; a calibrated variant is judged without the representative photos it read (:func:`without_rows`).
    Agreement with the reference needs no label and an accuracy drop is a paired difference, so photos the model
    trained on measure a compressed variant's faithfulness as well as unseen ones (docs/bundles-and-apps.md, "Gates").

    Raises:
        RunError: a split file or the photo folder is missing.
    """
    rows = [(r.path, r.label, r.box) for split in ("test", "val", "train") for r in run.split_rows(split)]
    ps = _decode(data_folder(run, data_dir), rows[:limit], run.input.size, "")
    ps.source = (
        f"{len(ps.names)} photos of run {run.name}'s test, val and train splits"
        f"{f'; the first {limit}' if len(rows) > limit else ''}"
    )
    return ps


def without_rows(ps: PhotoSet, rows: list) -> tuple[PhotoSet, np.ndarray]:
    """``ps`` without the photos of ``rows`` (split rows, e.g. the representative photos a calibrated variant read),
    and the ``[N]`` bool mask of the photos kept; ``ps`` itself (all True) when none of them is in it."""
    used = {os.path.normpath(r.path) for r in rows}
    keep = np.array([os.path.normpath(n) not in used for n in ps.names], dtype=bool)
    if keep.all():
        return ps, keep
    pick = np.flatnonzero(keep)
    source = (
        f"{len(pick)} of the {len(keep)} gate photos (without the {int((~keep).sum())} representative photos it read)"
    )
    return PhotoSet(
        ps.pixels[pick],
        [ps.names[i] for i in pick],
        source,
        ps.skipped,
        ps.truth[pick] if ps.truth is not None else None,
        [ps.paths[i] for i in pick] if ps.paths is not None else None,
        [ps.boxes[i] for i in pick] if ps.boxes is not None else None,
    ), keep


def _read_records(data, labels: list[str], layout: str, mapping, crop: bool, split: str | None) -> tuple:
    """:func:`labelled_photoset`'s photo records: read, of ``split``, NFC-normalized, renamed by ``mapping`` and
    checked against ``labels``; with the layout read (``found``)."""
    import dataclasses
    import unicodedata

    from carspotter.contracts import mapping as class_mapping
    from carspotter.contracts import readers

    found = readers.read(data, layout, crop)
    records = [
        dataclasses.replace(r, label=unicodedata.normalize("NFC", r.label))
        for r in found.records
        if split is None or r.split == split
    ]
    if not records:
        where = f" in its {split} split" if split else ""
        raise UsageError(
            f"{data}: no photo found{where} ({found.format} layout; {len(found.ignored)} files that are not "
            "photos); pass a folder with one subfolder of photos per class, a .csv or a devkit folder"
        )
    if mapping is not None:
        renamed = class_mapping.apply_mapping({r.label for r in records}, class_mapping.read_mapping(mapping), mapping)
        records = [dataclasses.replace(r, label=renamed[r.label]) for r in records]
    unknown = sorted({r.label for r in records} - set(labels))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise UsageError(
            f"{data}: {len(unknown)} classes are not among the model's {len(labels)} labels: {shown}; "
            'rename them with --mapping FILE (JSON {"as written": "label"}) or leave their photos out'
        )
    return found, records


def labelled_photoset(
    data: str | Path,
    labels: list[str],
    size: int,
    layout: str = "auto",
    mapping: str | Path | None = None,
    crop: bool = False,
    split: str | None = None,
) -> PhotoSet:
    """Decode labelled photos in any layout ``carspotter train`` reads, their classes matched to a model's ``labels``.

    Args:
        data: class folders (optionally with train/ val/ test/), a ``.csv`` (path,label[,split]) or a
            Stanford Cars devkit folder (:mod:`carspotter.contracts.readers`).
        labels: the model's C class names; the data's class names (NFC-normalized, then renamed by
            ``mapping``) must be among them.
        size: input side S, pixels. layout: a reader name or ``auto``. crop: the devkit's boxes.
        split: keep only this split's photos (a layout with splits), or None for all.

    Raises:
        UsageError: a class not in ``labels`` (all listed, with the fix), no photo (after ``split``).
        DatasetError: a missing path, an unreadable layout or mapping file.
    """
    found, records = _read_records(data, labels, layout, mapping, crop, split)
    index = {name: i for i, name in enumerate(labels)}
    ps = _decode(found.root, [(r.path, index[r.label], r.box) for r in records], size, "")
    if any(r.annotated for r in records):
        given = {str(found.root / r.path): r.annotated for r in records}
        ps.annotated = [given.get(str(p)) for p in ps.paths]
    if len(ps.names) == 0:
        raise UsageError(
            f"{data}: none of its {len(records)} photos could be read (e.g. {ps.skipped[0][0]}: "
            f"{ps.skipped[0][1]}); pass readable photos"
        )
    ps.source = f"{found.format} layout, {len(ps.names)} photos"
    return ps
