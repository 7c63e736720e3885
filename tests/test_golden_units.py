"""Golden-set parts on hand-made inputs: lossless JPEG metadata removal, the photo choice, the app-path gate."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from carspotter.measure.app_paths import PATHS, AppGate, figures
from carspotter.export.golden_set import COVERAGE, MARGIN, choose
from carspotter.export.jpeg_metadata import strip_metadata
from images import two_tone


def _jpeg_with_everything(orientation=6) -> tuple[bytes, bytes, bytes]:
    """``(JPEG with EXIF (orientation, make, serial number, GPS), XMP, ICC and a comment; the same as MPO; the ICC profile)``."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam Inc."  # Make
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-12345"  # BodySerialNumber
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)})  # GPS
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description GPSLatitude="48,51N"/></rdf:RDF></x:xmpmeta>'
    image.save(buf, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc, comment=b"shot at home", xmp=xmp)
    data = buf.getvalue()
    mpo = io.BytesIO()  # a multi-picture file: a second image after the first EOI, indexed in APP2 MPF
    image.save(mpo, "MPO", save_all=True, append_images=[image.rotate(90)], exif=exif.tobytes())
    return data, mpo.getvalue(), icc


def test_strip_keeps_pixels_orientation_and_colour_profile_and_nothing_else():
    data, _, icc = _jpeg_with_everything()
    before = Image.open(io.BytesIO(data))
    assert before.getexif()[0x010F] == "SpyCam Inc." and "comment" in before.info and "xmp" in before.info
    stripped = strip_metadata(data, orientation=6)
    after = Image.open(io.BytesIO(stripped))
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))  # not re-encoded: the same pixels
    assert dict(after.getexif()) == {0x0112: 6}  # orientation only: no make, serial, GPS IFD, thumbnail
    assert after.getexif().get_ifd(0x8825) == {} and after.getexif().get_ifd(0x8769) == {}
    assert "comment" not in after.info and "xmp" not in after.info and after.info.get("icc_profile") == icc
    for secret in (b"SpyCam", b"SERIAL-12345", b"shot at home", b"GPSLatitude"):
        assert secret not in stripped
    assert len(stripped) < len(data)


def test_strip_drops_the_secondary_images_of_a_multi_picture_file():
    _, mpo, _ = _jpeg_with_everything()
    assert Image.open(io.BytesIO(mpo)).n_frames == 2
    stripped = strip_metadata(mpo, orientation=None)
    after = Image.open(io.BytesIO(stripped))
    assert getattr(after, "n_frames", 1) == 1 and after.getexif().get(0x0112) is None and b"MPF\x00" not in stripped
    np.testing.assert_array_equal(np.asarray(after), np.asarray(Image.open(io.BytesIO(mpo))))


@pytest.mark.parametrize("bad, message", [(b"\x89PNG\r\n", "not a JPEG"), (None, "truncated")])
def test_strip_refuses_what_is_not_a_whole_jpeg(bad, message):
    if bad is None:
        buf = io.BytesIO()
        two_tone(64, 64).save(buf, "JPEG")
        bad = buf.getvalue()[: len(buf.getvalue()) // 2]
    with pytest.raises(ValueError, match=message):
        strip_metadata(bad)


def test_choice_spreads_over_classes_then_takes_the_smallest_margins():
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(5), 6)  # 5 classes x 6 photos
    probs = rng.dirichlet(np.ones(5) * 0.3, size=30)
    names = [f"{c}/{i:02d}.jpg" for c, i in zip(truth, range(30))]
    chosen = choose(truth, probs, names, 12)
    assert len(chosen) == 12 and len({i for i, _ in chosen}) == 12
    coverage = [i for i, why in chosen if why == COVERAGE]
    rest = [i for i, why in chosen if why == MARGIN]
    assert len(coverage) == 6 and sorted(set(truth[coverage])) == [0, 1, 2, 3, 4]  # every class, then a second round
    ordered = np.sort(probs, axis=1)
    margins = ordered[:, -1] - ordered[:, -2]
    others = sorted(margins[i] for i in range(30) if i not in coverage)
    assert sorted(margins[rest]) == pytest.approx(others[:6])
    assert len(choose(truth[:4], probs[:4], names[:4], 32)) == 4  # never more than there are


def _fig(reference, probs, truth=None):
    s = reference.shape[0]
    return figures(
        PATHS["opencv-linear"],
        "onnx fp32",
        reference,
        probs,
        truth,
        [f"p{i}" for i in range(s)],
        np.zeros((s, 4, 4, 3), np.uint8),
        np.ones((s, 4, 4, 3), np.float32),
        np.zeros(s, bool),
        min_margin=0.25,
    )


def test_app_gate_on_run_photos_needs_agreement_and_accuracy():
    reference = np.tile([[0.7, 0.2, 0.1]], (100, 1))
    truth = np.zeros(100, np.int64)
    same = _fig(reference, reference, truth)
    assert AppGate().judge(same, golden=False)[0] and same.top1_agreement == 1 and same.pixel_drift_mean == 1.0
    flipped = reference.copy()
    flipped[:3] = [0.2, 0.7, 0.1]  # 97 % agreement, 3 points of accuracy lost
    ok, text = AppGate().judge(_fig(reference, flipped, truth), golden=False)
    assert not ok and "top-1 agreement 97.0% (min 98.0%)" in text and "drop 3.0 points, max 1.0" in text


def test_app_gate_on_the_golden_set_counts_only_decisive_flips():
    reference = np.array([[0.5, 0.45, 0.05], [0.9, 0.05, 0.05]])
    near_flip = np.array([[0.45, 0.5, 0.05], [0.9, 0.05, 0.05]])
    ok, text = AppGate().judge(_fig(reference, near_flip), golden=True)
    assert ok and text.startswith("0 of 1 decisive photos")
    bgr = np.array([[0.5, 0.45, 0.05], [0.05, 0.05, 0.9]])  # what a miswired app (BGR, wrong range) does
    fig = _fig(reference, bgr)
    ok, text = AppGate().judge(fig, golden=True)
    assert not ok and fig.decisive_flips == [{"photo": "p1", "margin": 0.85}] and text.startswith("1 of 1 decisive")
