"""TFLite (float32) export with labels and image normalization as MediaPipe metadata."""

from __future__ import annotations

from pathlib import Path

from carspotter.export.quiet import quiet
from carspotter.export.tflite_metadata import add_classifier_metadata


def export_tflite(model, labels: list[str], path: Path, info: dict) -> dict:
    """Convert the reference model with ``TFLiteConverter.from_keras_model`` and add metadata.

    Args:
        model: the Keras reference model, ``[N, S, S, 3]`` float32 raw pixels -> ``[N, C]``.
        labels: C class names in index order.
        path: ``.tflite`` file to write.
        info: ``name``, ``version``, ``description``, ``author``, ``license``.

    Returns:
        Format facts for the manifest: input/output tensors, precision, metadata version.
    """
    import tensorflow as tf

    with quiet():
        flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    flat = add_classifier_metadata(flat, labels, name=info["name"], version=info["version"],
                                   description=info["description"], author=info["author"], license=info["license"])
    path.write_bytes(flat)
    return {"precision": "fp32", "runtime": "LiteRT / TensorFlow Lite (MediaPipe Tasks ImageClassifier)",
            "input": {"name": "image", "dtype": "float32", "shape": [1, model.input_shape[1], model.input_shape[2], 3]},
            "output": {"name": "probabilities", "dtype": "float32", "shape": [1, len(labels)]},
            "metadata": "TFLite metadata (MediaPipe schema): normalization mean 0 std 1, labels.txt packed"}
