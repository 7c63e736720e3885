"""Scan a dataset into classes and photos, check its hygiene, and split it deterministically.

Layouts are read by :mod:`carspotter.contracts.readers` (class folders, with optional fixed
``train/ val/ test/`` subfolders; a CSV manifest; the Stanford Cars devkit). Class names are
read as written and sorted by Python string order after an optional mapping file
(:mod:`carspotter.contracts.mapping`) renames or merges them. Identical photos (same sha256,
and same crop box) always land in the same split; one filed under two classes is a
labelling conflict, reported and kept out of every split.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from carspotter.util.errors import DatasetError, UsageError
from carspotter.util.hashing import sha256_file
from carspotter.model.photos import find_photos
from carspotter.contracts import readers
from carspotter.contracts.mapping import apply_mapping, read_mapping
from carspotter.contracts.runfolder import SPLITS
from carspotter.contracts.split_files import SplitRow


@dataclass
class Photo:
    """One photo.

    Attributes:
        path: path relative to the data root.
        label: class index.
        sha256: content hash of the file.
        split: split fixed by the dataset (``train``/``val``/``test``), or None.
        box: crop box ``(left, top, right, bottom)`` in pixels, or None for the whole photo.
    """

    path: str
    label: int
    sha256: str
    split: str | None = None
    box: tuple[int, int, int, int] | None = None

    @property
    def key(self) -> str:
        """Identity for duplicate detection (see :func:`content_key`)."""
        return content_key(self.sha256, self.box)


def content_key(sha256: str, box: tuple[int, int, int, int] | None) -> str:
    """Identity for duplicate detection: the content hash, plus the crop box when there is one."""
    return sha256 if box is None else f"{sha256}@{','.join(map(str, box))}"


@dataclass
class Dataset:
    """Classes and photos found in a dataset, before decoding.

    Attributes:
        root: the folder photo paths are relative to (absolute).
        classes: class names in index order (after the mapping).
        photos: usable photos.
        format: the reader used (``folders``, ``folders+split``, ``csv``, ``devkit``).
        dropped_classes: ``{class name: reason}`` for classes left out.
        ignored_files: ``(relative path, reason)`` for files that are not photos.
        conflicts: ``{content key: [relative paths]}`` for identical photos in several classes.
        leaks: ``{content key: [relative paths]}`` for identical photos placed in several
            fixed splits; only the copy in the earliest split (train, val, test) is kept.
        renamed: ``{class as written: class trained}`` for every label the mapping changed.
        normalized: ``{class as written: NFC name}`` for names not written in NFC (e.g. by macOS).
        merged: ``{NFC name: [names as written]}`` where several written names became one class.
    """

    root: Path
    classes: list[str]
    photos: list[Photo]
    format: str = "folders"
    dropped_classes: dict[str, str] = field(default_factory=dict)
    ignored_files: list[tuple[str, str]] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    leaks: dict[str, list[str]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    normalized: dict[str, str] = field(default_factory=dict)
    merged: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Photos per class name."""
        out = {c: 0 for c in self.classes}
        for p in self.photos:
            out[self.classes[p.label]] += 1
        return out

    @property
    def fixed_split(self) -> bool:
        """True when the dataset itself assigns every photo to a split."""
        return bool(self.photos) and self.photos[0].split is not None


def _hash_all(root: Path, records: list, workers: int, ignored: list) -> list[tuple[object, str]]:
    """sha256 of every record's file in parallel threads (hashlib releases the GIL); unreadable files are listed."""
    from concurrent.futures import ThreadPoolExecutor

    from carspotter.util.progress import progress

    def one(r):
        try:
            return r, sha256_file(root / r.path), None
        except OSError as exc:
            return r, None, f"not readable ({exc.strerror or exc})"

    out = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for r, digest, err in progress(pool.map(one, records), len(records), "hash photos", min_total=2000):
            if err:
                ignored.append((r.path, err))
            else:
                out.append((r, digest))
    return out


def _hygiene(hashed: list, cls) -> tuple[dict, dict, dict]:
    """Conflicts, leaks and the usable photos per class.

    Identical content filed under two classes is a labelling conflict (left out);
    identical content in two fixed splits is a leak (kept in the earliest split only).

    Returns:
        ``(conflicts {key: paths}, leaks {key: paths}, {class: [(record, sha256)]})``.
    """
    keyed = [(r, h, content_key(h, r.box)) for r, h in hashed]
    classes_by_key: dict[str, set[str]] = defaultdict(set)
    paths_by_key: dict[str, list[str]] = defaultdict(list)
    splits_by_key: dict[str, set[str]] = defaultdict(set)
    for r, h, k in keyed:
        classes_by_key[k].add(cls(r))
        paths_by_key[k].append(r.path)
        splits_by_key[k].add(r.split)
    conflicts = {k: sorted(paths_by_key[k]) for k, cs in classes_by_key.items() if len(cs) > 1}
    leaks = {k: sorted(paths_by_key[k]) for k, ss in splits_by_key.items() if len(ss) > 1 and k not in conflicts}
    first_split = {k: min(splits_by_key[k], key=SPLITS.index) for k in leaks}
    per_class: dict[str, list] = defaultdict(list)
    for r, h, k in keyed:
        if k in conflicts or (k in leaks and r.split != first_split[k]):
            continue
        per_class[cls(r)].append((r, h))
    return conflicts, leaks, per_class


def _enough(per_class: dict, min_photos: int, dropped: dict) -> dict:
    """Classes with at least ``min_photos`` photos (and a training photo when the split is fixed); the others into ``dropped``."""
    kept: dict[str, list] = {}
    for name, items in per_class.items():
        if len(items) < min_photos:
            dropped[name] = f"{len(items)} usable photos, below the minimum of {min_photos}"
        elif items[0][0].split is not None and "train" not in {r.split for r, _ in items}:
            dropped[name] = "no photo in the train split; add training photos"
        else:
            kept[name] = items
    return kept


LABEL_FORM = "NFC"
"""Unicode normal form of every class name (labels.txt, each format's metadata, the manifest):
macOS writes folder names decomposed (NFD), Linux and Windows as typed (usually NFC), so
``Citroën`` from a Mac and from Linux are different byte strings until normalized."""


def normalize_labels(records: list) -> tuple[list, dict[str, str]]:
    """Class names in :data:`LABEL_FORM`.

    Returns:
        ``(records with normalized labels, {name as written: normalized name})`` for the names
        that changed; two folders that normalize to the same name become one class (reported
        by :func:`merged_by_normalization`).
    """
    import dataclasses
    import unicodedata

    changed = {r.label: unicodedata.normalize(LABEL_FORM, r.label) for r in records}
    changed = {a: b for a, b in changed.items() if a != b}
    return [dataclasses.replace(r, label=changed.get(r.label, r.label)) for r in records], changed


def merged_by_normalization(records: list, changed: dict[str, str]) -> dict[str, list[str]]:
    """``{normalized name: [names as written]}`` where two or more written names (``records`` before
    :func:`normalize_labels`) become one class."""
    written: dict[str, set[str]] = defaultdict(set)
    for r in records:
        written[changed.get(r.label, r.label)].add(r.label)
    return {k: sorted(v) for k, v in written.items() if len(v) > 1}


NOT_A_CAR = "(not a car)"
"""Class name of the photos of ``--negatives`` (parenthesised so that no make/model collides with it);
always the last class."""


def negative_records(folder: str | Path, root: Path) -> list:
    """Every photo under ``folder`` (recursively) as a :class:`readers.Record` of class :data:`NOT_A_CAR`,
    its path relative to ``root`` (``../`` when beside it: no absolute path in the split files).

    Raises:
        DatasetError: the folder is missing or holds no photo.
    """
    import os

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"--negatives {folder}: not a folder; pass a folder of photos that are none of the classes")
    found = find_photos(folder)
    if not found:
        raise DatasetError(
            f"--negatives {folder}: no photos in it (jpg, png, webp, ...); add photos or leave the flag out"
        )
    return [readers.Record(os.path.relpath(os.path.abspath(p), root), NOT_A_CAR) for p in found]


def scan(
    data_dir: str | Path,
    max_classes: int | None = None,
    min_photos: int = 5,
    fmt: str = "auto",
    mapping: str | Path | None = None,
    crop: bool = False,
    workers: int = 4,
    negatives: str | Path | None = None,
) -> Dataset:
    """Find classes and photos in a dataset (any layout of :mod:`carspotter.contracts.readers`).

    Args:
        data_dir: class-folder tree, ``.csv`` manifest or Stanford Cars devkit folder.
        max_classes: keep only the first N classes by name (after dropping unusable ones).
        min_photos: classes with fewer photos are dropped and listed (at least 3: one
            each for train, val and test).
        fmt: reader (``auto``, ``folders``, ``csv``, ``devkit``).
        mapping: optional mapping file renaming or merging classes.
        crop: crop photos to their bounding boxes (devkit).
        workers: hashing threads.
        negatives: folder of photos that are none of the classes: they become the class
            :data:`NOT_A_CAR`, the last one (after ``max_classes`` is applied to the others).
            A photo also filed under a class is a labelling conflict, as any other.

    Returns:
        :class:`Dataset`.

    Raises:
        UsageError: ``max_classes`` below 2 or ``min_photos`` below 3.
        DatasetError: missing data, bad mapping file, or fewer than two
            usable classes.
    """
    _check_limits(max_classes, min_photos)
    found, records = _read(data_dir, fmt, crop, negatives)
    root, ignored, dropped = found.root, list(found.ignored), dict(found.dropped)
    written, (records, normalized) = records, normalize_labels(records)
    merged = merged_by_normalization(written, normalized)
    for name in found.empty:
        dropped[name] = "empty class folder (no photos)"

    labels = {r.label for r in records}
    renamed = _renamed(labels, mapping)
    hashed = _hash_all(root, records, workers, ignored)

    def cls(r) -> str:
        return renamed.get(r.label, r.label)

    conflicts, leaks, per_class = _hygiene(hashed, cls)
    for name in sorted({renamed.get(label, label) for label in labels} - set(per_class)):
        dropped.setdefault(name, "no usable photos (all in labelling conflicts or unreadable)")
    kept = _enough(per_class, min_photos, dropped)

    classes = _chosen_classes(root, kept, dropped, max_classes, negatives)
    photos = [Photo(r.path, i, h, r.split, r.box) for i, c in enumerate(classes) for r, h in kept[c]]
    return Dataset(root, classes, photos, found.format, dropped, ignored, conflicts, leaks, renamed, normalized, merged)


def _check_limits(max_classes: int | None, min_photos: int) -> None:
    """:func:`scan`'s ``max_classes`` and ``min_photos``, checked (UsageError)."""
    if max_classes is not None and max_classes < 1:
        raise UsageError(f"--max-classes {max_classes}: must be at least 2 (or left out for all classes)")
    if min_photos < 3:
        raise UsageError(f"--min-photos {min_photos}: must be at least 3 (one each for train, val and test)")


def _read(data_dir: str | Path, fmt: str, crop: bool, negatives: str | Path | None) -> tuple:
    """The layout read and its records, the ``--negatives`` photos after them; a class named :data:`NOT_A_CAR` is
    refused (DatasetError)."""
    found = readers.read(data_dir, fmt, crop)
    if any(r.label == NOT_A_CAR for r in found.records):
        raise DatasetError(
            f"{found.root}: a class is named {NOT_A_CAR!r}, the name carspotter gives to --negatives; rename it"
        )
    return found, list(found.records) + (negative_records(negatives, found.root) if negatives is not None else [])


def _renamed(labels: set[str], mapping) -> dict[str, str]:
    """Class renames of a ``--mapping`` file (NFC names), only those that change a name."""
    if mapping is None:
        return {}
    import unicodedata

    nfc = {
        unicodedata.normalize(LABEL_FORM, a): unicodedata.normalize(LABEL_FORM, b)
        for a, b in read_mapping(mapping).items()
    }
    return {a: b for a, b in apply_mapping(labels, nfc, mapping).items() if a != b}


def _chosen_classes(root, kept: dict, dropped: dict, max_classes: int | None, negatives) -> list[str]:
    """The classes trained, in label order: the first ``max_classes`` by name, then "(not a car)" with ``--negatives``.

    Raises:
        DatasetError: ``--negatives`` without a usable photo, or fewer than two classes.
    """
    classes = sorted(set(kept) - {NOT_A_CAR})
    if max_classes is not None:
        classes = classes[:max_classes]
    if negatives is not None and NOT_A_CAR not in kept:
        raise DatasetError(f"--negatives {negatives}: {dropped.get(NOT_A_CAR, 'no usable photo')}; add photos")
    classes += [NOT_A_CAR] if negatives is not None else []
    if len(classes) < 2:
        detail = "; ".join(f"{c}: {r}" for c, r in sorted(dropped.items())[:5])
        raise DatasetError(
            f"{root}: {len(classes)} usable class(es), need at least 2" + (f" (dropped: {detail})" if detail else "")
        )
    return classes


def split(
    dataset: Dataset, seed: int, val_fraction: float = 0.15, test_fraction: float = 0.15
) -> dict[str, list[Photo]]:
    """Split into train / val / test: the dataset's own split when it fixes one, else a
    deterministic stratified split.

    Within each class, groups of identical photos (same content key) are shuffled with
    ``random.Random(f"{seed}:{class name}")`` and assigned whole, so a duplicate never
    crosses splits. Each class gets at least one group in val and in test when it has
    three or more.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted by path.
    """
    out: dict[str, list[Photo]] = {s: [] for s in SPLITS}
    by_class: dict[int, dict[str, list[Photo]]] = defaultdict(lambda: defaultdict(list))
    for p in dataset.photos:
        if p.split is not None:  # fixed by the dataset (negatives never are: they are split as below)
            out[p.split].append(p)
        else:
            by_class[p.label][p.key].append(p)
    for label in sorted(by_class):
        groups = [by_class[label][h] for h in sorted(by_class[label])]
        random.Random(f"{seed}:{dataset.classes[label]}").shuffle(groups)
        n = len(groups)
        n_val = max(1, round(n * val_fraction)) if n >= 3 else 0
        n_test = max(1, round(n * test_fraction)) if n >= 3 else 0
        for i, group in enumerate(groups):
            name = "val" if i < n_val else "test" if i < n_val + n_test else "train"
            out[name].extend(group)
    return {s: sorted(v, key=lambda p: p.path) for s, v in out.items()}


def split_rows(photos: list[Photo], classes: list[str]) -> list[SplitRow]:
    """A split's photos as rows of the run folder's split file (:func:`carspotter.contracts.split_files.write_split`)."""
    return [SplitRow(p.path, p.label, classes[p.label], p.box) for p in photos]
