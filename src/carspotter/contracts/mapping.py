"""Class mapping file: rename or merge classes before the split.

A JSON object ``{"class as written": "class to train"}``, or a CSV with the header
``from,to``. Two names mapped to one merge (e.g. ``"Audi TT 2.0"`` and ``"Audi TT TDI"`` ->
``"Audi TT"``); classes not named keep their name. A source name that matches no class in
the data is an error (a typo would otherwise pass silently).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from carspotter.util.errors import DatasetError
from carspotter.contracts.readers import check_class_name


def read_mapping(path: str | Path) -> dict[str, str]:
    """Read a mapping file (``.json`` or ``.csv``).

    Returns:
        ``{source class name: target class name}``.

    Raises:
        DatasetError: missing or malformed file, or a target that is not a usable class
            name (the message names the file and the fix).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: mapping file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text; save the mapping file as UTF-8") from None
    if path.suffix.lower() == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if not rows or [c.strip() for c in rows[0][:2]] != ["from", "to"]:
            raise DatasetError(f"{path}: a CSV mapping needs the header from,to")
        mapping = {}
        for i, row in enumerate(rows[1:], start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != 2:
                raise DatasetError(f"{path}:{i}: expected two columns from,to (quote names that contain commas)")
            mapping[row[0].strip()] = row[1].strip()
    else:
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(
                f'{path}: not valid JSON ({exc.msg} at line {exc.lineno}); expected {{"from class": "to class"}}'
            ) from None
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise DatasetError(
                f'{path}: expected a JSON object of class names to class names, e.g. {{"Audi TT TDI": "Audi TT"}}'
            )
    for source, target in mapping.items():
        problem = check_class_name(target)
        if problem:
            raise DatasetError(f"{path}: target of {source!r}: {problem}")
    return mapping


def apply_mapping(labels: set[str], mapping: dict[str, str], path: str | Path) -> dict[str, str]:
    """The final class name of each label found in the data.

    Args:
        labels: class names as the reader found them.
        mapping: from :func:`read_mapping`.
        path: the mapping file (for the error message).

    Returns:
        ``{label as found: class name to train}`` for every label.

    Raises:
        DatasetError: a mapping source that is not a class in the data.
    """
    unknown = sorted(set(mapping) - labels)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise DatasetError(
            f"{path}: {len(unknown)} source name(s) match no class in the data: {shown}; fix the spelling or remove them"
        )
    return {label: mapping.get(label, label) for label in labels}
