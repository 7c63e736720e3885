"""The split files of a run folder (:mod:`carspotter.contracts.runfolder`): ``split_train.csv``, ``split_val.csv``,
``split_test.csv``, one :class:`SplitRow` per photo."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from carspotter.util.atomic import atomic_write
from carspotter.util.errors import RunError


@dataclass
class SplitRow:
    """One photo of a split file.

    Attributes:
        path: photo path relative to the run's data folder (run.json ``data.dir``).
        label: class index.
        class_name: the class's name (for people reading the CSV).
        box: crop box ``(left, top, right, bottom)`` in pixels, or None for the whole photo.
    """

    path: str
    label: int
    class_name: str = ""
    box: tuple[int, int, int, int] | None = None


def write_split(path: Path, rows: list[SplitRow]) -> None:
    """Write a split as CSV with header ``path,label,class,box`` (``box`` is ``left top right
    bottom`` in pixels, empty for the whole photo), atomically."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["path", "label", "class", "box"])
    for r in rows:
        w.writerow([r.path, r.label, r.class_name, " ".join(map(str, r.box)) if r.box else ""])
    atomic_write(path, buf.getvalue())


def read_split(path: Path) -> list[SplitRow]:
    """Read a split CSV written by :func:`write_split`.

    Raises:
        RunError: the file is missing or not a split file.
    """
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return [
                SplitRow(
                    row["path"],
                    int(row["label"]),
                    row.get("class") or "",
                    tuple(int(v) for v in row["box"].split()) if row.get("box") else None,
                )
                for row in csv.DictReader(f)
            ]
    except FileNotFoundError:
        raise RunError(f"{path}: the run's split file is missing; train again") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise RunError(f"{path}: not a split file written by carspotter train ({exc}); train again") from None
