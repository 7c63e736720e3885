"""Run each format on the same decoded pixels: ``[N, S, S, 3]`` uint8 RGB in, ``[N, C]`` probabilities out."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def keras_probs(model, pixels: np.ndarray, device: str = "/CPU:0", batch_size: int = 16) -> np.ndarray:
    """The reference: the Keras model on ``device`` (``"/CPU:0"`` or ``"/GPU:0"``)."""
    import tensorflow as tf

    with tf.device(device):
        return np.asarray(model.predict(pixels.astype(np.float32), batch_size=batch_size, verbose=0))


def tflite_probs(path: Path, pixels: np.ndarray, threads: int = 2) -> np.ndarray:
    """LiteRT (``ai_edge_litert.interpreter.Interpreter``, XNNPACK on CPU), one photo per invoke.

    A quantized (uint8/int8) input is fed ``round(x / scale + zero_point)`` and a quantized
    output dequantized, with the tensors' own quantization parameters.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    rows = []
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    for px in pixels:
        x = px[None].astype(np.float32)
        if np.issubdtype(inp["dtype"], np.integer) and in_scale:
            info = np.iinfo(inp["dtype"])
            x = np.clip(np.round(x / in_scale + in_zero), info.min, info.max)
        interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0].astype(np.float32)
        if np.issubdtype(out["dtype"], np.integer) and out_scale:
            y = (y - out_zero) * out_scale
        rows.append(y)
    return np.stack(rows)


def mediapipe_classify(path: Path, pixels: np.ndarray, num_classes: int) -> tuple[list[str], np.ndarray]:
    """MediaPipe Tasks ``ImageClassifier`` reading the model's own metadata (labels, normalization).

    Returns:
        ``(category names by index, as MediaPipe reports them, [N, C] scores placed by category index)``.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=-1)
    out = np.zeros((len(pixels), num_classes), dtype=np.float32)
    names = [""] * num_classes
    with vision.ImageClassifier.create_from_options(options) as classifier:
        for i, px in enumerate(pixels):
            result = classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(px)))
            for c in result.classifications[0].categories:
                out[i, c.index] = c.score
                names[c.index] = c.category_name
    return names, out


def onnx_probs(path: Path, pixels: np.ndarray, provider: str = "CPUExecutionProvider", batch_size: int = 16) -> np.ndarray:
    """ONNX Runtime with one execution provider (``CPUExecutionProvider`` or ``CUDAExecutionProvider``).

    Raises:
        RuntimeError: the provider is not the one the session actually uses.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=[provider])
    if session.get_providers()[0] != provider:
        raise RuntimeError(f"ONNX Runtime fell back to {session.get_providers()} instead of {provider}")
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: pixels[i:i + batch_size].astype(np.float32)})[0]
                           for i in range(0, len(pixels), batch_size)])


def coreml_probs(path: Path, pixels: np.ndarray, labels: list[str]) -> np.ndarray:
    """Core ML ``MLModel.predict`` (macOS only): ``classLabel_probs`` placed in label order."""
    from PIL import Image

    from carspotter.export.quiet import import_coremltools

    ct = import_coremltools()

    model = ct.models.MLModel(str(path))
    out = np.zeros((len(pixels), len(labels)), dtype=np.float32)
    index = {name: i for i, name in enumerate(labels)}
    for i, px in enumerate(pixels):
        probs = model.predict({"image": Image.fromarray(px)})["classLabel_probs"]
        for name, p in probs.items():
            out[i, index[name]] = p
    return out


def coreml_predict_available() -> tuple[bool, str]:
    """Whether ``MLModel.predict`` can run here, and why not."""
    if sys.platform != "darwin":
        return False, f"Core ML predict needs macOS (coremltools runs MLModel.predict only on Apple platforms; this is {sys.platform})"
    return True, ""


def coreml_structure(path: Path) -> dict:
    """Read an .mlpackage without running it: input, outputs, classifier labels, MIL op types.

    Returns:
        ``{"model_type", "input": {name, kind, width, height, color}, "outputs": [names],
        "predicted_feature", "probabilities_output", "labels": [...], "ops": {type: count},
        "spec_version"}``.
    """
    from carspotter.export.coreml_export import mil_op_counts
    from carspotter.export.quiet import import_coremltools

    ct = import_coremltools()

    spec = ct.utils.load_spec(str(path))
    desc = spec.description
    inp = desc.input[0]
    kind = inp.type.WhichOneof("Type")
    image = inp.type.imageType
    return {
        "model_type": spec.WhichOneof("Type"),
        "spec_version": spec.specificationVersion,
        "input": {"name": inp.name, "kind": kind, "width": image.width, "height": image.height,
                  "color": ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)},
        "outputs": [o.name for o in desc.output],
        "predicted_feature": desc.predictedFeatureName,
        "probabilities_output": desc.predictedProbabilitiesName,
        "labels": _classifier_labels(spec),
        "ops": dict(mil_op_counts(spec)),
    }


def _classifier_labels(spec) -> list[str]:
    """Labels of a classifier mlprogram, read from its ``classify`` op's ``classes`` list."""
    main = spec.mlProgram.functions["main"]
    for block in main.block_specializations.values():
        for op in block.operations:
            if op.type == "classify":
                value = op.inputs["classes"].arguments[0].value
                return [item.immediateValue.tensor.strings.values[0] for item in value.immediateValue.list.values]
    return []
