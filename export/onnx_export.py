"""ONNX export with tf2onnx: raw-pixel NHWC input, ``[N, C]`` probabilities, labels in metadata_props."""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.export.quiet import quiet

ONNX_OPSETS = (17, 18)  # tf2onnx 1.17 refuses opset 19


def export_onnx(model, labels: list[str], path: Path, info: dict, opset: int = 17) -> dict:
    """Convert with ``tf2onnx.convert.from_keras`` and embed labels and input spec.

    The graph input ``image`` is ``[N, S, S, 3]`` float32 RGB 0..255 with the batch
    dimension named ``N``; the output ``probabilities`` is ``[N, C]``. ``metadata_props``
    hold ``labels`` (JSON list, index order), ``input_spec`` (JSON) and the general info.
    The model passes ``onnx.checker.check_model(full_check=True)``.

    Raises:
        ValueError: ``opset`` not in :data:`ONNX_OPSETS`.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    if opset not in ONNX_OPSETS:
        raise ValueError(f"ONNX opset {opset}: tf2onnx 1.17 supports {ONNX_OPSETS}")
    size = model.input_shape[1]
    spec = [tf.TensorSpec((None, size, size, 3), tf.float32, name="image")]
    with quiet():
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    for value in list(proto.graph.input) + list(proto.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = "N"
    _rename_output(proto, "probabilities")
    props = {
        "labels": json.dumps(labels, ensure_ascii=False),
        "input_spec": json.dumps({"name": "image", "layout": "NHWC", "color": "RGB", "dtype": "float32",
                                  "pixel_range": [0, 255], "shape": ["N", size, size, 3]}),
        "name": info["name"], "version": info["version"], "description": info["description"],
        "author": info["author"], "license": info["license"],
    }
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.producer_name = "carspotter (tf2onnx)"
    proto.doc_string = info["description"]
    onnx.checker.check_model(proto, full_check=True)
    path.write_bytes(proto.SerializeToString())
    return {"precision": "fp32", "runtime": "ONNX Runtime", "opset": opset,
            "input": {"name": proto.graph.input[0].name, "dtype": "float32", "shape": ["N", size, size, 3]},
            "output": {"name": proto.graph.output[0].name, "dtype": "float32", "shape": ["N", len(labels)]},
            "metadata": "metadata_props: labels (JSON), input_spec (JSON), name, version, description, author, license"}


def _rename_output(proto, name: str) -> None:
    """Give the single graph output a stable name, rewriting the node that produces it."""
    old = proto.graph.output[0].name
    if old == name:
        return
    for node in proto.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
    proto.graph.output[0].name = name
