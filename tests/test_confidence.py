"""Calibration folded into the model, the small-split fallback, negatives as a '(not a car)' class, and bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carspotter.cli import main
from conftest import SAMPLE, tiny_run


def test_fold_temperature_divides_the_logits_in_every_output(pipeline):
    import keras

    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run
    from carspotter.train.calibrate import fold_temperature, logits_of
    from carspotter.measure import calibration as cal

    run_dir, _ = pipeline
    run = read_run(run_dir)
    photos = split_photoset(run, "test")
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    logits = logits_of(model, photos.pixels, np.arange(len(photos.pixels)), 8)
    fold_temperature(model, 2.5)
    probs = model.predict(photos.pixels.astype(np.float32), verbose=0)
    assert np.abs(probs - cal.softmax(logits, 2.5)).max() < 1e-5
    assert np.array_equal(probs.argmax(1), logits.argmax(1))
    assert np.abs(probs - cal.softmax(logits)).max() > 1e-3  # T = 2.5 really changed the probabilities


def test_small_validation_split_falls_back_to_t1_and_no_threshold_recorded(pipeline):
    run_dir, bundle = pipeline
    doc = json.loads((run_dir / "run.json").read_text())
    c = doc["confidence"]
    assert sum(doc["classes"]["counts"]["val"]) < 20
    assert c["temperature"] == {**c["temperature"], "value": 1.0, "fitted": None, "adopted": False}
    assert "temperature scaling needs at least 20" in c["temperature"]["reason"]
    assert c["threshold"] is None and "needs at least 30" in c["threshold_reason"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["confidence"]["threshold"] is None and manifest["confidence"]["temperature"] == 1.0
    for platform in ("ios", "android", "onnx"):
        text = (bundle / platform / "README.md").read_text()
        assert "No confidence threshold could be chosen for 90% precision" in text
    report = (run_dir / "report.md").read_text()
    assert "## Confidence" in report and "needs at least 30" in report
    assert (run_dir / "reliability.png").stat().st_size > 1000 and (run_dir / "risk_coverage.png").is_file()
    assert c["not_car"]["count"] == 32 and 0 <= c["not_car"]["auroc"] <= 1
    assert c["not_car"]["rejected"] == 0.0  # no threshold and no '(not a car)' class: nothing is rejected


def _negatives(folder: Path, n: int = 15) -> Path:
    """``n`` non-car JPEGs (scikit-image photos and synthetic images) in ``folder``."""
    from carspotter.measure.notcar import skimage_photos, synthetic_photos

    folder.mkdir(parents=True)
    for i, item in enumerate((skimage_photos() + synthetic_photos())[:n]):
        Image.fromarray(item.pixels).save(folder / f"neg{i:02d}.jpg", quality=90)
    return folder


def test_negatives_become_the_last_class_and_the_bundle_passes_parity(tmp_path, capsys):
    from carspotter.export.bundle import ExportOptions, export_bundle

    data = tmp_path / "data"
    for name in sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())[:3]:
        shutil.copytree(SAMPLE / name, data / name)
    negatives = _negatives(tmp_path / "not-cars")
    run = tiny_run(
        tmp_path / "runs" / "neg",
        data,
        max_classes=None,
        epochs_finetune=0,
        image_size=96,
        seed=2,
        negatives=str(negatives),
    )
    labels = (run / "labels.txt").read_text().splitlines()
    assert labels[-1] == "(not a car)" and len(labels) == 4
    rows = (run / "split_train.csv").read_text().splitlines()
    negative_rows = [r for r in rows if "(not a car)" in r]
    assert negative_rows and all(r.startswith("../not-cars/neg") for r in negative_rows)
    doc = json.loads((run / "run.json").read_text())
    assert doc["confidence"]["negative_class"] == "(not a car)"
    assert doc["confidence"]["held_out_negatives"]["count"] == doc["classes"]["counts"]["test"][-1] >= 1
    bundle = export_bundle(
        run, tmp_path / "bundles" / "neg", ExportOptions(formats=("tflite", "onnx"), golden=8, app_paths=False)
    )
    assert json.loads((bundle / "manifest.json").read_text())["labels"][-1] == "(not a car)"
    assert main(["parity", str(bundle), "--run", str(run), "--no-app-paths", "--reference-backends", "none"]) == 0
    # The golden set names its photos relative to the data folder: no path of this machine.
    assert str(tmp_path) not in (bundle / "golden" / "expected.json").read_text()


def test_negatives_overlapping_a_class_is_a_conflict_and_bad_folders_are_one_line(tmp_path, capsys):
    from carspotter.util.errors import DatasetError
    from carspotter.train import dataset as ds

    data = tmp_path / "data"
    for name in sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())[:2]:
        shutil.copytree(SAMPLE / name, data / name)
    negatives = _negatives(tmp_path / "neg", n=6)
    shared = sorted((data / sorted(p.name for p in data.iterdir())[0]).iterdir())[0]
    shutil.copyfile(shared, negatives / "also-a-class.jpg")
    found = ds.scan(data, negatives=negatives, workers=1)
    assert found.classes[-1] == ds.NOT_A_CAR
    conflict = [paths for paths in found.conflicts.values() if "../neg/also-a-class.jpg" in paths]
    assert conflict and len(conflict[0]) == 2
    assert all(p.path != "../neg/also-a-class.jpg" for p in found.photos)
    with pytest.raises(DatasetError, match=r"--negatives .*missing: not a folder"):
        ds.scan(data, negatives=tmp_path / "missing", workers=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no photos in it"):
        ds.scan(data, negatives=tmp_path / "empty", workers=1)
    (data / "(not a car)").mkdir()
    shutil.copyfile(shared, data / "(not a car)" / "x.jpg")
    with pytest.raises(DatasetError, match="a class is named '\\(not a car\\)'"):
        ds.scan(data, workers=1)


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_target_precision_outside_0_1_is_one_line_exit_2(tmp_path, capsys, value):
    code = main(["train", str(SAMPLE), "--out", str(tmp_path / "r"), "--weights", "none", "--target-precision", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--target-precision" in err[0] and "above 0 and below 1" in err[0]
    assert not (tmp_path / "r").exists()
