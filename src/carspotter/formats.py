"""The registry of export formats and their variants: one row per format, :data:`FORMATS`.

A row says where the format goes in a bundle (platform folder, file name), which export
module builds it, how it runs (its runtimes, the first one used to measure variants at
export unless ``measure`` says otherwise), its variants (name, precision family,
calibration, MIL mode), the variant built without ``--variants``, the order in which a
passing variant becomes the platform's default, and why. The idea is Ultralytics'
export-format table, without its dispatching method: the export stage resolves
``exporter`` (a module path: its ``export`` and ``readme`` functions), parity runs
``runtimes``. Adding a format is a row here and one export module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from carspotter import runtimes
from carspotter.errors import UsageError
from carspotter.runtimes import Runtime

FAMILIES = ("fp32", "fp16", "int8")
"""Precision families ``--variants`` selects from; each is also a row of the tolerance table."""


@dataclass(frozen=True)
class VariantSpec:
    """One buildable variant of a format.

    Attributes:
        name: e.g. ``fp16``, ``int8-dynamic``; part of the file name when not the default.
        family: ``fp32``, ``fp16`` or ``int8``: what ``--variants`` selects, the gate that
            applies, and the parity tolerance row.
        calibration: built from representative training photos.
        mil_mode: Core ML only: the MIL reference execution mode that computes it like the
            Core ML runtime does (``fp32`` or ``fp16``).
    """

    name: str
    family: str
    calibration: bool = False
    mil_mode: str | None = None


@dataclass(frozen=True)
class FormatSpec:
    """One export format (see the module docstring).

    Attributes:
        name: ``coreml``, ``tflite``, ``onnx``: the ``--formats`` value and manifest key.
        title: for people.
        platform: the bundle folder it goes in.
        filename: the default variant's file name; others are ``STEM.<variant>SUFFIX``.
        exporter: module of the export stage with ``export(...)`` and ``readme(...)``.
        variants: every variant it can build, in build order.
        baseline: the variant built without ``--variants``.
        preference: default-variant order: the first passing one becomes the default.
        reason: why that order, written into the manifest.
        runtimes: how parity runs it (the first runs on any machine).
        measure: how export measures a variant on CPU (default: ``runtimes[0]``).
    """

    name: str
    title: str
    platform: str
    filename: str
    exporter: str
    variants: tuple[VariantSpec, ...]
    baseline: str
    preference: tuple[str, ...]
    reason: str
    runtimes: tuple[Runtime, ...]
    measure: Runtime | None = field(default=None)

    def variant(self, name: str) -> VariantSpec:
        """The variant called ``name``.

        Raises:
            KeyError: no such variant of this format.
        """
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no variant {name!r} (it has {', '.join(v.name for v in self.variants)})")

    @property
    def measuring_runtime(self) -> Runtime:
        return self.measure or self.runtimes[0]

    def file_name(self, variant: str, default: bool) -> str:
        """``carspotter.tflite`` for the default variant, ``carspotter.int8-full.tflite`` for the others."""
        stem, suffix = Path(self.filename).stem, Path(self.filename).suffix
        return f"{stem}{suffix}" if default else f"{stem}.{variant}{suffix}"


FORMATS: dict[str, FormatSpec] = {f.name: f for f in (
    FormatSpec(
        name="coreml", title="Core ML", platform="ios", filename="CarSpotter.mlpackage",
        exporter="carspotter.export.coreml_export",
        variants=(VariantSpec("fp16", "fp16", mil_mode="fp16"), VariantSpec("fp32", "fp32", mil_mode="fp32"),
                  VariantSpec("int8-weights", "int8", mil_mode="fp16")),
        baseline="fp16", preference=("fp16", "fp32", "int8-weights"),
        reason="Core ML's default precision for ML programs, runs on GPU and Neural Engine, half the size of fp32",
        runtimes=(runtimes.MIL_FP32, runtimes.MIL_FP16, runtimes.COREML_PREDICT), measure=runtimes.MIL_BY_VARIANT),
    FormatSpec(
        name="tflite", title="TFLite", platform="android", filename="carspotter.tflite",
        exporter="carspotter.export.tflite_export",
        variants=(VariantSpec("fp32", "fp32"), VariantSpec("fp16", "fp16"), VariantSpec("int8-dynamic", "int8"),
                  VariantSpec("int8-full", "int8", calibration=True)),
        # Half the size of fp32 with fp32 accuracy, and ready for the GPU delegate; the int8
        # variants ship beside it for CPU-bound apps (4x smaller, several times faster on CPU).
        baseline="fp32", preference=("fp16", "fp32", "int8-dynamic", "int8-full"),
        reason="first passing of fp16 (half size, fp32 accuracy, GPU-delegate ready), fp32, int8",
        runtimes=(runtimes.LITERT, runtimes.MEDIAPIPE)),
    FormatSpec(
        name="onnx", title="ONNX", platform="onnx", filename="carspotter.onnx",
        exporter="carspotter.export.onnx_export",
        variants=(VariantSpec("fp32", "fp32"), VariantSpec("fp16", "fp16"), VariantSpec("int8-qdq", "int8", calibration=True)),
        baseline="fp32", preference=("fp32", "fp16", "int8-qdq"),
        reason="ONNX Runtime's CPU kernels are fp32 (fp16 is emulated there)",
        runtimes=(runtimes.ORT_CPU, runtimes.ORT_CUDA)),
)}


def parse_formats(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """``--formats`` value (comma-separated, or already a tuple) -> format names, in the order given.

    Raises:
        UsageError: empty, or a name not in :data:`FORMATS`.
    """
    names = tuple(f.strip() for f in text.split(",") if f.strip()) if isinstance(text, str) else tuple(text)
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise UsageError(f"--formats {','.join(names) or '(empty)'}: choose from {','.join(FORMATS)}")
    return names


def select(families: str | None, formats: tuple[str, ...] = tuple(FORMATS),
           baseline: dict[str, str] | None = None) -> dict[str, list[VariantSpec]]:
    """Variants to build per format for a ``--variants`` value (comma-separated families).

    Args:
        families: e.g. ``"fp32,fp16,int8"``; None builds each format's baseline variant.
        formats: formats to build.
        baseline: per-format baseline overrides (e.g. ``{"coreml": "fp32"}`` from
            ``--coreml-precision``).

    Raises:
        UsageError: an unknown family name, or a baseline override naming no variant.
    """
    if families is None:
        chosen = {}
        for name in formats:
            fmt = FORMATS[name]
            wanted = (baseline or {}).get(name, fmt.baseline)
            if wanted not in {v.name for v in fmt.variants}:
                raise UsageError(f"{name} variant {wanted}: choose from {', '.join(v.name for v in fmt.variants)}")
            chosen[name] = [fmt.variant(wanted)]
        return chosen
    wanted = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown or not wanted:
        raise UsageError(f"--variants {families}: choose from {','.join(FAMILIES)} (comma-separated)")
    return {name: [v for v in FORMATS[name].variants if v.family in wanted] for name in formats}
