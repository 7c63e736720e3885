"""Running a Core ML package: Core ML's ``MLModel.predict`` on macOS (:class:`CoreMLPredictSession`) and the
MIL program executed through ONNX Runtime anywhere (:class:`MILSession`); the runtimes that open them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carspotter.export.formats.coreml.inspect import coreml_predict_unavailable
from carspotter.model.localizer import BOX_OUTPUT
from carspotter.model.runtimes import Runtime
from carspotter.model.sessions import Session
from carspotter.util.errors import ComparisonError


class CoreMLPredictSession(Session):
    """Core ML's ``MLModel.predict`` (macOS only): ``classLabel_probs`` placed in label order."""

    runtime = "Core ML predict"

    def __init__(self, path: Path, labels: list[str], check: str = "coreml/predict"):
        from carspotter.export.formats.coreml.library import import_coremltools

        super().__init__(check, path)
        ct = import_coremltools()
        self.version, self.device = f"coremltools {ct.__version__}", "Core ML (macOS, compute units ALL)"
        self._model, self.labels = ct.models.MLModel(str(path)), list(labels)

    def _infer(self, pixels):
        from PIL import Image

        out, index = (
            np.zeros((len(pixels), len(self.labels)), dtype=np.float32),
            {n: i for i, n in enumerate(self.labels)},
        )
        for i, px in enumerate(pixels.astype(np.uint8)):
            for name, p in self._model.predict({"image": Image.fromarray(px)})["classLabel_probs"].items():
                out[i, index[name]] = p
        return out

    def box(self, pixels):
        from PIL import Image

        super().box(pixels)
        if BOX_OUTPUT not in {o.name for o in self._model.get_spec().description.output}:
            return None
        rows = [
            self._model.predict({"image": Image.fromarray(px)})[BOX_OUTPUT]
            for px in np.asarray(pixels).astype(np.uint8)
        ]
        return np.asarray(rows, np.float32).reshape(len(rows), 4)


class MILSession(Session):
    """The MIL execution of an ``.mlpackage`` in ``mode`` (``fp32`` or ``fp16``): the program translated to ONNX
    (:mod:`carspotter.export.formats.coreml.mil_to_onnx`) and run on ONNX Runtime's CPU execution provider. Not timed: its speed is
    not Core ML's.

    Raises (on load):
        MILExecutionError: an op the executor does not implement (named).
        ComparisonError: the program's classifier labels differ from ``labels``.
    """

    runtime = "MIL execution"
    timed = False
    untimed_reason = "Core ML runs only on macOS; accuracy from the MIL execution"

    def __init__(self, path: Path, mode: str, labels: list[str] | None, check: str = "coreml/mil"):
        from carspotter.export.formats.coreml.mil_execution import DEVICE, MILExecution
        from carspotter.export.formats.coreml.mil_program import load_mlpackage

        super().__init__(check, path)
        program = load_mlpackage(path)
        if labels is not None and program.labels != list(labels):
            raise ComparisonError(f"{path}: Core ML classifier labels differ from the manifest's")
        self._executor, self.device = MILExecution(program, mode), f"{DEVICE} ({mode} mode)"
        import onnxruntime

        self.version = f"onnxruntime {onnxruntime.__version__}"

    def _infer(self, pixels):
        return self._executor.probabilities(pixels)

    def box(self, pixels):
        super().box(pixels)
        return self._executor.box(np.asarray(pixels))


MIL_FP32 = Runtime(
    "MIL execution (fp32 mode)",
    "coreml/mil-fp32",
    lambda p, labels, v, t: MILSession(p, "fp32", labels, "coreml/mil-fp32"),
)
MIL_FP16 = Runtime(
    "MIL execution (fp16 mode)",
    "coreml/mil-fp16",
    lambda p, labels, v, t: MILSession(p, "fp16", labels, "coreml/mil-fp16"),
    mode="fp16",
)
MIL_BY_VARIANT = Runtime(
    "MIL execution",
    "coreml/mil",
    lambda p, labels, v, t: MILSession(p, v.mil_mode, labels),
    by_variant=lambda v: MIL_FP32 if v.mil_mode == "fp32" else MIL_FP16,
)
COREML_PREDICT = Runtime(
    "Core ML predict (macOS)",
    "coreml/predict",
    lambda p, labels, v, t: CoreMLPredictSession(p, labels),
    coreml_predict_unavailable,
    skip_note="MIL execution checked instead",
)
