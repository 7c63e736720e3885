"""Camera-size photos (12 and 48 MP, every EXIF orientation, JPEG and HEIC) through the reference and through the
bundle's npm package in Node and in headless Chromium: the package's pixels must be the reference's, exactly, so its
top-1 agreement is at least the 99.5 % its app paths are held to.

The photos are real Stanford Cars photos of the bundle's classes, Lanczos-upscaled to 4032 x 3024 (12 MP) or
8064 x 6048 (48 MP), with seeded sensor noise (sigma 3 levels), saved as a phone does (JPEG quality 92, 4:2:0, the
upright scene stored rotated or mirrored with the EXIF orientation that undoes it). Uses the 10-class bundle of
``conftest.moved`` (128 px input: box factors 31 x 23 at 12 MP, 63 x 47 at 48 MP). Node's time and memory for a
48 MP photo are measured by ``tests/benchmarks/bench_camera_photos.py`` (docs/figures-history.md "Camera photos").
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from carspotter.model import photos

STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
"""How a camera stores an upright scene for each EXIF orientation (what a viewer's transpose undoes)."""

TWELVE_MP, FORTY_EIGHT_MP = (4032, 3024), (8064, 6048)


def camera_jpeg(source, path, size, orientation, seed):
    """``source`` upscaled to ``size`` (Lanczos), sensor noise, stored for ``orientation``, JPEG q92 4:2:0."""
    with Image.open(source) as im:
        big = np.asarray(im.convert("RGB").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(big.shape, dtype=np.float32) * 3
    noisy = np.clip(np.rint(big + noise), 0, 255).astype(np.uint8)
    stored = (
        Image.fromarray(noisy) if STORE[orientation] is None else Image.fromarray(noisy).transpose(STORE[orientation])
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, quality=92, subsampling=2, exif=exif.tobytes())
    return path, noisy


@pytest.fixture(scope="module")
def camera(moved, tmp_path_factory):
    """Eight 12 MP JPEGs (orientations 1..8) and two 48 MP ones (1 and 6), of eight classes: ``(files, labels, uprights)``."""
    folder = tmp_path_factory.mktemp("camera")
    classes = sorted(p for p in moved["data"].iterdir() if p.is_dir())
    sources = [sorted(c.glob("*.jpg"))[0] for c in classes[:8]]
    made = [camera_jpeg(src, folder / f"12mp-o{o}.jpg", TWELVE_MP, o, seed=o) for o, src in zip(range(1, 9), sources)]
    made += [
        camera_jpeg(sources[k], folder / f"48mp-o{o}.jpg", FORTY_EIGHT_MP, o, seed=10 + o) for k, o in ((0, 1), (5, 6))
    ]
    return (
        [f for f, _ in made],
        [f.parent.name for f in sources] + [sources[0].parent.name, sources[5].parent.name],
        [u for _, u in made],
    )


def test_reference_decodes_every_pixel_upright_at_camera_size(camera, moved):
    files, _, uprights = camera
    size = 128
    for f, upright in zip(files, uprights):
        image = photos.decode_rgb(f)
        assert image.size == (upright.shape[1], upright.shape[0]), f.name  # upright, full size: no draft decode
        got = photos.load_photo(f, size).astype(int)
        # the stored JPEG's own loss only: within 1 level on average of the lossless upright scene's input
        assert np.abs(got - photos.resize(upright, size)).mean() < 1.0, f.name
        wrong = photos.resize(np.ascontiguousarray(upright[::-1]), size)  # upside down: what a missed orientation gives
        assert np.abs(got - wrong).mean() > 10, f.name


def test_heic_camera_photo_with_an_orientation_reaches_the_model_upright(tmp_path):
    """The decoder's subject only: a 12 MP scene made from an embedded sample photo (no model is trained)."""
    from conftest import SAMPLE

    pillow_heif = pytest.importorskip("pillow_heif")
    if not pillow_heif.libheif_info().get("HEIF"):  # pragma: no cover - the wheels ship x265
        pytest.skip("this pillow-heif has no HEVC encoder")
    source = sorted(next(p for p in sorted(SAMPLE.iterdir()) if p.is_dir()).glob("*.jpg"))[0]
    _, upright = camera_jpeg(source, tmp_path / "12mp-o6.jpg", TWELVE_MP, 6, seed=6)
    stored = Image.fromarray(upright).transpose(STORE[6])
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "12mp-o6.heic"
    stored.save(path, quality=90, exif=exif.tobytes(), enc_params={"preset": "ultrafast"})  # x265: 1 s, not 10
    image = photos.decode_rgb(path)
    assert image.size == (upright.shape[1], upright.shape[0])  # rotated once (by the HEIF transform or EXIF, not both)
    got = photos.load_photo(path, 128).astype(int)
    assert np.abs(got - photos.resize(upright, 128)).mean() < 1.5


@pytest.mark.parametrize("mode", ["node", "chromium"])
def test_npm_package_gives_the_reference_pixels_and_answers_at_12_and_48_mp(camera, moved, node_modules, mode):
    from carspotter.contracts.manifest import read_manifest
    from carspotter.measure import app_paths

    path = app_paths.PATHS[f"npm-{mode}"]
    why = path.unavailable()
    if why:
        pytest.skip(why)
    files, _, _ = camera
    bundle = moved["bundle"]
    manifest = read_manifest(bundle)
    size = manifest.input["shape"][1]
    exact = np.stack([photos.load_photo(f, size) for f in files])
    pixels = path.bundle_pixels(bundle, files, [None] * len(files), size)
    drift = np.abs(pixels - exact.astype(np.float32)).reshape(len(files), -1).max(axis=1)
    assert drift.tolist() == [0.0] * len(files), dict(zip([f.name for f in files], drift.tolist()))
    with app_paths.AppModels(bundle, manifest.formats, manifest.labels) as models:
        reference, probs = models.session.infer(exact), models.session.infer(pixels)
    agreement = float(np.mean(reference.argmax(1) == probs.argmax(1)))
    assert agreement >= app_paths.PACKAGE_MIN_AGREEMENT and np.abs(reference - probs).max() == 0.0
