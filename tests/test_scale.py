"""The smallest model: 2 classes, so "top-3" has 2 ranks, through train, export and parity.

The large end (1,000 classes, 100,000 photos) is measured by ``tests/benchmarks/bench_scale.py``,
not here: it takes longer than a test should.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carspotter.cli import main
from carspotter.contracts.runfolder import read_labels
from conftest import SAMPLE, android_assets_dir, tiny_run


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    """A 2-class run and its bundle (all formats, default variants)."""
    from carspotter.export.bundle import ExportOptions, export_bundle

    root = tmp_path_factory.mktemp("two")
    run_dir = tiny_run(root / "runs" / "two", max_classes=2)  # the subject is two classes, not the backbone
    return Path(run_dir), Path(export_bundle(run_dir, root / "bundles" / "two", ExportOptions(app_paths=False)))


def test_two_class_labels_are_in_every_format(two_classes):
    import onnx

    from carspotter.export.formats.tflite.metadata import read_metadata
    from carspotter.export.formats.coreml.inspect import coreml_structure

    run_dir, bundle = two_classes
    labels = read_labels(run_dir / "labels.txt")
    assert labels == sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())[:2]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["labels"] == labels
    for entry in manifest["formats"].values():
        assert read_labels(bundle / entry["labels"]) == labels
    assert read_metadata((android_assets_dir(bundle) / "carspotter.tflite").read_bytes())[1] == labels
    props = {p.key: p.value for p in onnx.load(bundle / "onnx" / "carspotter.onnx").metadata_props}
    assert json.loads(props["labels"]) == labels
    assert coreml_structure(bundle / "ios" / "Sources" / "CarSpotter" / "CarSpotterModel.mlpackage")["labels"] == labels


def test_two_class_parity_compares_two_ranks_and_passes(two_classes, capsys):
    run_dir, bundle = two_classes
    assert main(["parity", str(bundle), "--run", str(run_dir), "--reference-backends", "none"]) == 0
    out = capsys.readouterr().out
    assert "top-2: the model has 2 classes" in out
    results = json.loads((bundle / "parity.json").read_text())["results"]
    assert results and all(r["top_k"] == 2 and r["passed"] for r in results)


def test_two_class_report_says_top_3_is_every_class(two_classes):
    run_dir, _ = two_classes
    run = json.loads((run_dir / "run.json").read_text())
    assert run["metrics"]["test"]["top3"] == 1.0
    assert "(only 2 classes: always 100%)" in (run_dir / "report.md").read_text()
