"""Class-folder scanning and the deterministic stratified split."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from carspotter.util.errors import DatasetError, UsageError
from carspotter.contracts.split_files import SplitRow, read_split, write_split
from carspotter.train import dataset as ds
from images import write_photos


def make_tree(root, spec):
    """spec: {class name: photo count}."""
    for i, (name, n) in enumerate(spec.items()):
        write_photos(root / name, n, seed=i)
    return root


def test_classes_sorted_hidden_ignored_empty_dropped(tmp_path):
    make_tree(tmp_path, {"b car": 6, "a car": 6, "c small": 2})
    (tmp_path / "empty").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "a car" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "a car" / "notes.txt").write_text("x")
    data = ds.scan(tmp_path, min_photos=5)
    assert data.classes == ["a car", "b car"]
    assert data.counts() == {"a car": 6, "b car": 6}
    assert data.dropped_classes == {
        "c small": "2 usable photos, below the minimum of 5",
        "empty": "empty class folder (no photos)",
    }
    assert ("a car/notes.txt", "not a photo suffix (.txt)") in data.ignored_files


def test_names_read_as_written_and_nested_folders(tmp_path):
    names = {'Ram C-V Cargo Van, 2012 "quoted"': 5, "Škoda 🚗 Octavia": 5}
    make_tree(tmp_path, names)
    write_photos(tmp_path / "Škoda 🚗 Octavia" / "nested", 2, seed=9)
    data = ds.scan(tmp_path)
    assert data.classes == sorted(names)
    assert data.counts()["Škoda 🚗 Octavia"] == 7


def test_max_classes_keeps_first_by_name(tmp_path):
    make_tree(tmp_path, {"c": 5, "a": 5, "b": 5})
    assert ds.scan(tmp_path, max_classes=2).classes == ["a", "b"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_classes": 0}, "--max-classes 0"),
        ({"min_photos": 2}, "--min-photos 2"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    make_tree(tmp_path, {"a": 5, "b": 5})
    with pytest.raises(UsageError, match=message):
        ds.scan(tmp_path, **kwargs)


def test_missing_folder_and_too_few_classes(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        ds.scan(tmp_path / "nope")
    make_tree(tmp_path, {"only": 6})
    with pytest.raises(DatasetError, match=r"1 usable class\(es\), need at least 2"):
        ds.scan(tmp_path)


def test_conflicting_duplicate_is_left_out_and_reported(tmp_path):
    make_tree(tmp_path, {"a": 6, "b": 6})
    shutil.copy(tmp_path / "a" / "photo_0_0.jpg", tmp_path / "b" / "copy.jpg")
    data = ds.scan(tmp_path)
    assert list(data.conflicts.values()) == [["a/photo_0_0.jpg", "b/copy.jpg"]]
    paths = {p.path for p in data.photos}
    assert "a/photo_0_0.jpg" not in paths and "b/copy.jpg" not in paths


def test_split_is_stratified_deterministic_and_keeps_duplicates_together(tmp_path):
    make_tree(tmp_path, {"a": 20, "b": 14})
    for i in range(3):
        shutil.copy(tmp_path / "a" / "photo_0_0.jpg", tmp_path / "a" / f"dup{i}.jpg")
    data = ds.scan(tmp_path)
    s1, s2 = ds.split(data, seed=3), ds.split(data, seed=3)
    assert s1 == s2
    assert ds.split(data, seed=4) != s1
    for name in ds.SPLITS:
        assert {p.label for p in s1[name]} == {0, 1}
    assert sum(len(v) for v in s1.values()) == 37
    # class a: 20 unique contents -> 3 val, 3 test groups
    assert sum(p.label == 0 for p in s1["val"]) >= 3
    homes = {name for name in ds.SPLITS for p in s1[name] if p.sha256 == data.photos[0].sha256}
    assert len(homes) == 1


def test_split_csv_round_trip_with_commas_and_quotes(tmp_path):
    photos = [ds.Photo('x, "y"/1.jpg', 1, "0" * 64, box=(1, 2, 30, 40))]
    write_split(tmp_path / "s.csv", ds.split_rows(photos, ["a", 'b, "c"']))
    assert read_split(tmp_path / "s.csv") == [SplitRow('x, "y"/1.jpg', 1, 'b, "c"', (1, 2, 30, 40))]


def test_class_names_are_nfc_and_nfd_folders_merge_with_a_report(tmp_path):
    """macOS writes 'Citroën' decomposed (NFD); Linux as typed (NFC): one class, in NFC everywhere."""
    import unicodedata

    from carspotter.train import dataset as ds

    nfc, nfd = "Citro\u00ebn C4 2012", "Citroe\u0308n C4 2012"
    assert unicodedata.normalize("NFC", nfd) == nfc and nfc != nfd
    for name, colour in ((nfc, (200, 0, 0)), (nfd, (0, 200, 0)), ("Skoda Octavia 2012", (0, 0, 200))):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (64 + i, 48), tuple(c + 10 * i for c in colour)).save(tmp_path / name / f"{i}.jpg")
    found = ds.scan(tmp_path, min_photos=3, workers=1)
    assert found.classes == [nfc, "Skoda Octavia 2012"]
    assert found.counts()[nfc] == 6
    assert found.normalized == {nfd: nfc}
    assert found.merged == {nfc: sorted([nfc, nfd])}
    # A mapping file typed in the other form still applies.
    (tmp_path.parent / "map.json").write_text(json.dumps({nfd: "Citroen C4 2012"}), encoding="utf-8")
    mapped = ds.scan(tmp_path, min_photos=3, workers=1, mapping=tmp_path.parent / "map.json")
    assert mapped.classes == ["Citroen C4 2012", "Skoda Octavia 2012"]
