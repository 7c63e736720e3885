"""Every intermediate tensor of a model file, for per-layer drift (:mod:`carspotter.measure.drift`).

What a compressed variant computes inside, tensor by tensor, in the order the file computes them:

- an ONNX graph (an ONNX file, or a Core ML program translated op by op for the MIL execution): every node output
  made a graph output, as Polygraphy's ``--onnx-outputs mark all`` does, and run on ONNX Runtime's CPU execution
  provider with graph optimizations off (an optimized graph fuses the tensors away);
- a TFLite file: LiteRT's ``Interpreter(experimental_preserve_all_tensors=True)`` (the option TFLite's
  QuantizationDebugger uses), every tensor an op writes read back after ``invoke``, int8/uint8 tensors
  dequantized with their own scale and zero point.

Each returns ``[(name, array)]`` in execution order for one photo: float32 arrays in the file's own layout (NCHW in
an ONNX graph that transposed, NHWC in TFLite). Tensors that are not floating point after dequantization
(shapes, indices) are left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_all_outputs(model) -> bytes:
    """``model`` (``onnx.ModelProto``) with every node output a graph output, serialized.

    Shapes and types come from ONNX's shape inference; outputs whose type it cannot infer are left out."""
    import onnx

    model = onnx.shape_inference.infer_shapes(model)
    typed = {v.name: v for v in list(model.graph.value_info) + list(model.graph.output)}
    present = {o.name for o in model.graph.output}
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    for node in model.graph.node:
        for name in node.output:
            info = typed.get(name)
            if name and name not in present and info is not None and info.type.tensor_type.elem_type in floats:
                model.graph.output.append(info)
                present.add(name)
    return model.SerializeToString()


class OnnxTensors:
    """An ONNX graph with every float tensor exposed: :meth:`run` gives them for one input batch.

    Args:
        model: ``onnx.ModelProto``; feed: ``pixels -> {input name: array}`` (the graph's own input convention).
    """

    def __init__(self, model, feed):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_cpu_mem_arena = False
        self._session = ort.InferenceSession(onnx_all_outputs(model), options, providers=["CPUExecutionProvider"])
        self._names = [o.name for o in self._session.get_outputs()]
        order = {name: i for i, node in enumerate(model.graph.node) for name in node.output}
        self._names.sort(key=lambda n: order.get(n, len(order)))
        self._feed = feed

    def run(self, pixels: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """``[1, S, S, 3]`` pixels -> ``[(tensor name, float32 array)]`` in execution order."""
        values = self._session.run(self._names, self._feed(pixels))
        return [(n, np.asarray(v, dtype=np.float32)) for n, v in zip(self._names, values)]


def onnx_file_tensors(path: Path) -> OnnxTensors:
    """:class:`OnnxTensors` of an ONNX file (uint8 or float32 input, as the file declares)."""
    import onnx

    model = onnx.load(str(path))
    inp = model.graph.input[0]
    as_uint8 = inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    return OnnxTensors(model, lambda px: {inp.name: np.asarray(px, dtype=np.uint8 if as_uint8 else np.float32)})


def mil_tensors(path: Path, mode: str) -> OnnxTensors:
    """:class:`OnnxTensors` of a Core ML ``.mlpackage`` as the MIL execution runs it (``mode``: ``fp32`` or ``fp16``).

    Raises:
        MILExecutionError: an op the translation does not implement (named).
    """
    from carspotter.model.mil_program import load_mlpackage
    from carspotter.model.mil_to_onnx import translate

    return OnnxTensors(translate(load_mlpackage(path), mode), lambda px: {"input": np.asarray(px, dtype=np.float32)})


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
        from carspotter.model.sessions import litert_invoke

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


def onnx_intermediates(path: Path, variant=None) -> OnnxTensors:
    """``FormatSpec.intermediates`` of an ONNX file (the variant does not change how it runs)."""
    return onnx_file_tensors(path)


def mil_intermediates(path: Path, variant) -> OnnxTensors:
    """``FormatSpec.intermediates`` of a Core ML package: the MIL execution in the variant's own mode."""
    return mil_tensors(path, variant.mil_mode or "fp32")


def litert_intermediates(path: Path, variant=None) -> LiteRTTensors:
    """``FormatSpec.intermediates`` of a TFLite file."""
    return LiteRTTensors(path)
