"""TFLite export (fp32, fp16, dynamic-range int8, full-integer int8) with MediaPipe metadata."""

from __future__ import annotations

import warnings
from pathlib import Path

from carspotter.export.quiet import quiet
from carspotter.export.tflite_metadata import add_classifier_metadata


TFLITE_VARIANTS = ("fp32", "fp16", "int8-dynamic", "int8-full")


def export_tflite(model, labels: list[str], path: Path, info: dict, variant: str = "fp32", representative=None) -> dict:
    """Convert the reference model with ``TFLiteConverter.from_keras_model`` and add metadata.

    Variants (TensorFlow Lite post-training quantization guide):
    ``fp32``; ``fp16`` (float16 weights); ``int8-dynamic`` (dynamic-range: int8 weights,
    float activations); ``int8-full`` (full integer: int8 weights and activations
    calibrated on ``representative``, uint8 input taking raw pixels 0..255, float32 output).

    Args:
        model: the Keras reference model, ``[N, S, S, 3]`` float32 raw pixels -> ``[N, C]``.
        labels: C class names in index order.
        path: ``.tflite`` file to write.
        info: ``name``, ``version``, ``description``, ``author``, ``license``.
        variant: one of :data:`TFLITE_VARIANTS`.
        representative: ``[M, S, S, 3]`` uint8 training photos, required for ``int8-full``.

    Returns:
        Format facts for the manifest: input/output tensors, precision, metadata version.

    Raises:
        ValueError: unknown variant, or ``int8-full`` without representative photos.
    """
    import numpy as np
    import tensorflow as tf

    if variant not in TFLITE_VARIANTS:
        raise ValueError(f"TFLite variant {variant!r}: choose one of {TFLITE_VARIANTS}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    input_dtype = "float32"
    if variant != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8-full":
        if representative is None or len(representative) == 0:
            raise ValueError("int8-full needs representative photos")

        def samples():
            for px in representative:
                yield [px[None].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        input_dtype = "uint8"
    with quiet(), warnings.catch_warnings():
        # Full-integer conversion with a uint8 input warns that input statistics were not
        # given; it derives them from the representative photos (0..255 -> scale 1.0,
        # zero point 0: raw pixels exactly), checked in tests/test_variants.py.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        flat = converter.convert()
    flat = add_classifier_metadata(flat, labels, name=info["name"], version=info["version"],
                                   description=info["description"], author=info["author"], license=info["license"])
    path.write_bytes(flat)
    return {"precision": "int8" if variant.startswith("int8") else variant, "variant": variant,
            "runtime": "LiteRT / TensorFlow Lite (MediaPipe Tasks ImageClassifier)",
            "input": {"name": "image", "dtype": input_dtype, "shape": [1, model.input_shape[1], model.input_shape[2], 3]},
            "output": {"name": "probabilities", "dtype": "float32", "shape": [1, len(labels)]},
            "metadata": "TFLite metadata (MediaPipe schema): normalization mean 0 std 1, labels.txt packed"}
