"""Every intermediate tensor of a TFLite file, for per-layer drift (:mod:`carspotter.measure.drift`): LiteRT's
``Interpreter(experimental_preserve_all_tensors=True)`` (the option TFLite's QuantizationDebugger uses), every tensor an
op writes read back after ``invoke``, int8/uint8 tensors dequantized with their own scale and zero point; NHWC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class LiteRTTensors:
    """A TFLite file on LiteRT with every tensor preserved (batch 1, one thread: the order of ops is the file's)."""

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self._it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        self._it.allocate_tensors()
        ops = self._it._get_ops_details()  # the op list in execution order (what QuantizationDebugger walks)
        details = {d["index"]: d for d in self._it.get_tensor_details()}
        self._tensors = [details[i] for op in ops for i in op["outputs"] if i in details]

    def run(self, pixels: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """``[1, S, S, 3]`` pixels -> ``[(tensor name, float32 array)]`` in execution order, int8 dequantized."""
        from carspotter.export.formats.tflite.runtime import litert_invoke

        litert_invoke(self._it, np.asarray(pixels))
        out = []
        for d in self._tensors:
            value = self._it.get_tensor(d["index"])
            scale, zero = d["quantization"]
            if np.issubdtype(value.dtype, np.integer):
                if not scale:
                    continue  # an index or shape tensor
                value = (value.astype(np.float32) - zero) * scale
            out.append((d["name"], np.asarray(value, dtype=np.float32)))
        return out


def litert_intermediates(path: Path, variant=None) -> LiteRTTensors:
    """``Execution.intermediates`` of a TFLite file."""
    return LiteRTTensors(path)
