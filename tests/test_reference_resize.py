"""The reference resize: an integer box pre-reduction, then MediaPipe's own bilinear, pixel for pixel.

A probe model whose outputs are its input (``Reshape`` of ``[1, S, S, 3]`` into ``S*S*3``
"classes", with the bundle's classifier metadata: normalization mean 0, std 1) makes
MediaPipe Tasks' ``ImageClassifier`` report the exact pixels it resized a photo to; those must
equal :func:`carspotter.model.reference_resize.bilinear`'s, for downscales, upscales, odd factors and real
photos; the whole reference resize equals bare MediaPipe on photos with both sides below 2 x S, and MediaPipe
fed the box-reduced pixels (what the Android package does) on larger ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carspotter.model import photos, reference_resize
from carspotter.export.formats.tflite.runtime import MEDIAPIPE
from conftest import SHARED

FULL = SHARED / "data" / "stanford_cars_full"


def _probe(path: Path, size: int) -> Path:
    import tensorflow as tf

    from carspotter.export.formats.tflite.metadata import add_classifier_metadata

    inp = tf.keras.Input((size, size, 3))
    model = tf.keras.Model(inp, tf.keras.layers.Reshape((size * size * 3,))(inp))
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path.write_bytes(
        add_classifier_metadata(
            flat,
            [f"p{i}" for i in range(size * size * 3)],
            name="probe",
            version="1",
            description="outputs its input",
            author="tests",
            license="none",
            input_description="RGB 0..255",
        )
    )
    return path


def _mediapipe_pixels(probe: Path, images: list[np.ndarray], size: int) -> np.ndarray:
    from carspotter.export.formats.tflite.runtime import MediaPipeSession

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
        ours = reference_resize.bilinear(image, size)
        assert ours.shape == (size, size, 3) and ours.dtype == np.uint8
        assert np.array_equal(ours.astype(np.float32), theirs), f"{image.shape}: max diff {np.abs(ours - theirs).max()}"
        small = max(image.shape[:2]) < 2 * size  # the box reduction leaves it alone: bare MediaPipe is the reference
        assert np.array_equal(photos.resize(Image.fromarray(image), size), ours) == small, image.shape


def test_mediapipe_fed_box_reduced_pixels_is_the_reference(tmp_path, mediapipe):
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(1100, 1500), (598, 2000), (3024, 4032)]]
    reduced = [reference_resize.box_reduce(image, 299) for image in images]
    assert [r.shape[:2] for r in reduced] == [(367, 300), (299, 334), (303, 311)]
    got = _mediapipe_pixels(_probe(tmp_path / "probe.tflite", 299), reduced, 299)
    for image, theirs in zip(images, got):
        assert np.array_equal(photos.resize(image, 299).astype(np.float32), theirs), image.shape


def test_reference_resize_equals_mediapipe_on_real_photos(tmp_path, mediapipe):
    if not FULL.is_dir():
        pytest.skip(f"original-size Stanford Cars photos not found at {FULL}")
    files = sorted(FULL.rglob("*.jpg"), key=lambda p: p.stat().st_size)
    files = files[:2] + files[len(files) // 2 : len(files) // 2 + 2] + files[-2:]  # smallest, median, largest
    images = [np.asarray(photos.decode_rgb(f)) for f in files]
    got = _mediapipe_pixels(_probe(tmp_path / "probe.tflite", 299), images, 299)
    for f, image, theirs in zip(files, images, got):
        assert np.array_equal(reference_resize.bilinear(image, 299).astype(np.float32), theirs), f.name


def test_bilinear_step_aligns_corners_without_antialiasing():
    # a 4-pixel ramp stretched to 8: output x samples input x * 4 / 8, so even outputs hit input pixels exactly
    ramp = np.repeat(np.array([[0, 40, 80, 120]], np.uint8)[:, :, None], 3, axis=2).repeat(4, axis=0)
    out = photos.resize(ramp, 8)[0, :, 0]
    assert out.tolist() == [0, 20, 40, 60, 80, 100, 120, 120]  # the last one replicates the edge
    # the bilinear step alone, 8 -> 2, samples input columns 0 and 4, no averaging
    stripes = np.zeros((8, 8, 3), np.uint8)
    stripes[:, 0] = stripes[:, 4] = 200
    assert reference_resize.bilinear(stripes, 2)[0, :, 0].tolist() == [200, 200]
    # the reference resize averages 4 x 4 boxes first (k = 8 // 2): 200 / 4 = 50 per box
    assert photos.resize(stripes, 2)[0, :, 0].tolist() == [50, 50]


def test_box_factors_leave_sides_below_twice_the_input_alone():
    assert reference_resize.box_factors(597, 598, 299) == (1, 2)
    assert reference_resize.box_factors(4032, 3024, 299) == (13, 10)
    assert reference_resize.box_factors(8064, 6048, 299) == (26, 20)
    assert reference_resize.box_factors(12000, 9000, 299) == (40, 30)
    assert reference_resize.box_factors(1, 5000, 299) == (1, 16)


def test_box_reduce_partial_boxes_and_rounding_by_hand():
    # 7 x 3 photo, S = 2: kx = 3, ky = 1 -> boxes of columns [0,3), [3,6), [6,7) (the last keeps 1 column)
    row = np.array([10, 11, 11, 0, 1, 2, 7], np.uint8)  # means 32/3 = 10.67 -> 11, 3/3 = 1, 7/1 = 7
    image = np.repeat(np.repeat(row[None, :, None], 3, axis=0), 3, axis=2)
    out = reference_resize.box_reduce(image, 2)
    assert out.shape == (3, 3, 3) and out[0, :, 0].tolist() == [11, 1, 7]
    # 4 x 4 photo, S = 2: 2 x 2 boxes; means 1/4 -> 0, 2/4 -> 1 (halves round up), 255 -> 255, 3/4 -> 1
    quads = np.array([[0, 0, 1, 0], [1, 0, 1, 0], [255, 255, 1, 1], [255, 255, 1, 0]], np.uint8)[:, :, None].repeat(
        3, 2
    )
    assert reference_resize.box_reduce(quads, 2)[..., 0].tolist() == [[0, 1], [255, 1]]


def test_box_reduce_equals_the_exact_mean_on_random_photos():
    rng = np.random.default_rng(3)
    for _ in range(60):
        h, w, size = int(rng.integers(1, 700)), int(rng.integers(1, 700)), int(rng.integers(2, 150))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        kx, ky = reference_resize.box_factors(w, h, size)
        want = np.empty((-(-h // ky), -(-w // kx), 3), np.int64)
        for i, top in enumerate(range(0, h, ky)):
            for j, left in enumerate(range(0, w, kx)):
                box = image[top : top + ky, left : left + kx].reshape(-1, 3).astype(np.int64)
                want[i, j] = (box.sum(0) + len(box) // 2) // len(box)
        assert np.array_equal(reference_resize.box_reduce(image, size), want), (h, w, size)


def test_generated_vector_photo_follows_its_written_formula():
    """The generated resize-vector photo (every port makes it itself) by the formula in its docstring, in plain ints."""
    from carspotter.contracts.resize_vectors import generated_photo

    width, height, seed = 13, 7, 1009
    image = generated_photo(width, height, seed)

    def fmix32(z):
        z ^= z >> 16
        z = (z * 0x85EBCA6B) & 0xFFFFFFFF
        z ^= z >> 13
        z = (z * 0xC2B2AE35) & 0xFFFFFFFF
        return z ^ (z >> 16)

    for x, y, c in [(0, 0, 0), (12, 6, 1), (7, 3, 2), (5, 6, 0)]:
        z = fmix32(((y * width + x) * 3 + c + seed * 0x9E3779B9) & 0xFFFFFFFF)
        base = [x * 255 // (width - 1), y * 255 // (height - 1), ((x // 7 + y // 5) % 2) * 200 + 20][c]
        assert image[y, x, c] == min(255, max(0, base + z % 81 - 40)), (x, y, c)
    assert image.shape == (height, width, 3) and image.dtype == np.uint8 and len(np.unique(image)) > 50
