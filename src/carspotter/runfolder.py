"""The run folder: the contract between ``carspotter train`` and ``carspotter export``.

``runs/NAME/`` holds ``model.keras`` (the reference model), ``labels.txt`` (one class
per line, index order), ``run.json`` (validated against :data:`RUN_SCHEMA`) and the split
files ``split_train.csv``, ``split_val.csv``, ``split_test.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from carspotter.errors import RunError

RUN_SCHEMA_VERSION = 1
RUN_FILES = ("model.keras", "labels.txt", "run.json", "split_train.csv", "split_val.csv", "split_test.csv")

_metrics = {
    "type": "object",
    "required": ["top1", "top3", "count"],
    "properties": {"top1": {"type": "number", "minimum": 0, "maximum": 1},
                   "top3": {"type": "number", "minimum": 0, "maximum": 1},
                   "count": {"type": "integer", "minimum": 0}},
}
RUN_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "input", "preprocessing", "classes", "weights", "splits", "metrics", "seed", "versions", "timing_s"],
    "properties": {
        "schema_version": {"const": RUN_SCHEMA_VERSION},
        "input": {"type": "object", "required": ["name", "shape", "dtype", "pixel_range", "model_input_range"],
                  "properties": {"shape": {"type": "array", "items": {"type": ["integer", "null"]}, "minItems": 4, "maxItems": 4}}},
        "preprocessing": {"type": "object", "required": ["resize"]},
        "classes": {"type": "object", "required": ["names", "counts"],
                    "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 2}}},
        "weights": {"type": "object", "required": ["requested", "used", "input_range"]},
        "splits": {"type": "object", "required": ["train", "val", "test"]},
        "metrics": {"type": "object", "required": ["val", "test"], "properties": {"val": _metrics, "test": _metrics}},
        "seed": {"type": "integer"},
        "versions": {"type": "object"},
        "timing_s": {"type": "object"},
    },
}


def read_run(run_dir: str | Path) -> dict:
    """Read and validate ``run.json`` and ``labels.txt`` of a run folder.

    Returns:
        The run.json dict, with ``"_dir"`` set to the absolute run folder.

    Raises:
        RunError: folder or a file missing, invalid JSON, schema mismatch, or labels.txt
            disagreeing with run.json.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder; make one with `carspotter train DATA_DIR --out {run_dir}`")
    missing = [f for f in RUN_FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunError(f"{run_dir}: not a complete run folder (missing {', '.join(missing)}); train again")
    try:
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        jsonschema.validate(run, RUN_SCHEMA)
    except json.JSONDecodeError as exc:
        raise RunError(f"{run_dir / 'run.json'}: not valid JSON ({exc}); train again") from None
    except jsonschema.ValidationError as exc:
        raise RunError(f"{run_dir / 'run.json'}: does not match run schema v{RUN_SCHEMA_VERSION} ({exc.message} at {'/'.join(map(str, exc.absolute_path))})") from None
    labels = read_labels(run_dir / "labels.txt")
    if labels != run["classes"]["names"]:
        raise RunError(f"{run_dir / 'labels.txt'}: disagrees with run.json classes.names; train again")
    run["_dir"] = str(run_dir.resolve())
    return run


def read_labels(path: Path) -> list[str]:
    """Class names from a labels.txt (UTF-8, one per line, index order)."""
    return path.read_text(encoding="utf-8").splitlines()


def write_labels(path: Path, labels: list[str]) -> None:
    """Write labels.txt: UTF-8, one class per line, index order, trailing newline.

    Raises:
        ValueError: a label contains a line break (it would shift every later index).
    """
    for name in labels:
        if "\n" in name or "\r" in name:
            raise ValueError(f"class name {name!r} contains a line break")
    path.write_text("".join(n + "\n" for n in labels), encoding="utf-8")
