"""The localizer and two-pass recognition on a tiny run: composites, training, the two-output model, the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLE, tiny_run
from carspotter.measure.composites import compose
from carspotter.model.localizer import TwoPassAnswer, two_pass
from carspotter.model.roi import Roi


@pytest.fixture(scope="module")
def localized(tmp_path_factory):
    """A tiny run with a localizer (2 scenes per photo, 5 epochs: the subject is the plumbing, not the IoU)."""
    from carspotter.train.localizer import localize

    run = tiny_run(tmp_path_factory.mktemp("localizer") / "run")
    record = localize(run, per_photo=2, epochs=5, log=lambda m: None)
    return run, record


def test_composites_are_reproducible_and_their_box_holds_the_car():
    car = np.full((40, 80, 3), 7, np.uint8)
    a, b = compose(car, 0.5, seed=3, size=(800, 600)), compose(car, 0.5, seed=3, size=(800, 600))
    np.testing.assert_array_equal(a.pixels, b.pixels)
    assert a.box.width == 400 and a.box.height == 200 and a.pixels.shape == (600, 800, 3)
    inside = a.pixels[a.box.y0 : a.box.y1, a.box.x0 : a.box.x1]
    assert (inside == 7).all()  # the car is pasted last: nothing covers it
    with pytest.raises(ValueError, match="share"):
        compose(car, 0.0, seed=1)


def test_localize_writes_the_head_and_its_measured_figures(localized):
    run, record = localized
    assert (run / "localizer" / "head.keras").is_file()
    assert record["feature_layer"] == "mixed10" and set(record["candidates"]) == {
        "mixed10"
    }  # no mixed7 in the tiny one
    fig = record["candidates"]["mixed10"]
    assert fig["n"] > 0 and 0 <= fig["mean_iou_ci"][0] <= fig["mean_iou"] <= fig["mean_iou_ci"][1] <= 1
    assert json.loads((run / "localizer" / "localizer.json").read_text())["feature_layer"] == "mixed10"


def test_two_output_model_keeps_the_classifier_and_gives_a_box(localized):
    import keras

    from carspotter.model.localizer import load_two_output

    run, _ = localized
    classifier = keras.saving.load_model(run / "model.keras", compile=False)
    both = load_two_output(run)
    x = np.random.default_rng(0).integers(0, 256, (3, 128, 128, 3)).astype(np.float32)
    probs, box = both.predict(x, verbose=0)
    np.testing.assert_allclose(probs, classifier.predict(x, verbose=0), atol=1e-6)
    assert box.shape == (3, 4) and ((box >= 0) & (box <= 1)).all()
    assert [o.name for o in both.outputs] == ["probabilities", "box"] or both.output_names == ["probabilities", "box"]


def test_two_pass_classifies_the_box_at_full_resolution_when_the_car_is_small():
    photo = np.zeros((3000, 4000, 3), np.uint8)
    photo[1000:1500, 2000:3000] = 200
    seen = []

    def infer(x):
        seen.append(x[0].copy())
        return np.array([[0.2, 0.8]]), np.array([[0.5, 1 / 3, 0.75, 0.5]], np.float32)

    answer = two_pass(infer, photo, 64)
    assert isinstance(answer, TwoPassAnswer) and answer.passes == 2
    assert answer.roi == Roi(2000, 1000, 3000, 1500)  # floor(0.5 * 4000), floor(1/3 * 3000), ceil(0.75 * 4000), ...
    assert seen[1].mean() > 3 * seen[0].mean()  # pass 2 saw mostly the bright car

    def fills(x):
        return np.array([[0.6, 0.4]]), np.array([[0.0, 0.0, 1.0, 1.0]], np.float32)

    assert two_pass(fills, photo, 64).passes == 1


def _scenes(run, dest, shares=(0.4,)) -> None:
    """``dest/scene{i}.png``: a photo of each of the run's first classes pasted at ``shares[i]`` of a 1600 x 1200
    scene; ``dest/boxes.csv`` their labels and true boxes."""
    labels = (run / "labels.txt").read_text(encoding="utf-8").splitlines()
    with open(dest / "boxes.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "x0", "y0", "x1", "y1"])
        for i, share in enumerate(shares):
            label = labels[i % len(labels)]
            sample = next(
                p for p in sorted((SAMPLE / label).iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")
            )
            scene = compose(np.asarray(Image.open(sample).convert("RGB")), share, seed=5 + i, size=(1600, 1200))
            Image.fromarray(scene.pixels).save(dest / f"scene{i}.png")
            w.writerow([f"scene{i}.png", label, *scene.box])


def test_predict_and_evaluate_two_pass_from_the_command_line(localized, tmp_path):
    run, _ = localized
    _scenes(run, tmp_path)
    cli = [sys.executable, "-c", "from carspotter.cli import entry; entry()"]
    done = subprocess.run(
        [*cli, "predict", str(run), str(tmp_path / "scene0.png"), "--two-pass", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    two = json.loads(done.stdout)["photos"][0]["two_pass"]
    assert two["passes"] in (1, 2) and len(two["box"]) == 4 and len(two["top"]) == 3
    done = subprocess.run(
        [*cli, "evaluate", str(run), str(tmp_path / "boxes.csv"), "--two-pass", "--out", str(tmp_path / "ev")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    column = json.loads((tmp_path / "ev" / "evaluate.json").read_text())["columns"]["keras"]
    assert column["two_pass"]["iou"]["n"] == 1 and 0 <= column["two_pass"]["iou"]["mean"] <= 1
    assert column["two_pass"]["top1"] is not None and column["two_pass"]["photos"][0]["photo"] == "scene0.png"


def test_onnx_carries_the_box_and_parity_checks_it_from_the_bundle(localized, tmp_path):
    import onnx

    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.parity.run import run_parity

    run, _ = localized
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(formats=("onnx",), golden=4, app_paths=False))
    model = onnx.load(str(bundle / "onnx" / "carspotter.onnx"))
    assert [o.name for o in model.graph.output] == ["probabilities", "box"]
    expected = json.loads((bundle / "golden" / "expected.json").read_text())
    assert all(len(p["box"]) == 4 for p in expected["photos"])
    assert run_parity(bundle, app_paths=False, references=()) == 0
    checks = {c["check"]: c for c in json.loads((bundle / "parity.json").read_text())["structure_checks"]}
    assert (
        checks["onnx/box"]["passed"] and checks["onnx/box"]["max_abs_diff"] < 1e-4 and checks["onnx/box"]["photos"] == 4
    )
    assert checks["golden/box-vectors"]["passed"]


def test_evaluate_two_pass_gives_each_format_with_the_box_its_own_two_pass_figures(localized, tmp_path):
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.tools.evaluate import evaluate

    run, _ = localized
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(formats=("onnx",), golden=4, app_paths=False))
    _scenes(run, tmp_path, shares=(0.3, 0.5, 0.7, 1.0))
    result = evaluate(bundle, tmp_path / "boxes.csv", two_pass=True, with_app_paths=False, run=run)
    ref, onnx = result.columns["keras"]["two_pass"], result.columns["onnx/fp32"]["two_pass"]
    assert [p["photo"] for p in onnx["photos"]] == [f"scene{i}.png" for i in range(4)]
    assert onnx["photos"] == ref["photos"]  # the same passes and ROIs: the fp32 file's box is the reference's
    assert onnx["top1"] == ref["top1"] and onnx["iou"]["n"] == 4
    assert onnx["second_pass"]["count"] == sum(p["passes"] == 2 for p in onnx["photos"])
    alone = evaluate(bundle, tmp_path / "boxes.csv", two_pass=True, with_app_paths=False)  # the run not found
    assert "keras" not in alone.columns and alone.columns["onnx/fp32"]["two_pass"]["photos"] == onnx["photos"]
    assert any(n.startswith("no two-pass figures for the Keras reference") for n in alone.notes), alone.notes


def test_benchmark_times_two_passes_for_a_file_with_the_box(localized, tmp_path):
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.tools.benchmark import run_benchmark
    from carspotter.tools.benchmark_page import markdown

    run, _ = localized
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(formats=("onnx",), golden=4, app_paths=False))
    report = run_benchmark(bundle, threads=1, batch=2, runs=30, run=run)
    costs = {(t["format"], t["variant"]): t for t in report.two_pass}
    assert ("onnx", "fp32") in costs and ("keras", "reference") not in costs
    ms = costs[("onnx", "fp32")]["ms"]
    assert all(ms[k] > 0 for k in ("resize", "pass1", "roi", "pass2"))
    assert ms["total"] == pytest.approx(ms["resize"] + ms["pass1"] + ms["roi"] + ms["pass2"], abs=0.2)
    assert "Two passes on a 12 MP photo" in markdown(report)


def test_tflite_carries_the_box_as_output_1_and_mediapipe_still_reads_the_classes_first(localized, tmp_path):
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.export.formats.tflite.metadata import read_metadata
    from carspotter.model.localizer import load_two_output
    from carspotter.export.formats.tflite.runtime import LITERT, MEDIAPIPE
    from carspotter.model.format_spec import VariantSpec
    from carspotter.parity.run import run_parity

    run, _ = localized
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(formats=("tflite",), golden=4, app_paths=False))
    path = next((bundle / "android").rglob("carspotter.tflite"))
    meta, labels = read_metadata(path.read_bytes())
    outputs = meta["subgraph_metadata"][0]["output_tensor_metadata"]
    assert [o["name"] for o in outputs][1] == "box" and labels == (run / "labels.txt").read_text().split("\n")[:-1]
    size = json.loads((run / "run.json").read_text())["config"]["image_size"]
    x = np.random.default_rng(3).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    want_probs, want_box = load_two_output(run).predict(x.astype(np.float32), verbose=0)
    variant = VariantSpec("fp32", "fp32")
    with LITERT.load(path, labels, variant) as litert:
        assert np.abs(litert.infer(x) - want_probs).max() < 1e-4 and np.abs(litert.box(x) - want_box).max() < 1e-4
    with MEDIAPIPE.load(path, labels, variant) as mediapipe:  # head 0: the classes, labelled, in label order
        assert np.abs(mediapipe.infer(x) - want_probs).max() < 1e-4
    assert run_parity(bundle, app_paths=False, references=()) == 0
    checks = {c["check"]: c for c in json.loads((bundle / "parity.json").read_text())["structure_checks"]}
    assert checks["tflite/box"]["passed"] and checks["tflite/box"]["max_abs_diff"] < 1e-4


def test_coreml_carries_the_box_beside_the_classifier_outputs(localized, tmp_path):
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.export.formats.coreml.inspect import coreml_structure
    from carspotter.model.localizer import load_two_output
    from carspotter.export.formats.coreml.runtime import MILSession
    from carspotter.parity.run import run_parity

    run, _ = localized
    options = ExportOptions(formats=("coreml",), format_options={"coreml_precision": "fp32"}, golden=4, app_paths=False)
    bundle = export_bundle(run, tmp_path / "bundle", options)
    path = next((bundle / "ios").rglob("*.mlpackage"))
    s = coreml_structure(path)
    assert set(s["outputs"]) == {"classLabel", "classLabel_probs", "box"} and s["predicted_feature"] == "classLabel"
    assert s["labels"] == (run / "labels.txt").read_text().split("\n")[:-1]
    size = json.loads((run / "run.json").read_text())["config"]["image_size"]
    x = np.random.default_rng(4).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    want_probs, want_box = load_two_output(run).predict(x.astype(np.float32), verbose=0)
    with MILSession(path, "fp32", s["labels"]) as mil:
        assert np.abs(mil.infer(x) - want_probs).max() < 1e-4 and np.abs(mil.box(x) - want_box).max() < 1e-4
    assert run_parity(bundle, app_paths=False, references=()) == 0
    checks = {c["check"]: c for c in json.loads((bundle / "parity.json").read_text())["structure_checks"]}
    assert checks["coreml/box"]["passed"] and checks["coreml/box"]["max_abs_diff"] < 1e-3


def test_coreai_carries_the_box_as_a_second_output(localized, tmp_path):
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.export.formats.coreai.runtime import CoreAISession, coreai_unavailable
    from carspotter.model.localizer import load_two_output
    from carspotter.parity.run import run_parity

    if coreai_unavailable():
        pytest.skip(coreai_unavailable())
    run, _ = localized
    bundle = export_bundle(run, tmp_path / "bundle", ExportOptions(formats=("coreai",), golden=4, app_paths=False))
    path = next((bundle / "ios").rglob("*.aimodel"))
    size = json.loads((run / "run.json").read_text())["config"]["image_size"]
    x = np.random.default_rng(5).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    want_probs, want_box = load_two_output(run).predict(x.astype(np.float32), verbose=0)
    with CoreAISession(path) as session:  # the fp16 default: float16 compute
        assert np.abs(session.infer(x) - want_probs).max() < 0.02 and np.abs(session.box(x) - want_box).max() < 0.01
    assert run_parity(bundle, app_paths=False, references=()) == 0
    checks = {c["check"]: c for c in json.loads((bundle / "parity.json").read_text())["structure_checks"]}
    assert checks["coreai/box"]["passed"] and checks["coreai/box"]["photos"] == 4
