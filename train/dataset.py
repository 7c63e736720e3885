"""Read a class-folder photo dataset and split it deterministically.

Layout (as Keras ``image_dataset_from_directory``): ``DATA_DIR/<class name>/<photos>``.
Class names are the folder names as written, sorted by Python string order; photos are
found recursively. Hidden files and folders (``.DS_Store``, ``.git``) are ignored.
Identical photos (same sha256) always land in the same split; one filed under two
classes is a labelling conflict, reported and kept out of every split.
"""

from __future__ import annotations

import csv
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from carspotter.errors import DatasetError
from carspotter.hashing import sha256_file

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
SPLITS = ("train", "val", "test")


@dataclass
class Photo:
    """One photo: path relative to the data folder, class index, content sha256."""

    path: str
    label: int
    sha256: str


@dataclass
class Dataset:
    """Classes and photos found in a data folder, before decoding.

    Attributes:
        root: the data folder (absolute).
        classes: class names in index order.
        photos: usable photos.
        dropped_classes: ``{class name: reason}`` for classes left out.
        ignored_files: ``(relative path, reason)`` for files that are not photos.
        conflicts: ``{sha256: [relative paths]}`` for identical photos in several classes.
    """

    root: Path
    classes: list[str]
    photos: list[Photo]
    dropped_classes: dict[str, str] = field(default_factory=dict)
    ignored_files: list[tuple[str, str]] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Photos per class name."""
        out = {c: 0 for c in self.classes}
        for p in self.photos:
            out[self.classes[p.label]] += 1
        return out


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _undecodable(name: str) -> bool:
    """True for a file name that was not valid UTF-8 on disk (Python holds it with surrogates)."""
    try:
        name.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def printable(name: str) -> str:
    """A file name as text even when its bytes are not UTF-8 (invalid bytes as \\xNN)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _class_files(class_dir: Path):
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for name in sorted(filenames):
            if not _is_hidden(name):
                yield Path(dirpath) / name


def scan(data_dir: str | Path, max_classes: int | None = None, min_photos: int = 5) -> Dataset:
    """Find classes and photos in ``data_dir``.

    Args:
        data_dir: folder with one subfolder per class.
        max_classes: keep only the first N classes by name (after dropping unusable ones).
        min_photos: classes with fewer photos are dropped and listed (at least 3: one
            each for train, val and test).

    Returns:
        :class:`Dataset`.

    Raises:
        DatasetError: missing folder, ``max_classes < 1``, or fewer than two usable classes.
    """
    root = Path(data_dir)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder; pass a folder with one subfolder of photos per class")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder; pass a folder with one subfolder of photos per class")
    if max_classes is not None and max_classes < 1:
        raise DatasetError(f"--max-classes {max_classes}: must be at least 2 (or left out for all classes)")
    if min_photos < 3:
        raise DatasetError(f"--min-photos {min_photos}: must be at least 3 (one each for train, val and test)")
    root = root.resolve()
    try:
        entries = sorted(os.listdir(root))
    except PermissionError:
        raise DatasetError(f"{root}: not readable (permission denied)") from None

    dropped: dict[str, str] = {}
    ignored: list[tuple[str, str]] = []
    found: dict[str, list[tuple[str, str]]] = {}
    for name in entries:
        if _is_hidden(name):
            continue
        entry = root / name
        if not entry.is_dir():
            ignored.append((printable(name), "file at the top level (photos belong in a class folder)"))
            continue
        if _undecodable(name):
            dropped[printable(name)] = "class folder name is not valid UTF-8 (labels are UTF-8); rename the folder"
            continue
        if "\n" in name or "\r" in name:
            dropped[name.replace("\n", "\\n").replace("\r", "\\r")] = "class folder name contains a line break (labels.txt has one class per line); rename the folder"
            continue
        files = []
        for f in _class_files(entry):
            rel = str(f.relative_to(root))
            if _undecodable(rel):
                ignored.append((printable(rel), "file name is not valid UTF-8; rename it"))
                continue
            if f.suffix.lower() not in PHOTO_SUFFIXES:
                ignored.append((rel, f"not a photo suffix ({f.suffix or 'none'})"))
                continue
            try:
                files.append((rel, sha256_file(f)))
            except OSError as exc:
                ignored.append((rel, f"not readable ({exc.strerror or exc})"))
        if not files:
            dropped[name] = "empty class folder (no photos)"
        else:
            found[name] = files

    # Identical content filed under two classes: a labelling conflict.
    classes_by_hash: dict[str, set[str]] = defaultdict(set)
    paths_by_hash: dict[str, list[str]] = defaultdict(list)
    for name, files in found.items():
        for rel, digest in files:
            classes_by_hash[digest].add(name)
            paths_by_hash[digest].append(rel)
    conflicts = {h: sorted(paths_by_hash[h]) for h, cs in classes_by_hash.items() if len(cs) > 1}

    kept: dict[str, list[tuple[str, str]]] = {}
    for name, files in found.items():
        files = [(rel, h) for rel, h in files if h not in conflicts]
        if len(files) < min_photos:
            dropped[name] = f"{len(files)} usable photos, below the minimum of {min_photos}"
        else:
            kept[name] = files

    classes = sorted(kept)
    if max_classes is not None:
        classes = classes[:max_classes]
    if len(classes) < 2:
        detail = "; ".join(f"{c}: {r}" for c, r in sorted(dropped.items())[:5])
        raise DatasetError(
            f"{root}: {len(classes)} usable class folder(s), need at least 2"
            + (f" (dropped: {detail})" if detail else "")
        )
    photos = [Photo(rel, i, h) for i, c in enumerate(classes) for rel, h in kept[c]]
    return Dataset(root, classes, photos, dropped, ignored, conflicts)


def split(dataset: Dataset, seed: int, val_fraction: float = 0.15, test_fraction: float = 0.15) -> dict[str, list[Photo]]:
    """Deterministic stratified split into train / val / test.

    Within each class, groups of identical photos (same sha256) are shuffled with
    ``random.Random(seed)`` and assigned whole, so a duplicate never crosses splits.
    Each class gets at least one group in val and in test when it has three or more.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}``, each sorted by path.
    """
    out: dict[str, list[Photo]] = {s: [] for s in SPLITS}
    by_class: dict[int, dict[str, list[Photo]]] = defaultdict(lambda: defaultdict(list))
    for p in dataset.photos:
        by_class[p.label][p.sha256].append(p)
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


def write_split(path: Path, photos: list[Photo], classes: list[str]) -> None:
    """Write a split as CSV with header ``path,label,class`` (paths relative to the data folder)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "class"])
        for p in photos:
            w.writerow([p.path, p.label, classes[p.label]])


def read_split(path: Path) -> list[tuple[str, int]]:
    """Read a split CSV written by :func:`write_split`: ``[(relative path, label), ...]``."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(row["path"], int(row["label"])) for row in csv.DictReader(f)]
