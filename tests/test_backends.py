"""The reference on other Keras backends and devices (carspotter.model.backends), and training fed uint8 batches.

A small Keras model (Rescaling, convolution, pooling, softmax: the layer kinds of the reference, no InceptionV3)
saved as ``.keras`` is run on Keras-JAX in its own process and compared with Keras-TensorFlow here.
"""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.model import backends
from carspotter.model.backends import BackendUnavailable, ReferenceBackend


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    path = tmp_path_factory.mktemp("backends") / "model.keras"
    model.save(path)
    pixels = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    return path, pixels, model.predict(pixels.astype(np.float32), verbose=0)


def test_names_parse_and_tolerance_rows():
    assert ReferenceBackend.parse("jax-cpu") == ReferenceBackend("jax", "cpu")
    tf32 = ReferenceBackend.parse("JAX-GPU-tf32")
    assert tf32.name == "jax-gpu-tf32" and tf32.tolerance_row == "tf32" and tf32.precision == "tf32"
    assert backends.CANONICAL.name == "tensorflow-cpu" and ReferenceBackend("jax", "gpu").tolerance_row == "fp32"
    assert [b.name for b in backends.DEFAULT_CHECKS] == ["jax-cpu", "tensorflow-gpu", "jax-gpu"]
    for bad in ("jax", "torch-cpu", "jax-tpu", "jax-cpu-tf32", "jax-gpu-fp16"):
        with pytest.raises(ValueError):
            ReferenceBackend.parse(bad)


def test_keras_jax_on_the_cpu_gives_the_canonical_probabilities(small_model):
    path, pixels, canonical = small_model
    probs, facts = backends.run(ReferenceBackend("jax", "cpu"), path, pixels)
    assert probs.shape == canonical.shape and probs.dtype == np.float32
    assert np.abs(probs - canonical).max() < 1e-5 and (probs.argmax(1) == canonical.argmax(1)).all()
    assert facts["backend"] == "jax" and facts["device"] == "cpu" and facts["jax"] and facts["keras"]
    assert facts["matmul_precision"] == "float32 (jax_default_matmul_precision=highest)" and facts["device_name"]


def test_gpu_rows_say_why_they_cannot_run_here(small_model):
    path, pixels, _ = small_model
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible here: the GPU rows run instead")
    for backend in (ReferenceBackend("jax", "gpu"), ReferenceBackend("tensorflow", "gpu", "tf32")):
        with pytest.raises(BackendUnavailable, match="GPU"):
            backends.run(backend, path, pixels)


def test_a_model_that_does_not_load_is_one_error_naming_the_backend(tmp_path):
    bad = tmp_path / "model.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="reference on jax-cpu failed"):
        backends.run(ReferenceBackend("jax", "cpu"), bad, np.zeros((1, 8, 8, 3), np.uint8))


def test_training_batches_stay_uint8_and_the_fed_model_casts_them_on_the_device(small_model):
    import keras

    from carspotter.train import model as mdl
    from carspotter.train import pipeline

    path, pixels, canonical = small_model
    labels = np.arange(len(pixels)) % 5
    plain = next(iter(pipeline.batches(pixels, np.arange(6), labels, 5, 6, training=False, seed=0, uint8=True)))
    assert plain[0].dtype.name == "uint8" and np.array_equal(plain[0].numpy(), pixels)
    augmented = next(
        iter(
            pipeline.batches(
                pixels, np.arange(6), labels, 5, 6, training=True, seed=0, uint8=True, augment=lambda x: x * 0.5 + 0.3
            )
        )
    )
    assert augmented[0].dtype.name == "uint8"  # computed in float32, rounded back to 0..255
    assert sorted(augmented[0].numpy().ravel().tolist()) == sorted(
        np.round(pixels * 0.5 + 0.3).astype(int).ravel().tolist()
    )
    model = keras.saving.load_model(path)
    fed = mdl.uint8_fed(model)
    assert fed.input.dtype == "uint8" and model.input.dtype == "float32"  # the saved model keeps its float32 input
    assert np.abs(fed.predict(pixels, verbose=0) - canonical).max() < 1e-6
    assert {w.name for w in fed.trainable_weights} == {w.name for w in model.trainable_weights}  # one set of weights
