"""Bad input in, clear answer out: names, links, interrupted writes, odd labels, broken photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from carspotter.util.atomic import atomic_folder
from carspotter.util.errors import WeightsError
from carspotter.train import dataset as ds
from images import write_photos


def test_non_utf8_photo_name_is_listed_not_crashing(tmp_path):
    for name in ("a", "b"):
        write_photos(tmp_path / name, 5, seed=ord(name))
    bad = os.path.join(os.fsencode(tmp_path / "a"), b"caf\xe9.jpg")
    with open(bad, "wb") as f:
        f.write((tmp_path / "a" / "photo_97_0.jpg").read_bytes()[:-1] + b"\x00")
    data = ds.scan(tmp_path)
    assert ("a/caf\\xe9.jpg", "file name is not valid UTF-8; rename it") in data.ignored_files
    assert data.counts() == {"a": 5, "b": 5}


def test_non_utf8_class_folder_is_dropped_and_named(tmp_path):
    for name in ("a", "b"):
        write_photos(tmp_path / name, 5, seed=ord(name))
    os.mkdir(os.path.join(os.fsencode(tmp_path), b"Citro\xebn"))
    write_photos(Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"Citro\xebn"))), 5, seed=3)
    data = ds.scan(tmp_path)
    assert data.classes == ["a", "b"]
    assert data.dropped_classes == {
        "Citro\\xebn": "class folder name is not valid UTF-8 (labels are UTF-8); rename the folder"
    }


def test_class_name_with_line_break_is_dropped(tmp_path):
    for i, name in enumerate(("a", "b", "two\nlines")):
        write_photos(tmp_path / name, 5, seed=i)
    data = ds.scan(tmp_path)
    assert data.classes == ["a", "b"]
    assert "line break" in data.dropped_classes["two\\nlines"]


def test_slash_in_a_class_name_is_a_nested_folder_of_the_first_part(tmp_path):
    # A folder name cannot hold "/": "Ram C/V" on disk is folder "Ram C" holding "V".
    write_photos(tmp_path / "Ram C/V Cargo Van", 5, seed=1)
    write_photos(tmp_path / "b", 5, seed=2)
    data = ds.scan(tmp_path)
    assert data.classes == ["Ram C", "b"] and data.counts()["Ram C"] == 5


def test_symlinked_class_folder_and_photo_are_read(tmp_path):
    write_photos(tmp_path / "store" / "a", 5, seed=1)
    extra = write_photos(tmp_path / "store" / "extra", 1, seed=2)[0]
    data_dir = tmp_path / "data"
    write_photos(data_dir / "b", 5, seed=3)
    (data_dir / "a").symlink_to(tmp_path / "store" / "a", target_is_directory=True)
    (data_dir / "b" / "linked.jpg").symlink_to(extra)
    data = ds.scan(data_dir)
    assert data.counts() == {"a": 5, "b": 6}


def test_imagenet_weights_with_wrong_range_is_refused():
    from carspotter.train.weights import make_base

    with pytest.raises(WeightsError, match="--input-range 0,1: Keras' ImageNet weights for InceptionV3 expect -1,1"):
        make_base(75, "imagenet", "0,1")


def test_atomic_folder_keeps_the_old_result_when_the_build_fails(tmp_path):
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "model.keras").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(dest) as tmp:
            (tmp / "model.keras").write_text("new, half")
            raise RuntimeError("killed mid-write")
    assert (dest / "model.keras").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_kill_9_mid_write_leaves_the_old_result_and_the_next_run_tidies(tmp_path):
    dest = tmp_path / "bundle"
    dest.mkdir()
    (dest / "manifest.json").write_text("old")
    script = textwrap.dedent(f"""
        import os, signal
        from carspotter.util.atomic import atomic_folder
        with atomic_folder({str(dest)!r}) as tmp:
            (tmp / "manifest.json").write_text("new")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == -9
    assert (dest / "manifest.json").read_text() == "old"
    assert any(p.name.startswith(".bundle.tmp-") for p in tmp_path.iterdir())  # the killed build's leftovers
    with atomic_folder(dest) as tmp:
        (tmp / "manifest.json").write_text("newer")
    assert (dest / "manifest.json").read_text() == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_kill_between_the_two_renames_is_recovered(tmp_path):
    dest = tmp_path / "bundle"
    old = tmp_path / ".bundle.old"  # the old result, moved aside just before the kill
    old.mkdir()
    (old / "manifest.json").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(dest):
            raise RuntimeError("fails before renaming")
    assert (dest / "manifest.json").read_text() == "old"


@pytest.fixture(scope="module")
def odd_labels_run(tmp_path_factory):
    """A 0-epoch run (75 px, the tiny backbone: the subject is the labels) whose class names carry quotes, commas,
    backslashes and emoji."""
    from conftest import tiny_run

    root = tmp_path_factory.mktemp("odd")
    names = ['Ram "C-V", Cargo Van 2012', "Škoda\\Octavia 🚗", "smart <fortwo> & co'"]
    for i, name in enumerate(names):
        write_photos(root / "data" / name, 5, seed=i, size=(80, 80))
    (root / "data" / names[0] / "broken.jpg").write_text("not a photo")
    run = tiny_run(
        root / "run", root / "data", max_classes=None, epochs_head=0, epochs_finetune=0, image_size=75, min_photos=3
    )
    return run, sorted(names)


def test_skipped_photo_is_in_run_json_with_its_reason(odd_labels_run):
    run, names = odd_labels_run
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert meta["data"]["skipped_photos"] == [
        [f"{names[0]}/broken.jpg", "not an image Pillow can read; remove it or convert it to JPEG/PNG"]
    ]
    assert meta["classes"]["names"] == names


def test_odd_labels_survive_every_format_exactly(odd_labels_run, tmp_path):
    import onnx

    from conftest import android_assets_dir
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.export.formats.tflite.metadata import read_metadata
    from carspotter.export.formats.coreml.inspect import coreml_structure
    from carspotter.contracts.runfolder import read_labels

    run, names = odd_labels_run
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(app_paths=False))
    for labels in (
        "ios/Sources/CarSpotter/labels.txt",
        "android/src/main/assets/carspotter_bundle/labels.txt",
        "onnx/labels.txt",
    ):
        assert read_labels(bundle / labels) == names
        assert not any(n in (bundle / labels.split("/")[0] / "README.md").read_text(encoding="utf-8") for n in names)
    props = {p.key: p.value for p in onnx.load(bundle / "onnx" / "carspotter.onnx").metadata_props}
    assert json.loads(props["labels"]) == names
    assert read_metadata((android_assets_dir(bundle) / "carspotter.tflite").read_bytes())[1] == names
    assert coreml_structure(bundle / "ios" / "Sources" / "CarSpotter" / "CarSpotterModel.mlpackage")["labels"] == names
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["labels"] == names
    # exported with app_paths=False (--no-app-paths): the advice stays, no measurement is claimed
    readme = (bundle / "onnx" / "README.md").read_text(encoding="utf-8")
    assert manifest["app_paths"] is None and "## Resizing" in readme and "| path | who resizes" not in readme
    assert "not measured at export (`carspotter export --no-app-paths`)" in readme


def test_parity_on_a_folder_with_broken_photos_lists_them(pipeline, tmp_path):
    from conftest import SAMPLE
    from images import two_tone

    _, bundle = pipeline
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in sorted((SAMPLE / sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())[0]).glob("*.jpg"))[:2]:
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a photo")
    two_tone(8, 8).save(folder / "thumb.png")
    (folder / ".DS_Store").write_bytes(b"\0")
    exe = Path(sys.executable).with_name("carspotter")
    result = subprocess.run(
        [str(exe), "parity", str(bundle), "--images", str(folder), "--reference-backends", "none"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    report = json.loads((bundle / "parity.json").read_text())
    assert report["photos"] == 2
    assert sorted(report["skipped_photos"]) == [
        ["empty.jpg", "empty file (0 bytes); replace or remove it"],
        ["notes.jpg", "not an image Pillow can read; remove it or convert it to JPEG/PNG"],
        ["thumb.png", "too small (8x8 px; the minimum side is 32 px)"],
    ]
    assert any(
        "--images or --limit" in s["reason"] for s in report["skipped_checks"]
    )  # variant figures not re-measured
