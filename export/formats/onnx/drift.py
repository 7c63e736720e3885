"""Every intermediate tensor of an ONNX graph, for per-layer drift (:mod:`carspotter.measure.drift`): every node
output made a graph output, as Polygraphy's ``--onnx-outputs mark all`` does, and run on ONNX Runtime's CPU execution
provider with graph optimizations off (an optimized graph fuses the tensors away). ``[(name, array)]`` in execution
order for one photo, float32, in the graph's own layout (NCHW where it transposed); tensors that are not floating point
are left out. The Core ML package's MIL execution uses the same (its program translated to an ONNX graph).
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


def onnx_intermediates(path: Path, variant=None) -> OnnxTensors:
    """``Execution.intermediates`` of an ONNX file (the variant does not change how it runs)."""
    return onnx_file_tensors(path)
