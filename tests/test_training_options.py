"""Cached head features, resumable early stopping, distribution strategies and mixed precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from carspotter.util.errors import UsageError
from conftest import REPO, SAMPLE


@pytest.fixture(scope="module")
def small_model():
    import keras

    from carspotter.train import model as mdl
    from carspotter.train.weights import make_base

    keras.utils.set_random_seed(0)
    base, used = make_base(75, "none", None)
    return mdl.build(3, 75, used.input_range, base)


def test_head_trained_on_cached_features_is_the_same_function_in_the_full_model(small_model):
    from carspotter.train import augment, features
    from carspotter.train import model as mdl

    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (6, 75, 75, 3)).astype(np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])
    extractor = mdl.feature_extractor(small_model)
    x, y = features.extract(extractor, pixels, np.arange(6), labels, 3, 4, label="t")
    assert x.shape == (6, 2048) and list(y) == list(labels)
    np.testing.assert_allclose(x, extractor.predict(pixels.astype(np.float32), verbose=0), rtol=1e-5, atol=1e-5)

    head = mdl.build_head(3, 2048)
    w, b = head.get_layer("probabilities").get_weights()
    head.get_layer("probabilities").set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32), b + 0.1])
    mdl.copy_head(head, small_model)
    np.testing.assert_allclose(
        small_model.predict(pixels.astype(np.float32), verbose=0), head.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )

    flip = augment.make_augmenter(augment.parse("flip,brightness=0.2"), 75, seed=0)
    xa, ya = features.extract(extractor, pixels, np.arange(6), labels, 3, 4, views=2, augment=flip, label="t")
    assert xa.shape == (18, 2048) and np.bincount(ya).tolist() == [6, 6, 6]
    np.testing.assert_allclose(xa[:6], x, rtol=1e-5, atol=1e-5)
    # Every augmented row differs from every plain row (views are shuffled, so compare against all).
    distance = np.linalg.norm(xa[6:, None, :] - x[None, :, :], axis=2) / np.linalg.norm(x, axis=1)[None, :]
    assert distance.min() > 1e-3, distance.min()  # the same photo computed twice differs by ~1e-6


def test_best_epoch_stops_restores_best_weights_and_survives_a_restart(tmp_path, small_model):
    import keras

    from carspotter.train.callbacks import BestEpoch

    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    m.stop_training = False
    cb = BestEpoch(tmp_path, "head", "val_top1", patience=3)
    cb.set_model(m)
    for epoch, value in enumerate([0.5, 0.7, 0.6, 0.65]):
        m.set_weights([np.full((2, 1), epoch, np.float32), np.zeros(1, np.float32)])
        cb.on_epoch_end(epoch, {"val_top1": value})
        assert not m.stop_training
    assert cb.best == {"epoch": 1, "value": 0.7}

    # The process dies here; a new callback in the same folder knows the best epoch.
    resumed = BestEpoch(tmp_path, "head", "val_top1", patience=3)
    resumed.set_model(m)
    assert resumed.best == {"epoch": 1, "value": 0.7}
    m.set_weights([np.full((2, 1), 4, np.float32), np.zeros(1, np.float32)])
    resumed.on_epoch_end(4, {"val_top1": 0.69})
    assert m.stop_training and resumed.stopped_epoch == 4
    resumed.on_train_end()
    assert float(m.get_weights()[0][0, 0]) == 1.0  # epoch 1's weights restored


def test_strategy_flag_errors_without_the_hardware(monkeypatch):
    from carspotter.train.distribute import make_distribution

    with pytest.raises(UsageError, match="--strategy mirrored needs two or more GPUs on this host; found 0"):
        make_distribution("mirrored")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UsageError, match="--strategy multiworker needs the TF_CONFIG environment variable"):
        make_distribution("multiworker")
    d = make_distribution("auto")
    assert d.name == "default" and d.replicas == 1 and d.scale(16, 1e-3) == (16, 1e-3)


def test_mirrored_strategy_on_two_logical_cpus_scales_batch_and_learning_rate(tmp_path):
    """MirroredStrategy over two logical CPU devices: the same code path as two GPUs."""
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        from tiny import tiny_backbone  # the subject is the strategy, not the backbone
        from carspotter.train.trainer import TrainConfig, train
        with tiny_backbone():
            train(TrainConfig(data_dir={str(SAMPLE)!r}, out={str(tmp_path / "run")!r}, weights="none", max_classes=3,
                              image_size=75, epochs_head=2, epochs_finetune=1, batch_size=4, lr_head=1e-3,
                              lr_finetune=1e-4, strategy="mirrored", augment="flip"),
                  devices=["/cpu:0", "/cpu:1"])
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "mirrored strategy, 2 replicas: global batch 8, learning rates x2" in done.stderr
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["training"]["strategy"] == "mirrored" and run["training"]["replicas"] == 2
    assert run["training"]["global_batch"] == 8
    assert run["phases"]["head"]["learning_rate"] == pytest.approx(2e-3)
    assert run["phases"]["finetune"]["learning_rate"] == pytest.approx(2e-4)
    assert len(run["history"]["finetune"]["loss"]) == 1


def test_mixed_precision_run_saves_a_float32_reference_model(tmp_path):
    import keras

    from conftest import tiny_run

    out = tiny_run(
        tmp_path / "run",
        max_classes=3,
        image_size=75,
        epochs_head=1,
        epochs_finetune=1,
        mixed_precision=True,
        head_mode="naive",
    )  # the subject is the dtype policy, not the backbone
    assert keras.mixed_precision.global_policy().name == "float32"
    run = json.loads((out / "run.json").read_text())
    assert run["training"]["dtype_policy"] == "mixed_float16"
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    probs = model.predict(np.full((2, 75, 75, 3), 128, np.float32), verbose=0)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-5)
