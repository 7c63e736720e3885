"""Region of interest: the semantics (model/roi.py), through decoding and the resize, vectors, CSV boxes, predict."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from carspotter.contracts import box_vectors, resize_vectors
from carspotter.model import photos, reference_resize
from carspotter.model.roi import Roi, RoiError, check_roi, iou
from carspotter.model.two_pass import box_to_roi, needs_second_pass


@pytest.mark.parametrize(
    "roi, fault",
    [
        ((-1, 0, 10, 10), "negative"),
        ((5, 5, 5, 9), "empty"),
        ((9, 0, 3, 9), "empty"),
        ((0, 0, 641, 10), "outside"),
        ((0, 0, 10, 481), "outside"),
        ((math.nan, 0, 10, 10), "nan"),
        ((0, 0, math.inf, 10), "inf"),
        ((0.5, 0, 10, 10), "not a whole pixel"),
        ((0, 0, 10), "not four"),
        ((True, 0, 10, 10), "boolean"),
        ("1,2,x,4", "not four numbers"),
    ],
)
def test_bad_rois_are_refused_with_one_line_naming_the_rule(roi, fault):
    with pytest.raises(RoiError) as err:
        check_roi(roi, 640, 480)
    text = str(err.value)
    assert "\n" not in text and "0 <= x0 < x1 <= width" in text
    assert fault.split()[0] in text.lower() or fault in text


def test_edge_rois_are_accepted_and_whole_floats_become_ints():
    assert check_roi((0, 0, 640, 480), 640, 480) == Roi(0, 0, 640, 480)
    assert check_roi((639.0, 479.0, 640.0, 480.0), 640, 480) == Roi(639, 479, 640, 480)
    assert check_roi("12, 7, 13, 8", 640, 480).width == 1
    assert type(check_roi((1.0, 2.0, 3.0, 4.0), 9, 9).x0) is int


def test_roi_is_cut_at_full_resolution_before_the_box_reduction():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (3024, 4032, 3), dtype=np.uint8)
    roi = Roi(1001, 757, 2017, 1512)  # 1016 x 755: box factors 3 x 2 from the ROI, not 13 x 10 from the photo
    got = reference_resize.resize(photo[757:1512, 1001:2017], 299)
    whole_then_cut = reference_resize.resize(photo, 299)
    image = Image.fromarray(photo)
    np.testing.assert_array_equal(photos.resize(np.asarray(photos.crop(image, roi)), 299), got)
    assert reference_resize.box_factors(roi.width, roi.height, 299) == (3, 2)
    # the detail is kept: noise averaged over 3 x 2 boxes, not over 13 x 10 as when the whole photo is reduced first
    assert got.std() > 3 * whole_then_cut.std()


def test_decoding_applies_orientation_before_the_roi(tmp_path):
    upright = np.zeros((200, 100, 3), np.uint8)  # portrait, upright: a white square at the top-left
    upright[10:40, 5:35] = 255
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)  # orientation 6 stores it rotated
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.png"
    stored.save(path, exif=exif.tobytes())
    got = photos.load_photo(path, 32, (5, 10, 35, 40))
    assert got.min() == 255  # the ROI is in upright coordinates: it holds the white square only
    with pytest.raises(photos.PhotoError, match="reaches outside the 100x200 photo"):
        photos.load_photo(path, 32, (0, 0, 150, 100))


def test_resize_vectors_hold_rois_in_every_orientation_and_catch_a_port_that_ignores_them(tmp_path):
    entry = resize_vectors.write_vectors(tmp_path, 64)
    assert {v["orientation"] for v in entry["vectors"]} >= {1, 2, 3, 5, 6, 7, 8}
    assert sum(v["roi"] is not None for v in entry["vectors"]) == 8
    assert all(r.differing == 0 for r in resize_vectors.check_vectors(tmp_path))
    no_roi = resize_vectors.check_vectors(tmp_path, lambda img, s, o, roi: resize_vectors.expected(img, s, o, None))
    assert {r.name for r in no_roi if r.differing} == {v["name"] for v in entry["vectors"] if v["roi"]}
    bad = (tmp_path / "resize" / "bad_rois.txt").read_text().splitlines()[1:]
    for line in bad:
        w, h, *values, kind = line.split("\t")
        try:
            check_roi([float(v) for v in values], int(w), int(h))
            assert kind == "ok", line
        except RoiError:
            assert kind != "ok", line


def test_two_pass_box_logic_in_integers():
    whole = Roi(0, 0, 4032, 3024)
    roi = box_to_roi(np.array([0.25, 0.25, 0.75, 0.75], np.float32), whole)
    assert roi == Roi(1008, 756, 3024, 2268) and needs_second_pass(roi, whole)
    assert box_to_roi(np.array([np.nan, 0, 1, 1], np.float32), whole) is None
    assert box_to_roi(np.array([0.5, 0.5, 0.5, 0.5], np.float32), whole) is None
    full = box_to_roi(np.array([-1, -1, 2, 2], np.float32), whole)
    assert full == whole and not needs_second_pass(full, whole)
    inner = box_to_roi(np.array([0, 0, 0.5, 0.5], np.float32), Roi(100, 50, 300, 250))
    assert inner == Roi(100, 50, 200, 150)  # offsets into the region


def test_box_vectors_agree_and_catch_a_port_that_rounds(tmp_path):
    assert box_vectors.write_vectors(tmp_path)["count"] > 150
    assert box_vectors.check_vectors(tmp_path) == []

    def rounds(box, region):  # round to nearest where the rule says floor / ceil
        if not all(math.isfinite(v) for v in box):
            return None, False
        vals = [min(1.0, max(0.0, v)) for v in box]
        r = Roi(
            region.x0 + round(vals[0] * region.width),
            region.y0 + round(vals[1] * region.height),
            region.x0 + round(vals[2] * region.width),
            region.y0 + round(vals[3] * region.height),
        )
        ok = r.width >= 8 and r.height >= 8
        return (r, needs_second_pass(r, region)) if ok else (None, False)

    assert len(box_vectors.check_vectors(tmp_path, rounds)) > 50


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_csv_box_columns_are_read_and_bad_boxes_named(tmp_path):
    from carspotter.contracts import readers
    from carspotter.util.errors import DatasetError

    Image.new("RGB", (100, 80)).save(tmp_path / "a.jpg")
    (tmp_path / "ok.csv").write_text("path,label,x0,y0,x1,y1\na.jpg,car,10,5,90,75\na.jpg,car,,,,\n")
    found = readers.read(tmp_path / "ok.csv", crop=True)
    assert [r.box for r in found.records] == [(10, 5, 90, 75), None]
    assert [r.annotated for r in readers.read(tmp_path / "ok.csv").records] == [(10, 5, 90, 75), None]
    assert readers.read(tmp_path / "ok.csv").records[0].box is None
    for body, why in (
        ("a.jpg,car,10,5,9,75", "empty"),
        ("a.jpg,car,1.5,5,9,75", "whole"),
        ("a.jpg,car,1,,9,75", "all given"),
    ):
        (tmp_path / "bad.csv").write_text("path,label,x0,y0,x1,y1\n" + body + "\n")
        with pytest.raises(DatasetError, match=f"bad.csv:2: .*{why}"):
            readers.read(tmp_path / "bad.csv")


def test_predict_cli_refuses_a_bad_roi_in_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from carspotter.cli import entry; entry()",
            "predict",
            str(tmp_path),
            str(tmp_path),
            "--roi",
            "1,2,3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "3 numbers, not four" in done.stderr and "Traceback" not in done.stderr
