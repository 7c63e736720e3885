"""The reference resize is MediaPipe's own, pixel for pixel.

A probe model whose outputs are its input (``Reshape`` of ``[1, S, S, 3]`` into ``S*S*3``
"classes", with the bundle's classifier metadata: normalization mean 0, std 1) makes
MediaPipe Tasks' ``ImageClassifier`` report the exact pixels it resized a photo to; those must
equal :func:`carspotter.model.photos.resize`'s, for downscales, upscales, odd factors and real photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carspotter.model import photos
from carspotter.model.runtimes import MEDIAPIPE
from conftest import SHARED

FULL = SHARED / "data" / "stanford_cars_full"


def _probe(path: Path, size: int) -> Path:
    import tensorflow as tf

    from carspotter.export.tflite_metadata import add_classifier_metadata

    inp = tf.keras.Input((size, size, 3))
    model = tf.keras.Model(inp, tf.keras.layers.Reshape((size * size * 3,))(inp))
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path.write_bytes(add_classifier_metadata(flat, [f"p{i}" for i in range(size * size * 3)], name="probe", version="1",
                                             description="outputs its input", author="tests", license="none",
                                             input_description="RGB 0..255"))
    return path


def _mediapipe_pixels(probe: Path, images: list[np.ndarray], size: int) -> np.ndarray:
    from carspotter.model.runtimes import MediaPipeSession

    with MediaPipeSession(probe, None) as session:
        _, flat = session.classify(images, size * size * 3)
    return flat.reshape(len(images), size, size, 3)


@pytest.fixture(scope="module")
def mediapipe():
    reason = MEDIAPIPE.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("size", [64, 299])
def test_reference_resize_equals_mediapipe_on_synthetic_images(tmp_path, mediapipe, size):
    rng = np.random.default_rng(size)
    shapes = [(231, 496), (1115, 2436), (20, 17), (400, 300), (size, size), (size + 1, 3 * size - 1)]
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    got = _mediapipe_pixels(_probe(tmp_path / "probe.tflite", size), images, size)
    for image, theirs in zip(images, got):
        ours = photos.resize(Image.fromarray(image), size)
        assert ours.shape == (size, size, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours.astype(np.float32), theirs), f"{image.shape}: max diff {np.abs(ours - theirs).max()}"


def test_reference_resize_equals_mediapipe_on_real_photos(tmp_path, mediapipe):
    if not FULL.is_dir():
        pytest.skip(f"original-size Stanford Cars photos not found at {FULL}")
    files = sorted(FULL.rglob("*.jpg"), key=lambda p: p.stat().st_size)
    files = files[:2] + files[len(files) // 2:len(files) // 2 + 2] + files[-2:]  # smallest, median, largest
    images = [np.asarray(photos.decode_rgb(f)) for f in files]
    got = _mediapipe_pixels(_probe(tmp_path / "probe.tflite", 299), images, 299)
    for f, image, theirs in zip(files, images, got):
        assert np.array_equal(photos.resize(image, 299).astype(np.float32), theirs), f.name


def test_reference_resize_aligns_corners_without_antialiasing():
    # a 4-pixel ramp stretched to 8: output x samples input x * 4 / 8, so even outputs hit input pixels exactly
    ramp = np.repeat(np.array([[0, 40, 80, 120]], np.uint8)[:, :, None], 3, axis=2).repeat(4, axis=0)
    out = photos.resize(ramp, 8)[0, :, 0]
    assert out.tolist() == [0, 20, 40, 60, 80, 100, 120, 120]  # the last one replicates the edge
    # downscaling 8 -> 2 samples input columns 0 and 4, no averaging (an antialiased filter would blend 0..3)
    stripes = np.zeros((8, 8, 3), np.uint8)
    stripes[:, 0] = stripes[:, 4] = 200
    assert photos.resize(stripes, 2)[0, :, 0].tolist() == [200, 200]
