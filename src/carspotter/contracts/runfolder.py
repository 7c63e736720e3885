"""The run folder: the contract between ``carspotter train`` and ``carspotter export``.

``runs/NAME/`` holds ``model.keras`` (the reference model), ``labels.txt`` (one class
per line, index order), ``run.json`` (validated against :data:`RUN_SCHEMA`, read into a
typed :class:`Run`) and the split files ``split_train.csv``, ``split_val.csv``,
``split_test.csv`` (read into :class:`carspotter.contracts.split_files.SplitRow`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema

from carspotter.util.atomic import atomic_write
from carspotter.contracts.split_files import SplitRow, read_split
from carspotter.util.errors import RunError
from carspotter.model.spec import InputSpec

RUN_SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test")
RUN_FILES = ("model.keras", "labels.txt", "run.json") + tuple(f"split_{s}.csv" for s in SPLITS)

_metrics = {
    "type": "object",
    "required": ["top1", "top3", "count"],
    "properties": {
        "top1": {"type": "number", "minimum": 0, "maximum": 1},
        "top3": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer", "minimum": 0},
    },
}
RUN_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "schema_version",
        "input",
        "preprocessing",
        "classes",
        "data",
        "weights",
        "splits",
        "metrics",
        "seed",
        "versions",
        "timing_s",
    ],
    "properties": {
        "schema_version": {"const": RUN_SCHEMA_VERSION},
        "input": {
            "type": "object",
            "required": ["name", "shape", "dtype", "pixel_range", "model_input_range"],
            "properties": {
                "shape": {"type": "array", "items": {"type": ["integer", "null"]}, "minItems": 4, "maxItems": 4}
            },
        },
        "preprocessing": {"type": "object", "required": ["resize"]},
        "classes": {
            "type": "object",
            "required": ["names", "counts"],
            "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 2}},
        },
        "data": {"type": "object", "required": ["dir"], "properties": {"dir": {"type": "string"}}},
        "weights": {"type": "object", "required": ["requested", "used", "input_range"]},
        "splits": {"type": "object", "required": list(SPLITS), "additionalProperties": {"type": "string"}},
        "metrics": {"type": "object", "required": ["val", "test"], "properties": {"val": _metrics, "test": _metrics}},
        "seed": {"type": "integer"},
        "versions": {"type": "object"},
        "timing_s": {"type": "object"},
        "confidence": {
            "type": "object",
            "required": ["temperature", "target_precision", "threshold"],
            "properties": {
                "temperature": {
                    "type": "object",
                    "required": ["value", "adopted"],
                    "properties": {"value": {"type": "number", "exclusiveMinimum": 0}},
                },
                "target_precision": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "threshold": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                "negative_class": {"type": ["string", "null"]},
            },
        },
    },
}


@dataclass
class SplitMetrics:
    """Accuracy of the reference on one split (rates 0..1) on ``count`` photos, with the 95 % Wilson interval of
    top-1 and top-3 (:mod:`carspotter.measure.intervals`; runs made before intervals have none recorded)."""

    top1: float
    top3: float
    count: int
    macro_f1: float | None = None
    top1_ci: list[float] | None = None
    top3_ci: list[float] | None = None

    def __post_init__(self):
        from carspotter.measure.intervals import wilson

        if self.top1_ci is None and self.count:
            self.top1_ci = list(wilson(round(self.top1 * self.count), self.count))
            self.top3_ci = list(wilson(round(self.top3 * self.count), self.count))

    def to_json(self) -> dict:
        out = {"top1": self.top1, "top3": self.top3, "count": self.count}
        if self.macro_f1 is not None:
            out["macro_f1"] = self.macro_f1
        if self.top1_ci is not None:
            out.update(top1_ci=self.top1_ci, top3_ci=self.top3_ci, interval="Wilson 95 %")
        return out


@dataclass
class Classes:
    """The classes of a run.

    Attributes:
        names: C class names in index order (labels.txt).
        counts: ``{split: [photos per class]}``.
        dropped: ``{class: reason}`` for classes left out.
        renamed: ``{class as written: class trained}`` from a mapping file.
    """

    names: list[str]
    counts: dict[str, list[int]]
    dropped: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"names": self.names, "counts": self.counts, "dropped": self.dropped, "renamed": self.renamed}


@dataclass
class Confidence:
    """What an app needs to act on a probability (from run.json ``confidence``).

    Attributes:
        temperature: T folded into the model's head (1.0 = not adopted); probabilities of
            every format are already divided by it.
        target_precision: wanted precision (0..1) of the answers shown.
        threshold: show the top-1 answer only when its probability is at least this (0..1);
            None when no threshold could be chosen (see ``reason``).
        reason: why this threshold (or none).
        test_precision / test_coverage: measured on the test split at ``threshold`` (0..1).
        negative_class: the ``(not a car)`` class name when the run was trained with negatives.
        calibration: test-split ``{"ece_before", "ece_after", "nll_before", "nll_after"}`` at
            T = 1 and at the fitted T (ECE 0..1, NLL in nats), plus ``adopted``.
        not_car: ``{"count", "rejected", "auroc"}`` on carspotter's non-car images (rates 0..1).
    """

    temperature: float
    target_precision: float
    threshold: float | None
    reason: str = ""
    test_precision: float | None = None
    test_coverage: float | None = None
    negative_class: str | None = None
    calibration: dict = field(default_factory=dict)
    not_car: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> "Confidence":
        """From run.json's ``confidence`` record (:func:`carspotter.train.calibrate.confidence`)."""
        test = (doc.get("selective") or {}).get("test") or {}
        split = doc.get("splits", {}).get("test", {})
        calibration = {k: split[k] for k in ("ece_before", "ece_after", "nll_before", "nll_after") if k in split}
        calibration["adopted"] = bool(doc["temperature"].get("adopted"))
        not_car = {k: doc["not_car"][k] for k in ("count", "rejected", "auroc")} if doc.get("not_car") else {}
        return cls(
            float(doc["temperature"]["value"]),
            float(doc["target_precision"]),
            doc["threshold"],
            doc.get("threshold_reason", ""),
            test.get("precision"),
            test.get("coverage"),
            doc.get("negative_class"),
            calibration,
            not_car,
        )

    def to_json(self) -> dict:
        return {
            "temperature": self.temperature,
            "target_precision": self.target_precision,
            "threshold": self.threshold,
            "reason": self.reason,
            "test_precision": self.test_precision,
            "test_coverage": self.test_coverage,
            "negative_class": self.negative_class,
            "calibration": self.calibration,
            "not_car": self.not_car,
        }


_TYPED = ("schema_version", "input", "output", "classes", "data", "splits", "metrics", "seed")


@dataclass
class Run:
    """run.json in memory (see :data:`RUN_SCHEMA`); ``dir`` is where it was read from.

    Attributes:
        input: the model's input spec.
        classes: class names and counts.
        data: ``dir`` (absolute data folder the split paths are relative to), ``format``,
            skipped photos, conflicts and the other facts of the dataset.
        weights: what the backbone was initialised from.
        splits: ``{split: split file name}``.
        metrics: ``{"val": SplitMetrics, "test": SplitMetrics}``.
        seed: seed of split, shuffling, augmentation and initialization.
        record: every other run.json field (preprocessing, history, phases, training,
            config, versions, timing_s, resumed, ...), kept as written.
        dir: the run folder (None before it is written).
    """

    input: InputSpec
    classes: Classes
    data: dict
    weights: dict
    splits: dict[str, str]
    metrics: dict[str, SplitMetrics]
    seed: int
    record: dict = field(default_factory=dict)
    dir: Path | None = None

    @property
    def labels(self) -> list[str]:
        """C class names in index order."""
        return self.classes.names

    @property
    def name(self) -> str:
        """The run folder's name (how bundles refer to their run)."""
        return self.dir.name if self.dir else ""

    @property
    def data_dir(self) -> Path:
        """The data folder the split paths are relative to, as recorded at training."""
        return Path(self.data["dir"])

    @property
    def confidence(self) -> "Confidence | None":
        """The calibration and "not sure" threshold of the run (run.json ``confidence``), or None
        for a run trained before carspotter recorded them."""
        doc = self.record.get("confidence")
        return Confidence.from_json(doc) if doc else None

    def split_rows(self, split: str) -> list[SplitRow]:
        """Rows of one split file (``train``, ``val`` or ``test``).

        Raises:
            RunError: the split file is missing or unreadable.
        """
        return read_split(self.dir / self.splits[split])

    def to_json(self) -> dict:
        out = {
            "schema_version": RUN_SCHEMA_VERSION,
            **{k: v for k, v in self.record.items() if k not in ("input", "output")},
            "input": self.input.to_json(),
            "output": self.input.output_json(len(self.labels)),
            "classes": self.classes.to_json(),
            "data": self.data,
            "weights": self.weights,
            "splits": self.splits,
            "metrics": {k: m.to_json() for k, m in self.metrics.items()},
            "seed": self.seed,
        }
        return out

    @classmethod
    def from_json(cls, doc: dict, run_dir: Path | None = None) -> "Run":
        """Build from a schema-valid run.json document.

        Raises:
            KeyError, ValueError, TypeError: a document the schema let through but that does not fit.
        """
        c = doc["classes"]
        return cls(
            input=InputSpec.from_json(doc["input"]),
            classes=Classes(
                list(c["names"]), dict(c["counts"]), dict(c.get("dropped", {})), dict(c.get("renamed", {}))
            ),
            data=dict(doc["data"]),
            weights=dict(doc["weights"]),
            splits=dict(doc["splits"]),
            metrics={
                k: SplitMetrics(**{f: v for f, v in m.items() if f != "interval"}) for k, m in doc["metrics"].items()
            },
            seed=int(doc["seed"]),
            record={k: v for k, v in doc.items() if k not in _TYPED + ("weights",)},
            dir=run_dir,
        )


def read_run(run_dir: str | Path) -> Run:
    """Read and validate ``run.json`` and ``labels.txt`` of a run folder.

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
    path = run_dir / "run.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, RUN_SCHEMA)
        run = Run.from_json(doc, run_dir.resolve())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: not valid JSON ({exc}); train again") from None
    except jsonschema.ValidationError as exc:
        raise RunError(
            f"{path}: does not match run schema v{RUN_SCHEMA_VERSION} ({exc.message} at "
            f"{'/'.join(map(str, exc.absolute_path))})"
        ) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise RunError(
            f"{path}: does not match run schema v{RUN_SCHEMA_VERSION} ({type(exc).__name__}: {exc}); train again"
        ) from None
    if read_labels(run_dir / "labels.txt") != run.labels:
        raise RunError(f"{run_dir / 'labels.txt'}: disagrees with run.json classes.names; train again")
    return run


def write_run_json(folder: Path, run: Run) -> None:
    """Validate ``run`` against :data:`RUN_SCHEMA` and write ``folder/run.json`` atomically."""
    doc = run.to_json()
    jsonschema.validate(doc, RUN_SCHEMA)
    atomic_write(folder / "run.json", json.dumps(doc, indent=2, ensure_ascii=False))


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
    atomic_write(path, "".join(n + "\n" for n in labels))
