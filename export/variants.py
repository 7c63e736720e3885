"""Reduced-precision variants of every format, measured on real photos and gated by accuracy.

One table, :data:`VARIANTS`, lists each format's variants. ``carspotter export
--variants fp32,fp16,int8`` picks precision families; every selected variant is built,
evaluated on the run's test photos against the Keras reference and the true labels,
and shipped only if it passes its gate (:class:`Gates`). Each platform ships one
default: the first passing variant in :data:`DEFAULT_PREFERENCE`.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from carspotter.errors import ExportError
from carspotter.parity_tests.compare import compare_top3
from carspotter.parity_tests.tolerances import max_abs_diff_for, tau_for


@dataclass(frozen=True)
class Variant:
    """One buildable variant.

    Attributes:
        format: ``coreml``, ``tflite`` or ``onnx``.
        name: e.g. ``fp16``, ``int8-dynamic``.
        family: ``fp32``, ``fp16`` or ``int8``: what ``--variants`` selects.
        needs_calibration: built from representative training photos.
    """

    format: str
    name: str
    family: str
    needs_calibration: bool = False


VARIANTS = (
    Variant("coreml", "fp16", "fp16"),
    Variant("coreml", "fp32", "fp32"),
    Variant("coreml", "int8-weights", "int8"),
    Variant("tflite", "fp32", "fp32"),
    Variant("tflite", "fp16", "fp16"),
    Variant("tflite", "int8-dynamic", "int8"),
    Variant("tflite", "int8-full", "int8", needs_calibration=True),
    Variant("onnx", "fp32", "fp32"),
    Variant("onnx", "fp16", "fp16"),
    Variant("onnx", "int8-qdq", "int8", needs_calibration=True),
)
FAMILIES = ("fp32", "fp16", "int8")

# Without --variants: one variant per format, as bundles have always shipped.
BASELINE = {"coreml": "fp16", "tflite": "fp32", "onnx": "fp32"}

DEFAULT_PREFERENCE = {
    # Core ML's own default for ML programs; runs on the GPU and Neural Engine; half of fp32.
    "coreml": ("fp16", "fp32", "int8-weights"),
    # Half the size of fp32 with fp32 accuracy, and ready for the GPU delegate; the int8
    # variants ship beside it for CPU-bound apps (4x smaller, several times faster on CPU).
    "tflite": ("fp16", "fp32", "int8-dynamic", "int8-full"),
    # ONNX Runtime's CPU kernels are fp32; fp16 there is emulated and slow.
    "onnx": ("fp32", "fp16", "int8-qdq"),
}
REASONS = {
    "coreml": "Core ML's default precision for ML programs, runs on GPU and Neural Engine, half the size of fp32",
    "tflite": "first passing of fp16 (half size, fp32 accuracy, GPU-delegate ready), fp32, int8",
    "onnx": "ONNX Runtime's CPU kernels are fp32 (fp16 is emulated there)",
}


@dataclass(frozen=True)
class Gates:
    """Accuracy gates a variant must pass to be shipped (defaults from the variants issue).

    Attributes:
        fp16_min_agreement: fp16 variants: top-1 agreement with the reference, 0..1.
        int8_max_top1_drop: int8 variants: top-1 accuracy at most this far below the
            reference's, in accuracy units (0.01 = 1.0 point).
        int8_min_agreement: int8 variants: top-1 agreement with the reference, 0..1.
    fp32 variants must pass the parity suite's top-3 rule.
    """

    fp16_min_agreement: float = 0.995
    int8_max_top1_drop: float = 0.01
    int8_min_agreement: float = 0.97


def select(families: str | None, baseline: dict[str, str] = BASELINE) -> list[Variant]:
    """Variants for a ``--variants`` value (comma-separated families); None = ``baseline``, one per format.

    Raises:
        ExportError: an unknown family name.
    """
    if families is None:
        return [v for v in VARIANTS if baseline[v.format] == v.name]
    wanted = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FAMILIES]
    if unknown or not wanted:
        raise ExportError(f"--variants {families}: choose from {','.join(FAMILIES)} (comma-separated)")
    return [v for v in VARIANTS if v.family in wanted]


def file_name(stem: str, suffix: str, variant: str, default: bool) -> str:
    """``carspotter.tflite`` for the default variant, ``carspotter.int8-full.tflite`` for others."""
    return f"{stem}{suffix}" if default else f"{stem}.{variant}{suffix}"


def evaluation_photos(run: dict, calibration_count: int = 200, need_calibration: bool = False):
    """Decode the run's test photos (with true labels) and, if needed, representative training photos.

    Args:
        run: validated run.json (``_dir`` set).
        calibration_count: representative photos, drawn from the train split with the
            run's seed; all of them if the split is smaller.

    Returns:
        ``(test pixels [N, S, S, 3] uint8, test labels [N] int, test names, representative [M, S, S, 3] uint8 or None)``.
    """
    from carspotter import photos
    from carspotter.parity_tests.photoset import split_photoset
    from carspotter.train.dataset import read_split_boxes

    size = run["input"]["shape"][1]
    data_dir = Path(run["data"]["dir"])
    test = split_photoset(Path(run["_dir"]), data_dir, run["splits"]["test"], size)
    representative = None
    if need_calibration:
        train_rows = read_split_boxes(Path(run["_dir"]) / run["splits"]["train"])
        random.Random(run["seed"]).shuffle(train_rows)
        chosen = train_rows[:calibration_count]
        representative = photos.load_photos([data_dir / p for p, _, _ in chosen], size, boxes=[b for _, _, b in chosen]).pixels
    return test.pixels, test.truth, test.names, representative


def variant_probs(fmt: str, variant: str, path: Path, pixels: np.ndarray, labels: list[str]) -> np.ndarray:
    """``[N, C]`` probabilities of one variant file on CPU (Core ML: MIL reference execution,
    fp32 mode for an fp32 program, fp16 mode otherwise)."""
    from carspotter.parity_tests import runners

    if fmt == "tflite":
        return runners.tflite_probs(path, pixels)
    if fmt == "onnx":
        return runners.onnx_probs(path, pixels)
    from carspotter.parity_tests.mil_reference import MILReference, load_mlpackage

    return MILReference(load_mlpackage(path), "fp32" if variant == "fp32" else "fp16").probabilities(pixels)


def figures(reference: np.ndarray, probs: np.ndarray, truth: np.ndarray, class_names: list[str], photo_names: list[str],
            fmt: str, variant: Variant) -> dict:
    """Accuracy, agreement and parity figures of one variant (all rates 0..1).

    Returns:
        ``{"top1", "top3", "reference_top1", "reference_top3", "top1_agreement",
        "parity": {passed, near_ties, mismatches, tau}, "max_abs_diff", "photos"}``.
    """
    from carspotter.train.report import topk_accuracy

    precision = variant.family
    parity = compare_top3(reference, probs, labels=class_names, photos=photo_names, tau=tau_for(precision),
                          max_abs_diff_limit=max_abs_diff_for(precision), format=fmt, target=variant.name, precision=precision)
    return {
        "photos": int(len(truth)),
        "top1": topk_accuracy(probs, truth, 1), "top3": topk_accuracy(probs, truth, 3),
        "reference_top1": topk_accuracy(reference, truth, 1), "reference_top3": topk_accuracy(reference, truth, 3),
        "top1_agreement": parity.top1_agreement,
        "parity": {"passed": bool(parity), "near_ties": parity.near_ties, "mismatches": len(parity.mismatches),
                   "tau": parity.tau},
        "max_abs_diff": parity.max_abs_diff,
    }


def gate(variant: Variant, fig: dict, gates: Gates) -> tuple[bool, str]:
    """Apply the variant's gate. Returns ``(passed, one-line verdict with the margin)``."""
    if variant.family == "fp32":
        ok = fig["parity"]["passed"]
        return ok, ("top-3 parity passes" if ok else
                    f"top-3 parity fails ({fig['parity']['mismatches']} photos, max |dp| {fig['max_abs_diff']:.2e})")
    if variant.family == "fp16":
        need = gates.fp16_min_agreement
        ok = fig["top1_agreement"] >= need
        return ok, f"top-1 agreement {fig['top1_agreement']:.2%} {'>=' if ok else '<'} {need:.2%} (by {abs(fig['top1_agreement'] - need):.2%})"
    drop = fig["reference_top1"] - fig["top1"]
    ok_drop = drop <= gates.int8_max_top1_drop + 1e-12
    ok_agree = fig["top1_agreement"] >= gates.int8_min_agreement
    parts = [f"top-1 accuracy {fig['top1']:.2%} vs reference {fig['reference_top1']:.2%} (drop {drop * 100:.1f} points, "
             f"limit {gates.int8_max_top1_drop * 100:.1f}{'' if ok_drop else ': FAILED'})",
             f"top-1 agreement {fig['top1_agreement']:.2%} (limit {gates.int8_min_agreement:.0%}{'' if ok_agree else ': FAILED'})"]
    return ok_drop and ok_agree, "; ".join(parts)


def gates_json(gates: Gates) -> dict:
    return asdict(gates)
