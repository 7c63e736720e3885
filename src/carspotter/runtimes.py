"""Run every format on the same decoded pixels: ``[N, S, S, 3]`` uint8 RGB in, ``[N, C]`` probabilities out.

Plain functions per runtime (the Keras reference, LiteRT, MediaPipe Tasks, ONNX Runtime per
execution provider, Core ML ``predict``, the MIL reference execution), and :class:`Runtime`,
a named way of running a format that the format registry (:mod:`carspotter.formats`) lists
per format and the parity checks run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from carspotter.errors import ComparisonError, RunError

if TYPE_CHECKING:  # pragma: no cover
    from carspotter.formats import VariantSpec
    from carspotter.runfolder import Run


def load_reference(run: "Run"):
    """Load ``model.keras`` of a run with ``safe_mode=True``.

    Raises:
        RunError: the file does not load or its input/output shapes disagree with run.json.
    """
    import keras

    path = run.dir / "model.keras"
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise RunError(f"{path}: does not load as a Keras model ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                       "train again") from None
    want = tuple(run.input.shape[1:])
    if tuple(model.input_shape[1:]) != want or model.output_shape[-1] != len(run.labels):
        raise RunError(f"{path}: input {model.input_shape} / output {model.output_shape} disagree with run.json; train again")
    return model


def keras_probs(model, pixels: np.ndarray, device: str = "/CPU:0", batch_size: int = 16) -> np.ndarray:
    """The reference: the Keras model on ``device`` (``"/CPU:0"`` or ``"/GPU:0"``); ``[N, C]`` float32."""
    import tensorflow as tf

    with tf.device(device):
        return np.asarray(model.predict(pixels.astype(np.float32), batch_size=batch_size, verbose=0))


def litert_probs(path: Path, pixels: np.ndarray, threads: int = 2) -> np.ndarray:
    """LiteRT (``ai_edge_litert.interpreter.Interpreter``, XNNPACK on CPU), one photo per invoke.

    A quantized (uint8/int8) input is fed ``round(x / scale + zero_point)`` and a quantized
    output dequantized, with the tensors' own quantization parameters.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return np.concatenate([litert_invoke(interpreter, px[None]) for px in pixels])


def litert_invoke(interpreter, pixels: np.ndarray) -> np.ndarray:
    """One invoke of an allocated LiteRT interpreter on ``[B, S, S, 3]`` pixels (B its input batch):
    ``[B, C]`` float32 probabilities. A quantized (uint8/int8) input is fed ``round(x / scale +
    zero_point)`` and a quantized output dequantized, with the tensors' own quantization parameters."""
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = pixels.astype(np.float32)
    scale, zero = inp["quantization"]
    if np.issubdtype(inp["dtype"], np.integer) and scale:
        info = np.iinfo(inp["dtype"])
        x = np.clip(np.round(x / scale + zero), info.min, info.max)
    interpreter.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interpreter.invoke()
    y = interpreter.get_tensor(out["index"]).astype(np.float32)
    scale, zero = out["quantization"]
    return (y - zero) * scale if np.issubdtype(out["dtype"], np.integer) and scale else y


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


def coreml_predict_probs(path: Path, pixels: np.ndarray, labels: list[str]) -> np.ndarray:
    """Core ML ``MLModel.predict`` (macOS only): ``classLabel_probs`` placed in label order."""
    from PIL import Image

    from carspotter.quiet import import_coremltools

    ct = import_coremltools()
    model = ct.models.MLModel(str(path))
    out = np.zeros((len(pixels), len(labels)), dtype=np.float32)
    index = {name: i for i, name in enumerate(labels)}
    for i, px in enumerate(pixels):
        probs = model.predict({"image": Image.fromarray(px)})["classLabel_probs"]
        for name, p in probs.items():
            out[i, index[name]] = p
    return out


def coreml_predict_unavailable() -> str | None:
    """Why ``MLModel.predict`` cannot run here, or None where it can."""
    if sys.platform != "darwin":
        return f"Core ML predict needs macOS (coremltools runs MLModel.predict only on Apple platforms; this is {sys.platform})"
    return None


def mil_reference_probs(path: Path, pixels: np.ndarray, mode: str, labels: list[str] | None = None) -> np.ndarray:
    """The MIL reference execution of an ``.mlpackage`` in ``mode`` (``fp32`` or ``fp16``).

    Raises:
        MILExecutionError: an op the executor does not implement (named).
        ComparisonError: the program's classifier labels differ from ``labels``.
    """
    from carspotter.mil_reference import MILReference, load_mlpackage

    program = load_mlpackage(path)
    if labels is not None and program.labels != list(labels):
        raise ComparisonError(f"{path}: Core ML classifier labels differ from the manifest's")
    return MILReference(program, mode).probabilities(pixels)


def coreml_structure(path: Path) -> dict:
    """Read an .mlpackage without running it: input, outputs, classifier labels, MIL op types.

    Returns:
        ``{"model_type", "input": {name, kind, width, height, color}, "outputs": [names],
        "predicted_feature", "probabilities_output", "labels": [...], "ops": {type: count},
        "spec_version"}``.
    """
    from carspotter.mil_reference import classifier_labels, mil_op_counts
    from carspotter.quiet import import_coremltools

    ct = import_coremltools()
    spec = ct.utils.load_spec(str(path))
    desc = spec.description
    inp = desc.input[0]
    image = inp.type.imageType
    return {
        "model_type": spec.WhichOneof("Type"),
        "spec_version": spec.specificationVersion,
        "input": {"name": inp.name, "kind": inp.type.WhichOneof("Type"), "width": image.width, "height": image.height,
                  "color": ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace)},
        "outputs": [o.name for o in desc.output],
        "predicted_feature": desc.predictedFeatureName,
        "probabilities_output": desc.predictedProbabilitiesName,
        "labels": classifier_labels(spec),
        "ops": dict(mil_op_counts(spec)),
    }


# -- Runtimes: named ways of running a format, listed per format in the registry ----------------

Runner = Callable[[Path, np.ndarray, list, "VariantSpec"], np.ndarray]


@dataclass(frozen=True)
class Runtime:
    """One way of running a format's file.

    Attributes:
        target: name in parity results (e.g. ``"cpu (LiteRT)"``, ``"CUDAExecutionProvider"``).
        check: short id, used when the runtime is skipped (e.g. ``"tflite/mediapipe"``).
        run: ``(path, [N, S, S, 3] uint8 pixels, labels, variant) -> [N, C] probabilities``.
        unavailable: ``() -> reason or None``: why it cannot run on this machine.
        mode: arithmetic that sets the tolerance row with the variant's family
            (:func:`carspotter.parity_rule.precision_for`): None, ``"fp16"`` or ``"fp32-gpu"``.
    """

    target: str
    check: str
    run: Runner
    unavailable: Callable[[], str | None] = lambda: None
    mode: str | None = None


def _mediapipe_unavailable() -> str | None:
    try:
        import mediapipe.tasks.python.vision  # noqa: F401
    except ImportError as exc:
        return f"mediapipe cannot be imported here ({exc})"
    return None


def _cuda_unavailable() -> str | None:
    import onnxruntime as ort

    providers = ort.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        return f"no CUDA execution provider in this onnxruntime ({providers}); install the gpu extra on a machine with a GPU"
    return None


def _mediapipe_run(path, pixels, labels, variant):
    names, probs = mediapipe_classify(path, pixels, len(labels))
    if names != list(labels):
        raise ComparisonError(f"{path}: MediaPipe reads labels {names[:3]}... from the metadata, not the manifest's")
    return probs


LITERT = Runtime("cpu (LiteRT)", "tflite/litert", lambda path, pixels, labels, variant: litert_probs(path, pixels))
MEDIAPIPE = Runtime("MediaPipe ImageClassifier", "tflite/mediapipe", _mediapipe_run, _mediapipe_unavailable)
ORT_CPU = Runtime("CPUExecutionProvider", "onnx/cpu",
                  lambda path, pixels, labels, variant: onnx_probs(path, pixels, "CPUExecutionProvider"))
ORT_CUDA = Runtime("CUDAExecutionProvider", "onnx/CUDAExecutionProvider",
                   lambda path, pixels, labels, variant: onnx_probs(path, pixels, "CUDAExecutionProvider"),
                   _cuda_unavailable, mode="fp32-gpu")
MIL_FP32 = Runtime("MIL reference execution (fp32 mode)", "coreml/mil-fp32",
                   lambda path, pixels, labels, variant: mil_reference_probs(path, pixels, "fp32", labels))
MIL_FP16 = Runtime("MIL reference execution (fp16 mode)", "coreml/mil-fp16",
                   lambda path, pixels, labels, variant: mil_reference_probs(path, pixels, "fp16", labels), mode="fp16")
MIL_BY_VARIANT = Runtime("MIL reference execution", "coreml/mil",
                         lambda path, pixels, labels, variant: mil_reference_probs(path, pixels, variant.mil_mode, labels))
COREML_PREDICT = Runtime("Core ML predict (macOS)", "coreml/predict",
                         lambda path, pixels, labels, variant: coreml_predict_probs(path, pixels, labels),
                         coreml_predict_unavailable)

__all__ = ["Runtime", "load_reference", "keras_probs", "litert_probs", "litert_invoke", "mediapipe_classify", "onnx_probs",
           "coreml_predict_probs", "coreml_predict_unavailable", "mil_reference_probs", "coreml_structure"]
