"""Readers (fixed-split folders, CSV manifest, Stanford Cars devkit) and the class mapping file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from carspotter.model import photos
from carspotter.util.errors import DatasetError, UsageError
from carspotter.train import dataset as ds
from images import write_photos


def test_fixed_split_subfolders_decide_the_split_and_a_leak_is_kept_in_train_only(tmp_path):
    for k, (split, n) in enumerate((("train", 6), ("val", 3), ("test", 3))):
        for i, name in enumerate(("audi", "bmw")):  # distinct seeds: equal seeds write equal photos, i.e. leaks
            write_photos(tmp_path / split / name, n, seed=100 + 2 * k + i)
    leaked = tmp_path / "test" / "audi" / "copy.jpg"
    shutil.copy(next((tmp_path / "train" / "audi").glob("*.jpg")), leaked)
    data = ds.scan(tmp_path, min_photos=5)
    assert data.format == "folders+split" and data.fixed_split
    assert data.classes == ["audi", "bmw"]
    parts = ds.split(data, seed=1)
    assert {s: len(v) for s, v in parts.items()} == {"train": 12, "val": 6, "test": 6}
    assert all(p.path.startswith(f"{s}/") for s, v in parts.items() for p in v)
    assert len(data.leaks) == 1 and "test/audi/copy.jpg" in next(iter(data.leaks.values()))
    assert ds.split(data, seed=1) == ds.split(data, seed=2)  # the dataset's split, not a seeded one


def test_fixed_split_class_without_training_photos_is_dropped(tmp_path):
    write_photos(tmp_path / "train" / "a", 4, seed=1)
    write_photos(tmp_path / "train" / "b", 4, seed=2)
    write_photos(tmp_path / "val" / "c", 4, seed=3)
    write_photos(tmp_path / "val" / "a", 1, seed=4)
    data = ds.scan(tmp_path, min_photos=3)
    assert data.classes == ["a", "b"]
    assert data.dropped_classes["c"] == "no photo in the train split; add training photos"


def test_csv_manifest_with_and_without_split(tmp_path):
    files = write_photos(tmp_path / "photos", 12, seed=5)
    rows = ["path,label,split"] + [
        f"photos/{f.name},{'Audi TT' if i % 2 else 'BMW, M3'}".replace("BMW, M3", '"BMW, M3"')
        + f",{('train', 'train', 'val', 'test')[i % 4] if i < 8 else 'train'}"
        for i, f in enumerate(files)
    ]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    data = ds.scan(tmp_path / "m.csv", min_photos=3)
    assert data.format == "csv" and data.fixed_split
    assert data.classes == ["Audi TT", "BMW, M3"]
    parts = ds.split(data, seed=0)
    assert [len(parts[s]) for s in ds.SPLITS] == [8, 2, 2]
    assert all((data.root / p.path).is_file() for p in data.photos)

    (tmp_path / "n.csv").write_text(
        "path,label\n" + "".join(f"photos/{f.name},{'a' if i < 6 else 'b'}\n" for i, f in enumerate(files))
    )
    data = ds.scan(tmp_path / "n.csv", min_photos=3)
    assert not data.fixed_split
    assert sum(len(v) for v in ds.split(data, seed=0).values()) == 12


@pytest.mark.parametrize(
    "text, message",
    [
        ("file,class\nx.jpg,a\n", "the header must name the columns path,label"),
        ("path,label,split\nphotos/p.jpg,a,training\n", "m.csv:2: split 'training' is not one of train, val, test"),
        ("path,label\nphotos/missing.jpg,a\n", "m.csv:2: photo photos/missing.jpg not found"),
        ("path,label\nphotos/p.jpg,\n", "m.csv:2: empty path or label"),
        ("path,label\n", "no photo rows"),
    ],
)
def test_csv_manifest_errors_name_the_line(tmp_path, text, message):
    (tmp_path / "photos").mkdir()
    Image.new("RGB", (40, 40)).save(tmp_path / "photos" / "p.jpg")
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ds.scan(tmp_path / "m.csv")


def _devkit(root, n_per_class=4):
    """A miniature Stanford Cars devkit: two classes, a car drawn at the annotated box."""
    from scipy.io import savemat

    (root / "cars_train").mkdir(parents=True)
    (root / "devkit").mkdir()
    records = []
    for i in range(2 * n_per_class):
        img = np.full((100, 160, 3), 200, np.uint8)
        img[20:80, 40 + i : 120, :] = (30 * i % 255, 0, 255)
        name = f"{i + 1:05d}.jpg"
        Image.fromarray(img).save(root / "cars_train" / name, quality=95)
        records.append((41 + i, 21, 120, 80, i % 2 + 1, name))  # 1-based inclusive box
    dtype = [("bbox_x1", "O"), ("bbox_y1", "O"), ("bbox_x2", "O"), ("bbox_y2", "O"), ("class", "O"), ("fname", "O")]
    annotations = np.array([tuple(r) for r in records], dtype=dtype).reshape(1, -1)
    savemat(root / "devkit" / "cars_train_annos.mat", {"annotations": annotations})
    savemat(
        root / "devkit" / "cars_meta.mat",
        {"class_names": np.array([["AM General Hummer SUV 2000", "Ram C/V Cargo Van Minivan 2012"]], dtype=object)},
    )
    return records


def test_stanford_devkit_reader_with_and_without_crop(tmp_path):
    records = _devkit(tmp_path)
    data = ds.scan(tmp_path, min_photos=3)
    assert data.format == "devkit"
    assert data.classes == ["AM General Hummer SUV 2000", "Ram C-V Cargo Van Minivan 2012"]
    assert all(p.box is None for p in data.photos)

    cropped = ds.scan(tmp_path, min_photos=3, crop=True)
    first = next(p for p in cropped.photos if p.path.endswith("00001.jpg"))
    assert first.box == (40, 20, 120, 80)  # 0-based, right/bottom exclusive
    whole = photos.load_photo(tmp_path / first.path, 32)
    box_only = photos.load_photo(tmp_path / first.path, 32, first.box)
    expected = photos.resize(Image.open(tmp_path / first.path).convert("RGB").crop(first.box), 32)
    np.testing.assert_array_equal(box_only, expected)
    assert not np.array_equal(whole, box_only)
    assert len(records) == 8


def test_crop_needs_boxes_and_devkit_needs_its_files(tmp_path):
    write_photos(tmp_path / "a", 5, seed=1)
    write_photos(tmp_path / "b", 5, seed=2)
    with pytest.raises(UsageError, match="--crop-to-box needs bounding boxes"):
        ds.scan(tmp_path, crop=True)
    with pytest.raises(DatasetError, match="cars_train_annos.mat and cars_meta.mat"):
        ds.scan(tmp_path, fmt="devkit")


def test_a_crop_box_outside_the_photo_is_a_clear_photo_error(tmp_path):
    # the ROI semantics (model/roi.py): nothing is clipped, a box past the edge names the file, the box and the rule
    Image.new("RGB", (100, 80)).save(tmp_path / "p.jpg")
    with pytest.raises(photos.PhotoError, match=r"p.jpg: ROI \(90, 0, 200, 80\) reaches outside the 100x80 photo"):
        photos.load_photo(tmp_path / "p.jpg", 64, (90, 0, 200, 80))


def test_mapping_merges_and_renames_classes(tmp_path):
    for i, (name, n) in enumerate((("Audi TT 2.0", 3), ("Audi TT TDI", 3), ("bmw m3", 6))):
        write_photos(tmp_path / "data" / name, n, seed=i)
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"Audi TT 2.0": "Audi TT", "Audi TT TDI": "Audi TT", "bmw m3": "BMW M3"}))
    data = ds.scan(tmp_path / "data", min_photos=5, mapping=mapping)
    assert data.classes == ["Audi TT", "BMW M3"]  # 3 + 3 merged pass the minimum of 5; apart, both would be dropped
    assert data.counts() == {"Audi TT": 6, "BMW M3": 6}
    assert data.renamed == {"Audi TT 2.0": "Audi TT", "Audi TT TDI": "Audi TT", "bmw m3": "BMW M3"}
    without = ds.scan(tmp_path / "data", min_photos=3)
    assert without.classes == ["Audi TT 2.0", "Audi TT TDI", "bmw m3"]

    csv_map = tmp_path / "map.csv"
    csv_map.write_text('from,to\n"Audi TT 2.0",Audi TT\nAudi TT TDI,Audi TT\n')
    data = ds.scan(tmp_path / "data", min_photos=3, mapping=csv_map)
    assert data.classes == ["Audi TT", "bmw m3"] and data.counts() == {"Audi TT": 6, "bmw m3": 6}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"Audi TT 2.O": "Audi TT"}', r"1 source name\(s\) match no class in the data: 'Audi TT 2.O'"),
        ('{"Audi TT 2.0": ', "not valid JSON"),
        ('["Audi TT 2.0"]', "expected a JSON object of class names"),
        ('{"Audi TT 2.0": "two\\nlines"}', "contains a line break"),
    ],
)
def test_bad_mapping_file(tmp_path, content, message):
    write_photos(tmp_path / "data" / "Audi TT 2.0", 4, seed=1)
    write_photos(tmp_path / "data" / "b", 4, seed=2)
    (tmp_path / "map.json").write_text(content)
    with pytest.raises(DatasetError, match=message):
        ds.scan(tmp_path / "data", min_photos=3, mapping=tmp_path / "map.json")
