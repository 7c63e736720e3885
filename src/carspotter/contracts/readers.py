"""Readers: turn a dataset on disk into labelled photo records, before hashing and splitting.

Three layouts (``--format auto`` picks by what ``DATA`` is):

- ``folders``: ``DATA/<class name>/<photos>`` (as Keras ``image_dataset_from_directory``),
  photos found recursively. When ``DATA`` holds ``train/`` and ``val/`` and/or ``test/``
  (and nothing else), each of those is a class-folder tree and fixes the split.
- ``csv``: ``DATA`` is a ``.csv`` file with a header and columns ``path,label[,split]``;
  paths are relative to the CSV's folder (or absolute); ``split`` is ``train``, ``val`` or
  ``test`` on every row when the column is present. Optional columns ``x0,y0,x1,y1`` (all four)
  give each photo's car box in the ROI convention (:mod:`carspotter.model.roi`: whole pixels of the
  upright photo, half-open); a row may leave all four empty (no box).
- ``devkit``: the Stanford Cars devkit (Krause et al., ICCV 2013 workshop): ``DATA`` holds
  ``cars_train_annos.mat`` and ``cars_meta.mat`` (directly or in ``devkit/``) and the
  photos in ``cars_train/``. Optionally each photo is cropped to its annotated bounding box.

Hidden files and folders (``.DS_Store``, ``.git``, ``__MACOSX``) are ignored everywhere.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from carspotter.util.errors import DatasetError, UsageError
from carspotter.model.photos import PHOTO_SUFFIXES, is_hidden
from carspotter.contracts.runfolder import SPLITS

FORMATS = ("auto", "folders", "csv", "devkit")


@dataclass
class Record:
    """One labelled photo as a reader found it.

    Attributes:
        path: photo path relative to :attr:`ReadResult.root` (or absolute when outside it).
        label: class name as written in the dataset.
        split: ``"train"``, ``"val"`` or ``"test"`` when the dataset fixes it, else None.
        box: the region of interest the model is given, ``(x0, y0, x1, y1)`` in pixels of the upright
            photo (:mod:`carspotter.model.roi`: half-open, inside the photo), when the caller asked to crop to
            the dataset's boxes; else None.
        annotated: the dataset's own box for the photo (same convention), whether or not it is cropped to:
            what two-pass recognition's box is measured against (IoU).
    """

    path: str
    label: str
    split: str | None = None
    box: tuple[int, int, int, int] | None = None
    annotated: tuple[int, int, int, int] | None = None


@dataclass
class ReadResult:
    """What a reader found.

    Attributes:
        root: folder photo paths are relative to (absolute).
        format: the reader used (``folders``, ``folders+split``, ``csv``, ``devkit``).
        records: labelled photos.
        ignored: ``(relative path, reason)`` for files that are not photos.
        dropped: ``{class name: reason}`` for classes a reader could not take (e.g. a name
            that is not UTF-8).
        empty: class folders without a photo (class-folder layouts only).
    """

    root: Path
    format: str
    records: list[Record]
    ignored: list[tuple[str, str]] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)


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


def check_class_name(name: str) -> str | None:
    """Why ``name`` cannot be a class name (labels.txt holds one UTF-8 name per line), or None."""
    if _undecodable(name):
        return "class name is not valid UTF-8 (labels are UTF-8); rename it"
    if "\n" in name or "\r" in name:
        return "class name contains a line break (labels.txt has one class per line); rename it"
    if not name.strip():
        return "class name is empty"
    return None


def _shown(name: str) -> str:
    return printable(name).replace("\n", "\\n").replace("\r", "\\r")


def _class_files(class_dir: Path):
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        for name in sorted(filenames):
            if not is_hidden(name):
                yield Path(dirpath) / name


def _is_photo(rel: str, ignored: list) -> bool:
    if _undecodable(rel):
        ignored.append((printable(rel), "file name is not valid UTF-8; rename it"))
        return False
    suffix = Path(rel).suffix
    if suffix.lower() not in PHOTO_SUFFIXES:
        ignored.append((rel, f"not a photo suffix ({suffix or 'none'})"))
        return False
    return True


def _visible_entries(folder: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(folder) if not is_hidden(n))
    except PermissionError:
        raise DatasetError(f"{folder}: not readable (permission denied)") from None


def _read_class_tree(root: Path, tree: Path, split: str | None, out: ReadResult) -> None:
    for name in _visible_entries(tree):
        entry = tree / name
        rel_entry = str(entry.relative_to(root))
        if not entry.is_dir():
            out.ignored.append((printable(rel_entry), "file at the top level (photos belong in a class folder)"))
            continue
        problem = check_class_name(name)
        if problem:
            out.dropped[_shown(name)] = problem.replace("class name", "class folder name").replace(
                "rename it", "rename the folder"
            )
            continue
        found = 0
        for f in _class_files(entry):
            rel = str(f.relative_to(root))
            if _is_photo(rel, out.ignored):
                out.records.append(Record(rel, name, split))
                found += 1
        if not found:
            out.empty.append(name if split is None else f"{split}/{name}")


def fixed_split_folders(root: Path) -> list[str] | None:
    """The split subfolders of ``root`` when it is laid out as ``train/``, ``val/``, ``test/``.

    Returns:
        The split names present, or None when ``root`` is a plain class-folder tree
        (anything besides the three split names, or no ``train/``).
    """
    names = _visible_entries(root)
    if "train" in names and set(names) <= set(SPLITS) and len(names) >= 2 and all((root / n).is_dir() for n in names):
        return [s for s in SPLITS if s in names]
    return None


def read_folders(root: Path) -> ReadResult:
    """Class-folder layout, with optional ``train/``, ``val/``, ``test/`` subfolders fixing the split."""
    splits = fixed_split_folders(root)
    out = ReadResult(root, "folders+split" if splits else "folders", [])
    if splits:
        for s in splits:
            _read_class_tree(root, root / s, s, out)
    else:
        _read_class_tree(root, root, None, out)
    return out


BOX_COLUMNS = ("x0", "y0", "x1", "y1")
"""A CSV's box columns: the car's box in the ROI convention (:mod:`carspotter.model.roi`)."""


def _csv_box(row: dict, where: str) -> tuple[int, int, int, int] | None:
    """The row's ``x0,y0,x1,y1`` as whole pixels, or None when all four are empty.

    Raises:
        DatasetError: some but not all given, not whole numbers, negative, or empty (x1 <= x0 or y1 <= y0).
    """
    from carspotter.model.roi import RoiError, check_roi

    texts = [(row.get(c) or "").strip() for c in BOX_COLUMNS]
    if not any(texts):
        return None
    if not all(texts):
        raise DatasetError(f"{where}: box columns x0,y0,x1,y1 must be all given or all empty (got {','.join(texts)})")
    try:
        values = [float(t) for t in texts]
        # the photo's size is checked when it is decoded; here only what the row alone can break
        return tuple(check_roi(values, max(values[2], 1), max(values[3], 1)))
    except (ValueError, RoiError) as exc:
        raise DatasetError(f"{where}: bad box {','.join(texts)} ({exc})") from None


def _has_box_columns(path: Path, columns: list[str], crop: bool) -> bool:
    """Whether the CSV's header has the four box columns.

    Raises:
        DatasetError: some but not all four; UsageError: ``crop`` without them.
    """
    has_box = all(c in columns for c in BOX_COLUMNS)
    if any(c in columns for c in BOX_COLUMNS) and not has_box:
        raise DatasetError(f"{path}: box columns need all four of x0,y0,x1,y1 (found: {','.join(columns)})")
    if crop and not has_box:
        raise UsageError(f"--crop-to-box: {path} has no box columns x0,y0,x1,y1")
    return has_box


def read_csv(path: Path, crop: bool = False) -> ReadResult:
    """CSV manifest with a header row: ``path,label`` and optionally ``split`` and the box columns ``x0,y0,x1,y1``.

    Args:
        crop: give the model each photo's box as its region of interest (rows without a box: the whole photo).

    Raises:
        DatasetError: unreadable file, missing columns, empty fields, a bad split value or a bad box
            (the message names the file and the line).
    """
    root = Path(os.path.abspath(path.parent))
    out = ReadResult(root, "csv", [])
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with f:
        try:
            reader = csv.DictReader(f)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            if "path" not in columns or "label" not in columns:
                raise DatasetError(
                    f"{path}: the header must name the columns path,label[,split] (found: {','.join(columns) or 'nothing'})"
                )
            reader.fieldnames = columns
            has_split, has_box = "split" in columns, _has_box_columns(path, columns, crop)
            for row in reader:
                line = reader.line_num
                p, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
                if not p or not label:
                    raise DatasetError(f"{path}:{line}: empty path or label; every row needs both")
                problem = check_class_name(label)
                if problem:
                    raise DatasetError(f"{path}:{line}: {problem}")
                split = None
                if has_split:
                    split = (row.get("split") or "").strip().lower()
                    if split == "validation":
                        split = "val"
                    if split not in SPLITS:
                        raise DatasetError(f"{path}:{line}: split {row.get('split')!r} is not one of train, val, test")
                full = Path(os.path.abspath(Path(p) if os.path.isabs(p) else root / p))
                if not full.is_file():
                    raise DatasetError(f"{path}:{line}: photo {p} not found (relative paths start at {root})")
                box = _csv_box(row, f"{path}:{line}") if has_box else None
                if _is_photo(str(full), out.ignored):
                    out.records.append(Record(str(full), label, split, box if crop else None, box))
        except UnicodeDecodeError:
            raise DatasetError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
        except csv.Error as exc:
            raise DatasetError(f"{path}: not a readable CSV ({exc})") from None
    if not out.records:
        raise DatasetError(f"{path}: no photo rows; expected a header path,label[,split] and one row per photo")
    # Paths relative to the deepest folder holding the CSV and every photo.
    out.root = Path(os.path.commonpath([str(root)] + [r.path for r in out.records]))
    for r in out.records:
        r.path = str(Path(r.path).relative_to(out.root))
    return out


def _devkit_file(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / "devkit" / name):
        if candidate.is_file():
            return candidate
    return None


def is_devkit(root: Path) -> bool:
    """True when ``root`` holds the Stanford Cars devkit's ``cars_train_annos.mat``."""
    return _devkit_file(root, "cars_train_annos.mat") is not None


def read_devkit(root: Path, crop: bool = False) -> ReadResult:
    """Stanford Cars devkit: ``cars_train_annos.mat`` + ``cars_meta.mat`` + ``cars_train/``.

    The annotation fields are ``bbox_x1, bbox_y1, bbox_x2, bbox_y2, class, fname`` with
    1-based class indices into ``cars_meta.mat``'s ``class_names`` and inclusive pixel
    boxes (devkit README); each becomes the ROI ``(x1 - 1, y1 - 1, x2, y2)`` (:mod:`carspotter.model.roi`: 0-based,
    half-open; refused when decoded if it leaves the photo), given to the model with ``crop``. Read with
    ``scipy.io.loadmat``. A ``/`` in a class name is written as ``-`` (it cannot be a
    folder name in exports and reports), as in ``../shared/data``.

    Raises:
        DatasetError: missing or unreadable files, or annotations without the fields above.
    """
    from scipy.io import loadmat

    annos_path, meta_path = _devkit_file(root, "cars_train_annos.mat"), _devkit_file(root, "cars_meta.mat")
    if annos_path is None or meta_path is None:
        raise DatasetError(
            f"{root}: a Stanford Cars devkit needs cars_train_annos.mat and cars_meta.mat (in it or in devkit/)"
        )
    images = root / "cars_train"
    if not images.is_dir():
        raise DatasetError(f"{root}: photos folder cars_train/ not found beside the devkit")
    try:
        meta = loadmat(str(meta_path), squeeze_me=True)
        annos = loadmat(str(annos_path), squeeze_me=True)
    except Exception as exc:  # scipy raises ValueError, TypeError, MatReadError...
        raise DatasetError(f"{annos_path.parent}: cannot read the devkit .mat files ({exc})") from None
    try:
        names = [str(n).replace("/", "-") for n in meta["class_names"]]
        table = annos["annotations"]
        fields = ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")
        missing = [f for f in fields if f not in (table.dtype.names or ())]
    except (KeyError, AttributeError, TypeError) as exc:
        raise DatasetError(f"{meta_path.parent}: not the Stanford Cars devkit layout (missing {exc})") from None
    if missing:
        raise DatasetError(f"{annos_path}: annotations lack the fields {', '.join(missing)}")
    out = ReadResult(root, "devkit", [])
    for row in table.reshape(-1):
        cls = int(row["class"])
        if not 1 <= cls <= len(names):
            raise DatasetError(
                f"{annos_path}: class index {cls} of {row['fname']} is outside 1..{len(names)} of {meta_path.name}"
            )
        rel = str((images / str(row["fname"])).relative_to(root))
        x1, y1, x2, y2 = (int(row[k]) for k in fields[:4])
        annotated = (x1 - 1, y1 - 1, x2, y2)  # 1-based inclusive -> 0-based, right/bottom exclusive (the ROI's)
        if not (root / rel).is_file():
            out.ignored.append((rel, "listed in the devkit annotations but not found"))
            continue
        out.records.append(Record(rel, names[cls - 1], None, annotated if crop else None, annotated))
    return out


def read(data: str | Path, fmt: str = "auto", crop: bool = False) -> ReadResult:
    """Read a dataset in any supported layout (see the module docstring).

    Args:
        data: a folder, or a ``.csv`` manifest.
        fmt: one of :data:`FORMATS`; ``auto`` picks ``csv`` for a file, ``devkit`` for a
            folder holding the devkit's ``cars_train_annos.mat``, else ``folders``.
        crop: give the model each photo's box as its region of interest (a CSV's x0,y0,x1,y1 columns or the devkit's).

    Raises:
        DatasetError: missing path, or a layout that does not match ``fmt``.
        UsageError: an unknown ``fmt``, or ``crop`` with a layout that has no boxes.
    """
    path = Path(data)
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt}: must be one of {', '.join(FORMATS)}")
    if not path.exists():
        raise DatasetError(
            f"{path}: no such file or folder; pass a class-folder tree, a .csv manifest or a Stanford Cars devkit folder"
        )
    path = path.resolve()
    if fmt == "auto":
        fmt = "csv" if path.is_file() else "devkit" if is_devkit(path) else "folders"
    if crop and fmt not in ("devkit", "csv"):
        raise UsageError(
            f"--crop-to-box needs bounding boxes: a CSV with x0,y0,x1,y1 columns or the Stanford Cars devkit "
            f"({path} is read as {fmt})"
        )
    if fmt == "csv":
        if not path.is_file():
            raise DatasetError(f"{path}: --format csv needs a .csv file")
        return read_csv(path, crop)
    if not path.is_dir():
        raise DatasetError(
            f"{path}: not a folder; pass a folder with one subfolder of photos per class, or a .csv manifest"
        )
    if fmt == "devkit":
        return read_devkit(path, crop)
    return read_folders(path)
