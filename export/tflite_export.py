"""TFLite export (fp32, fp16, dynamic-range int8, full-integer int8) with MediaPipe metadata."""

from __future__ import annotations

import warnings
from pathlib import Path

from carspotter.export.app_readmes import android_readme as readme  # noqa: F401  (the format's README, see formats.py)
from carspotter.export.build import Build
from carspotter.export.tflite_metadata import add_classifier_metadata
from carspotter.quiet import quiet

SELFTEST = "CarSpotterSelfTest.kt"
"""The app self-test shipped next to the model (from ``export/selftests/``) when the bundle has a golden set."""


def _converter(build: Build):
    """``TFLiteConverter.from_keras_model`` set up for the variant (TensorFlow Lite post-training quantization guide)."""
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(build.model)
    name = build.variant.name
    if name != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if name == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if name == "int8-full":
        representative = build.representative
        if representative is None or len(representative) == 0:
            raise ValueError("int8-full needs representative photos")

        def samples():
            for px in representative:
                yield [px[None].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    return converter


def export(build: Build, path: Path) -> dict:
    """Convert the reference model with ``TFLiteConverter.from_keras_model`` and add metadata.

    Variants: ``fp32``; ``fp16`` (float16 weights); ``int8-dynamic`` (dynamic-range: int8
    weights, float activations); ``int8-full`` (full integer: int8 weights and activations
    calibrated on ``build.representative``, uint8 input taking raw pixels 0..255, float32 output).

    Returns:
        Format facts for the manifest: input/output tensors, runtime, metadata.

    Raises:
        ValueError: ``int8-full`` without representative photos.
    """
    with quiet(), warnings.catch_warnings():
        # Full-integer conversion with a uint8 input warns that input statistics were not
        # given; it derives them from the representative photos (0..255 -> scale 1.0,
        # zero point 0: raw pixels exactly), checked in tests/test_variants.py.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        flat = _converter(build).convert()
    info, spec = build.info, build.spec
    flat = add_classifier_metadata(flat, build.labels, name=info.name, version=info.version, description=info.description,
                                   author=info.author, license=info.license, input_description=spec.describe())
    path.write_bytes(flat)
    return {"variant": build.variant.name, "runtime": "LiteRT / TensorFlow Lite (MediaPipe Tasks ImageClassifier)",
            "input": {"name": spec.name, "dtype": "uint8" if build.variant.name == "int8-full" else "float32",
                      "shape": [1, spec.size, spec.size, 3]},
            "output": {"name": spec.output_name, "dtype": "float32", "shape": [1, len(build.labels)]},
            "metadata": "TFLite metadata (MediaPipe schema): normalization mean 0 std 1, labels.txt packed"}
