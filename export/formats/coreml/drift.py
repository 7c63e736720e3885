"""Every intermediate tensor of a Core ML package as the MIL execution runs it, for per-layer drift
(:mod:`carspotter.measure.drift`): the program translated to an ONNX graph (:mod:`.mil_to_onnx`) with every tensor
exposed (:class:`carspotter.export.formats.onnx.drift.OnnxTensors`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carspotter.export.formats.onnx.drift import OnnxTensors


def mil_tensors(path: Path, mode: str) -> OnnxTensors:
    """:class:`OnnxTensors` of a Core ML ``.mlpackage`` as the MIL execution runs it (``mode``: ``fp32`` or ``fp16``).

    Raises:
        MILExecutionError: an op the translation does not implement (named).
    """
    from carspotter.export.formats.coreml.mil_program import load_mlpackage
    from carspotter.export.formats.coreml.mil_to_onnx import translate

    return OnnxTensors(translate(load_mlpackage(path), mode), lambda px: {"input": np.asarray(px, dtype=np.float32)})


def mil_intermediates(path: Path, variant) -> OnnxTensors:
    """``Execution.intermediates`` of a Core ML package: the MIL execution in the variant's own mode."""
    return mil_tensors(path, variant.mil_mode or "fp32")
