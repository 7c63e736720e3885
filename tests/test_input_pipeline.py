"""The training input pipeline: pixel cache, tf.data batches, augmentation, balanced sampling."""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.util.errors import UsageError
from carspotter.train import augment, pipeline, store
from images import write_photos


def test_augment_spec_round_trip_and_errors():
    cfg = augment.parse(augment.DEFAULT_SPEC)
    assert cfg == augment.AugmentConfig(flip=True, crop=0.6, rotate=5, brightness=0.1, contrast=0.1)
    assert augment.parse(cfg.spec()) == cfg
    assert augment.parse("none") == augment.AugmentConfig() and not augment.parse("none").active
    for spec, message in (
        ("flip,zoom=2", "unknown part 'zoom=2'"),
        ("crop=0.01", r"crop=0.01 is outside 0.05..1"),
        ("jpeg=5", r"jpeg=5 is outside 10..100"),
        ("blur=9", r"blur=9 is outside 0..5"),
        ("rotate=x", "rotate needs a number"),
        ("brightness=1.5", "outside 0..1"),
    ):
        with pytest.raises(UsageError, match=message):
            augment.parse(spec)


def _stripes(n=8, size=32):
    """n different images, each with a distinct left-right asymmetric pattern."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, size, size, 3)).astype(np.uint8)
    x[:, :, : size // 4] = 0
    return x


def test_flip_only_mirrors_or_keeps_each_photo_and_val_is_untouched():
    pixels = _stripes()
    rows, labels = np.arange(8), np.arange(8) % 2
    f = augment.make_augmenter(augment.parse("flip"), 32, seed=1)
    train = pipeline.batches(pixels, rows, labels, 2, 8, training=True, seed=3, augment=f)
    seen = {"same": 0, "mirrored": 0}
    for _ in range(4):
        images, targets = next(iter(train))
        for img, t in zip(images.numpy(), targets.numpy()):
            matches = [i for i in range(8) if np.array_equal(img, pixels[i]) or np.array_equal(img, pixels[i][:, ::-1])]
            assert len(matches) == 1 and t.argmax() == labels[matches[0]]
            seen["same" if np.array_equal(img, pixels[matches[0]]) else "mirrored"] += 1
    assert seen["same"] > 0 and seen["mirrored"] > 0, seen

    val = pipeline.batches(pixels, rows, labels, 2, 3, training=False, seed=3, augment=f)
    got = np.concatenate([x.numpy() for x, _ in val])
    np.testing.assert_array_equal(got, pixels.astype(np.float32))  # order kept, nothing augmented


def test_every_augmentation_changes_pixels_and_stays_in_range():
    import keras
    import tensorflow as tf

    pixels = _stripes()
    x = pixels.astype(np.float32)
    for spec in ("crop=0.3", "rotate=20", "brightness=0.3", "contrast=0.5", "resize=1", "jpeg=20", "blur=2"):
        keras.utils.set_random_seed(2)  # the draws do not depend on which tests ran before
        out = augment.make_augmenter(augment.parse(spec), 32, seed=2)(x).numpy()
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 255, spec
        # blur's sigma is drawn in 0..S per batch: any draw changes the stripes, a small one only a little
        assert np.abs(out - x).mean() > (0.0 if spec.startswith("blur") else 1.0), spec
    assert np.abs(augment._blur(tf.constant(x), 2.0).numpy() - x).mean() > 1.0  # sigma 2 itself blurs the edges
    assert augment.make_augmenter(augment.parse("none"), 32, 0)(x) is x


def test_balanced_sampling_draws_classes_evenly():
    pixels = np.zeros((1000, 2, 2, 3), np.uint8)
    labels = np.array([0] * 900 + [1] * 100)
    d = pipeline.batches(pixels, np.arange(1000), labels, 2, 100, training=True, seed=0, balanced=True)
    drawn = np.concatenate([t.numpy().argmax(1) for _, t in d])
    assert len(drawn) == 1000
    assert 0.4 < drawn.mean() < 0.6  # class 1 is 10% of the data, about half of the draws
    plain = pipeline.batches(pixels, np.arange(1000), labels, 2, 100, training=True, seed=0)
    assert np.concatenate([t.numpy().argmax(1) for _, t in plain]).mean() == pytest.approx(0.1)


def test_disk_and_memory_caches_hold_the_same_pixels_and_disk_is_reused(tmp_path, monkeypatch):
    paths = write_photos(tmp_path / "p", 5, seed=4, size=(90, 60))
    (tmp_path / "p" / "bad.jpg").write_bytes(b"not a jpeg")
    paths.append(tmp_path / "p" / "bad.jpg")
    mem = store.decode(paths, [None] * 6, 40, 2, "memory", None)
    disk = store.decode(paths, [None] * 6, 40, 2, "disk", tmp_path)
    assert mem.where == "memory" and disk.where.endswith("pixels_40.npy")
    np.testing.assert_array_equal(mem.pixels, disk.pixels)
    assert list(mem.ok) == [True] * 5 + [False] and set(disk.skipped) == {5}
    assert "not an image" in disk.skipped[5]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(store.photos, "iter_photos", no_decoding)
    again = store.decode(paths, [None] * 6, 40, 2, "disk", tmp_path)
    np.testing.assert_array_equal(again.pixels, mem.pixels)
    assert again.skipped == disk.skipped


def test_auto_cache_goes_to_disk_when_pixels_exceed_half_the_free_memory(monkeypatch):
    monkeypatch.setattr(store, "available_memory_bytes", lambda: 2 * 299 * 299 * 3 * 1000)
    assert store.choose_cache("auto", 1000, 299) == "memory"
    assert store.choose_cache("auto", 1001, 299) == "disk"
    with pytest.raises(UsageError, match="--cache ram: must be one of auto, memory, disk"):
        store.choose_cache("ram", 1, 1)
