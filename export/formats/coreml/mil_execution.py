"""The MIL execution: a Core ML ML program run off Apple platforms, on ONNX Runtime's CPU execution provider.

Core ML's ``MLModel.predict`` exists only on macOS. :class:`MILExecution` translates the shipped program op by op
into ONNX (:mod:`carspotter.export.formats.coreml.mil_to_onnx`) and runs that graph with ONNX Runtime on the CPU: an independent
execution of the MIL op definitions, not Core ML, in ``fp32`` mode or ``fp16`` mode (every fp16-typed value rounded
to float16, as the Core ML runtime computes an fp16 program on GPU / Neural Engine up to accumulation order).
Parity names its device for what it is: ONNX Runtime on the CPU.
"""

from __future__ import annotations

import numpy as np

from carspotter.model.localizer import BOX_OUTPUT
from carspotter.export.formats.coreml.mil_to_onnx import MODES, translate

DEVICE = "ONNX Runtime CPUExecutionProvider, the MIL program translated op by op"
"""Where the MIL execution runs, for parity's records."""


class MILExecution:
    """Executes a loaded ML program; build once, call :meth:`probabilities` many times.

    Args:
        program: from :func:`carspotter.export.formats.coreml.mil_program.load_mlpackage`.
        mode: ``"fp32"`` (every value in float32) or ``"fp16"`` (every fp16-typed value
            rounded to float16, as the Core ML runtime computes an fp16 program).

    Raises:
        ValueError: unknown mode.
        MILExecutionError: an unsupported op (named) or a malformed program.
    """

    def __init__(self, program, mode: str = "fp32"):
        import onnxruntime as ort

        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: choose one of {MODES}")
        self.mode, self.labels = mode, list(program.labels)
        self._fixed_batch = any(op.op_type == "reshape" for op in program.function.operations)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        # Neither the translated model nor the program is kept (the session holds the weights), and no memory
        # arena: parity keeps every session of a run open, and each arena would keep its peak activations.
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(
            translate(program, mode).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def run(self, x: np.ndarray, output: str = "output") -> np.ndarray:
        """Execute once: image programs take ``[N, S, S, 3]`` pixels, tensor programs their declared shape; the
        program's output (``output``), or its ``box`` output."""
        return self.session.run([output], {"input": np.asarray(x, dtype=np.float32)})[0]

    def probabilities(self, pixels: np.ndarray, batch_size: int = 8) -> np.ndarray:
        """``[N, S, S, 3]`` uint8 RGB -> ``[N, C]`` probabilities (the classify op's input)."""
        return self._batched(pixels, "output", batch_size)

    def box(self, pixels: np.ndarray, batch_size: int = 8) -> np.ndarray | None:
        """``[N, S, S, 3]`` uint8 RGB -> ``[N, 4]`` the program's ``box`` output (x0, y0, x1, y1 in 0..1 of the
        input: the localizer's), or None for a program without one."""
        if BOX_OUTPUT not in {o.name for o in self.session.get_outputs()}:
            return None
        return self._batched(pixels, BOX_OUTPUT, batch_size)

    def _batched(self, pixels: np.ndarray, output: str, batch_size: int) -> np.ndarray:
        if self._fixed_batch:
            batch_size = 1  # reshape shapes are fixed at the declared batch of 1
        rows = [self.run(pixels[i : i + batch_size], output) for i in range(0, len(pixels), batch_size)]
        return np.concatenate(rows).reshape(len(pixels), -1)
