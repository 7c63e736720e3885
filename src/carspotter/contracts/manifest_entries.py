"""The entries of ``manifest.json`` (:mod:`carspotter.contracts.manifest`): one per format
(:class:`FormatEntry`), one per built variant of it (:class:`VariantRecord`), and how variants were chosen
(:class:`VariantsInfo`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from carspotter.measure.gates import Gates, VariantFigures


@dataclass
class VariantRecord:
    """One built variant of a format, shipped or not.

    Attributes:
        family: precision family (``fp32``, ``fp16``, ``int8``, ``lowbit``).
        precision: precision of the file (the family, as the exporter reports it).
        bytes: file (or package folder) size.
        export_s: conversion seconds.
        figures: measured on the run's test photos.
        gate: the gate verdict's text; ``gate_passed`` its decision.
        gate_enforced: False when built without ``--variants`` (figures recorded only).
        shipped: in the bundle; ``path`` is its bundle-relative path then, else None.
        ms_per_photo: mean latency of one photo at export, on the measuring runtime of this machine
            (ms); None where that runtime is not timed (the MIL execution).
        accelerators: the phone-accelerator check of the file (:mod:`carspotter.model.accelerators`:
            ONNX Runtime's mobile usability check, LiteRT's GPU-delegate analyzer), or None.
        use: what the variant is for (the registry's ``VariantSpec.use``).
        gate_figures: with ``--variants``, measured on the gate photos (every photo of the run no representative
            dataset used, ``VariantsInfo.gate_photos`` of them): what the gate judged; None otherwise (then the
            gate judged ``figures``).
        drift: for a variant its gate left out, its per-layer drift against the reference
            (:meth:`carspotter.measure.drift.Drift.to_json`: probes, first layer beyond tolerance, contributors); None
            for a shipped one or where the format exposes no intermediate tensors.
        plan: a mixed-precision variant's plan (bits per layer, how it was chosen: the converter's ``plan`` fact),
            else None.
    """

    family: str
    precision: str
    bytes: int
    export_s: float
    figures: VariantFigures
    gate: str
    gate_passed: bool
    gate_enforced: bool
    shipped: bool
    path: str | None = None
    ms_per_photo: float | None = None
    accelerators: dict | None = None
    use: str = ""
    gate_figures: VariantFigures | None = None
    drift: dict | None = None
    plan: dict | None = None

    @property
    def judged(self) -> VariantFigures:
        """The figures the gate judged: on the gate photos when measured there, else on the test photos."""
        return self.gate_figures or self.figures

    def to_json(self) -> dict:
        return {
            "family": self.family,
            "precision": self.precision,
            "bytes": self.bytes,
            "export_s": self.export_s,
            "figures": self.figures.to_json(),
            "gate": self.gate,
            "gate_passed": self.gate_passed,
            "gate_enforced": self.gate_enforced,
            "shipped": self.shipped,
            "path": self.path,
            "ms_per_photo": self.ms_per_photo,
            "accelerators": self.accelerators,
            "use": self.use,
            "gate_figures": self.gate_figures.to_json() if self.gate_figures else None,
            "drift": self.drift,
            "plan": self.plan,
        }

    @classmethod
    def from_json(cls, d: dict) -> "VariantRecord":
        return cls(
            d["family"],
            d["precision"],
            int(d["bytes"]),
            float(d.get("export_s", 0.0)),
            VariantFigures.from_json(d["figures"]),
            d["gate"],
            bool(d["gate_passed"]),
            bool(d["gate_enforced"]),
            bool(d["shipped"]),
            d["path"],
            d.get("ms_per_photo"),
            d.get("accelerators"),
            d.get("use", ""),
            VariantFigures.from_json(d["gate_figures"]) if d.get("gate_figures") else None,
            d.get("drift"),
            d.get("plan"),
        )


_FORMAT_KEYS = (
    "platform",
    "path",
    "labels",
    "readme",
    "precision",
    "bytes",
    "export_s",
    "default_variant",
    "default_reason",
    "variants",
)


@dataclass
class FormatEntry:
    """One format in a bundle.

    Attributes:
        platform: bundle folder (``ios``, ``android``, ``onnx``).
        path, labels, readme: bundle-relative paths of the default model, labels.txt and README.md.
        precision: the default variant's precision.
        bytes, export_s: the default variant's size and conversion time.
        default_variant: the variant shipped under the format's plain file name.
        default_reason: why it is the default.
        variants: every variant built.
        facts: what the exporter reported (runtime, input/output tensors, opset, ops, ...).
    """

    platform: str
    path: str
    labels: str
    readme: str
    precision: str
    bytes: int
    export_s: float
    default_variant: str
    default_reason: str
    variants: dict[str, VariantRecord]
    facts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "path": self.path,
            "labels": self.labels,
            "readme": self.readme,
            "precision": self.precision,
            "bytes": self.bytes,
            "export_s": self.export_s,
            **self.facts,
            "default_variant": self.default_variant,
            "default_reason": self.default_reason,
            "variants": {k: v.to_json() for k, v in self.variants.items()},
        }

    @classmethod
    def from_json(cls, d: dict) -> "FormatEntry":
        return cls(
            d["platform"],
            d["path"],
            d["labels"],
            d["readme"],
            d["precision"],
            int(d["bytes"]),
            float(d["export_s"]),
            d["default_variant"],
            d.get("default_reason", ""),
            {k: VariantRecord.from_json(v) for k, v in d["variants"].items()},
            {k: v for k, v in d.items() if k not in _FORMAT_KEYS},
        )

    def shipped(self) -> dict[str, VariantRecord]:
        """The variants in the bundle, by name."""
        return {k: v for k, v in self.variants.items() if v.shipped}


GATE_RULE = (
    "fp32: the top-3 parity rule; fp16: the lower bound of the top-1 agreement's 95 % Wilson interval "
    ">= fp16_min_agreement; int8 and lowbit: the lower bound of the paired top-1 difference (variant minus "
    "reference, 95 % Newcombe) >= -int8_max_top1_drop and the agreement's lower bound >= int8_min_agreement; "
    "near-ties counted as agreeing"
)
"""The gates' rule, recorded in every manifest beside the numbers (:mod:`carspotter.measure.gates`)."""


@dataclass
class VariantsInfo:
    """How variants were chosen and measured: ``--variants``, the gates, the photo counts."""

    requested: str | None
    gates: Gates
    gates_enforced: bool
    calibration_photos: int
    evaluation_photos: int
    gate_photos: int = 0
    gate_source: str = ""

    def to_json(self) -> dict:
        return {
            "requested": self.requested,
            "gates": self.gates.to_json(),
            "gates_enforced": self.gates_enforced,
            "calibration_photos": self.calibration_photos,
            "evaluation_photos": self.evaluation_photos,
            "gate_photos": self.gate_photos,
            "gate_source": self.gate_source,
            "gate_rule": GATE_RULE,
        }

    @classmethod
    def from_json(cls, d: dict) -> "VariantsInfo":
        return cls(
            d["requested"],
            Gates.from_json(d["gates"]),
            bool(d["gates_enforced"]),
            int(d["calibration_photos"]),
            int(d["evaluation_photos"]),
            int(d.get("gate_photos", 0)),
            d.get("gate_source", ""),
        )
