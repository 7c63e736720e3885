"""What the model sees: decoding, orientation, colour modes, resizing, and bad photos."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from carspotter.model import photos, reference_resize
from carspotter.util.errors import PhotoError
from images import save_with_orientation, two_tone


def test_exif_orientation_6_is_rotated_upright(tmp_path):
    # Orientation 6: stored image must be rotated 90 degrees clockwise to display.
    stored = two_tone(120, 80).transpose(Image.Transpose.ROTATE_90)  # 80x120, red at the bottom
    path = save_with_orientation(stored, tmp_path / "portrait.jpg", 6)
    rgb = photos.decode_rgb(path)
    assert rgb.size == (120, 80)
    arr = np.asarray(rgb).astype(int)
    assert arr[40, 10, 0] > 200 and arr[40, 10, 2] < 60  # left is red again
    assert arr[40, 110, 2] > 200 and arr[40, 110, 0] < 60  # right is blue


def test_exif_orientation_3_is_rotated_180(tmp_path):
    path = save_with_orientation(two_tone().rotate(180), tmp_path / "upside.jpg", 3)
    arr = np.asarray(photos.decode_rgb(path)).astype(int)
    assert arr[40, 10, 0] > 200 and arr[40, 110, 2] > 200


def test_resize_stretches_to_square_uint8():
    out = photos.resize(two_tone(200, 100), 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert tuple(out[32, 5]) == (255, 0, 0) and tuple(out[32, 60]) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGB"])
def test_colour_modes_become_rgb(tmp_path, mode):
    src = two_tone()
    path = tmp_path / f"img_{mode}.{'tif' if mode == 'CMYK' else 'png'}"
    src.convert(mode).save(path)
    rgb = photos.decode_rgb(path)
    assert rgb.mode == "RGB" and rgb.size == src.size
    if mode in ("P", "RGB"):
        assert tuple(np.asarray(rgb)[10, 10]) == (255, 0, 0)


def test_rgba_is_composited_on_white(tmp_path):
    arr = np.zeros((40, 40, 4), np.uint8)
    arr[..., 0] = 255
    arr[:, :20, 3] = 0  # left half fully transparent
    arr[:, 20:, 3] = 255
    path = tmp_path / "alpha.png"
    Image.fromarray(arr, "RGBA").save(path)
    out = np.asarray(photos.decode_rgb(path))
    assert tuple(out[5, 5]) == photos.ALPHA_BACKGROUND
    assert tuple(out[5, 30]) == (255, 0, 0)


def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.full((40, 40), 32768, np.uint16)  # mid grey in 16 bits
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    out = np.asarray(photos.decode_rgb(path))
    assert tuple(out[0, 0]) == (128, 128, 128)


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = np.asarray(photos.decode_rgb(path)).astype(int)
    assert out[20, 20, 0] > 200 and out[20, 20, 1] < 60


def test_webp_decodes(tmp_path):
    path = tmp_path / "img.webp"
    two_tone().save(path, "WEBP", lossless=True)
    assert tuple(np.asarray(photos.decode_rgb(path))[10, 10]) == (255, 0, 0)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("empty", "empty file"),
        ("text", "not an image"),
        ("truncated", "truncated"),
        ("tiny", "too small"),
        ("missing", "no such file"),
    ],
)
def test_bad_photos_raise_photo_error_naming_the_file(tmp_path, case, expected):
    path = tmp_path / f"{case}.jpg"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not a jpeg\n")
    elif case == "truncated":
        buf = io.BytesIO()
        two_tone(400, 300).save(buf, "JPEG", quality=95)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    elif case == "tiny":
        two_tone(10, 10).save(path)
    with pytest.raises(PhotoError) as info:
        photos.decode_rgb(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (300, 300)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300 * 300 // 4)  # Pillow's limit, lowered to test it
    with pytest.raises(PhotoError, match="decompression bomb"):
        photos.decode_rgb(path)


def test_load_photos_lists_skipped_with_reason(tmp_path):
    good = tmp_path / "good.jpg"
    two_tone().save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    loaded = photos.load_photos([good, bad], 32)
    assert loaded.pixels.shape == (1, 32, 32, 3)
    assert loaded.paths == [good]
    assert loaded.skipped == [(bad, "not an image Pillow can read; remove it or convert it to JPEG/PNG")]


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(1, 300),
    h=st.integers(1, 300),
    size=st.integers(75, 160),
    mode=st.sampled_from(["RGB", "L", "RGBA", "P", "CMYK", "I;16"]),
    fmt=st.sampled_from(["PNG", "TIFF", "WEBP"]),
)
def test_any_decodable_image_gives_exact_shape_or_photo_error(tmp_path_factory, w, h, size, mode, fmt):
    path = tmp_path_factory.mktemp("h") / f"x.{fmt.lower()}"
    try:
        Image.new(mode, (w, h)).save(path, fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # this format cannot store this mode
    if min(w, h) < photos.MIN_SIDE:
        with pytest.raises(PhotoError, match="too small"):
            photos.load_photo(path, size)
    else:
        out = photos.load_photo(path, size)
        assert out.shape == (size, size, 3) and out.dtype == np.uint8


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=2048))
def test_random_bytes_never_escape_as_other_errors(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "random.jpg"
    path.write_bytes(data)
    try:
        photos.load_photo(path, 80)
    except PhotoError as exc:
        assert str(path) in str(exc)


def _save_rotated(stored: Image.Image, path, orientation: int):
    """Save with EXIF orientation; pillow-heif turns it into the HEIF rotation (irot) as an iPhone writes it."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_rotated_heic_and_avif_are_upright_rotated_exactly_once(tmp_path, suffix):
    stored = two_tone(120, 80).transpose(Image.Transpose.ROTATE_90)  # 80x120, red at the bottom
    path = _save_rotated(stored, tmp_path / f"iphone{suffix}", 6)
    rgb = photos.decode_rgb(path)
    assert rgb.size == (120, 80)  # rotated once: twice would give 80x120 again, upside down
    arr = np.asarray(rgb).astype(int)
    assert arr[40, 10, 0] > 200 and arr[40, 10, 2] < 60  # left is red again
    assert arr[40, 110, 2] > 200 and arr[40, 110, 0] < 60
    unrotated = photos.decode_rgb(_save_rotated(stored, tmp_path / f"plain{suffix}", 1))
    assert unrotated.size == (80, 120)
    assert path in photos.find_photos(tmp_path)


def test_10_bit_heic_becomes_8_bit_rgb(tmp_path):
    import pillow_heif

    data = np.full((40, 50, 3), 40000, np.uint16)  # 16-bit container of a 10-bit HDR photo
    pillow_heif.from_bytes(mode="RGB;16", size=(50, 40), data=data.tobytes()).save(tmp_path / "hdr.heic", quality=95)
    assert pillow_heif.open_heif(tmp_path / "hdr.heic", convert_hdr_to_8bit=False).info["bit_depth"] == 10
    rgb = photos.decode_rgb(tmp_path / "hdr.heic")
    assert rgb.mode == "RGB" and abs(int(np.asarray(rgb)[20, 25, 0]) - 40000 // 256) <= 2


def test_truncated_heic_is_a_photo_error_naming_the_file(tmp_path):
    path = _save_rotated(two_tone(), tmp_path / "cut.heic", 1)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(PhotoError, match="cut.heic"):
        photos.decode_rgb(path)


def _phone_photo(path, width: int, height: int, orientation: int = 1):
    """A large JPEG with detail at every scale (smooth gradients plus seeded noise), as a phone writes it."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], -1)
    pixels = np.clip(base + rng.integers(-40, 40, (height, width, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, quality=92, exif=exif.tobytes())
    return path


def test_large_jpeg_is_decoded_whole_then_box_reduced(tmp_path):
    path = _phone_photo(tmp_path / "big.jpg", 4800, 2400)
    image = np.asarray(photos.decode_rgb(path))
    assert image.shape == (2400, 4800, 3)  # every pixel: no DCT-domain draft that an app could not reproduce
    got = photos.load_photo(path, 299)
    np.testing.assert_array_equal(got, reference_resize.bilinear(reference_resize.box_reduce(image, 299), 299))
    # the box reduction (16 x 8 boxes here) averages away the +-40 noise that a bare 16x bilinear step keeps
    bare = reference_resize.bilinear(image, 299).astype(int)
    smooth = np.asarray(Image.fromarray(image).resize((299, 299), Image.Resampling.BOX)).astype(int)
    assert np.abs(got.astype(int) - smooth).mean() < 3 < 6 < np.abs(bare - smooth).mean()


def test_small_jpeg_png_and_cropped_photos_decode_every_pixel(tmp_path):
    jpeg = _phone_photo(tmp_path / "small.jpg", 590, 580)  # both sides below 2 x 299: the bilinear alone
    png = tmp_path / "big.png"
    Image.open(_phone_photo(tmp_path / "b.jpg", 4800, 2400)).save(png)
    np.testing.assert_array_equal(
        photos.load_photo(jpeg, 299), reference_resize.bilinear(np.asarray(photos.decode_rgb(jpeg)), 299)
    )
    np.testing.assert_array_equal(photos.load_photo(png, 299), photos.load_photo(tmp_path / "b.jpg", 299))
    box = (100, 100, 4700, 2300)  # crop boxes are in full-resolution pixels
    cropped = photos.load_photo(tmp_path / "b.jpg", 299, box)
    np.testing.assert_array_equal(cropped, photos.resize(photos.decode_rgb(tmp_path / "b.jpg").crop(box), 299))


STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
"""How a camera stores an upright photo for each EXIF orientation (the inverse of what a viewer applies)."""


@pytest.mark.parametrize("orientation", range(1, 9))
def test_large_photo_in_every_exif_orientation_reaches_the_model_upright(tmp_path, orientation):
    upright = np.asarray(Image.open(_phone_photo(tmp_path / "up.jpg", 1500, 1100)))
    stored = Image.fromarray(upright).transpose(STORE[orientation]) if orientation > 1 else Image.fromarray(upright)
    path = tmp_path / f"o{orientation}.png"  # lossless, so the upright pixels are known exactly
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes())
    np.testing.assert_array_equal(photos.load_photo(path, 299), photos.resize(upright, 299))


def test_pillow_pixel_limit_is_warned_past_and_twice_it_refused(tmp_path, monkeypatch):
    jpeg = _phone_photo(tmp_path / "108mp.jpg", 4800, 2400)
    png = tmp_path / "108mp.png"
    Image.open(jpeg).save(png)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4800 * 2400 * 2 // 3)  # between the limit and twice it: read
    for path in (jpeg, png):
        assert photos.load_photo(path, 299).shape == (299, 299, 3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4800 * 2400 // 3)  # over twice the limit: refused
    for path in (jpeg, png):
        with pytest.raises(PhotoError, match="decompression bomb"):
            photos.load_photo(path, 299)
