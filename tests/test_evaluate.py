"""``carspotter evaluate``: figures with intervals, release gates, a baseline, bad inputs, and its page in Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from carspotter.cli import main
from carspotter.measure.intervals import wilson
from conftest import SAMPLE


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err.strip().splitlines()


@pytest.fixture(scope="module")
def data(pipeline, tmp_path_factory) -> Path:
    """The pipeline run's classes as a class-folder tree (every sample photo of them: train, val and test)."""
    run_dir, _ = pipeline
    root = tmp_path_factory.mktemp("evaldata") / "cars"
    for name in (Path(run_dir) / "labels.txt").read_text().splitlines():
        shutil.copytree(SAMPLE / name, root / name)
    return root


def test_evaluate_a_bundle_on_class_folders_with_every_column(pipeline, data, tmp_path, capsys):
    run_dir, bundle = pipeline
    out = tmp_path / "ev"
    code, stdout, err = run_cli(capsys, "evaluate", bundle, data, "--run", run_dir, "--out", out)
    assert code == 0, err[-5:]
    doc = json.loads((out / "evaluate.json").read_text())
    photos = sum(1 for _ in data.rglob("*.jpg"))
    assert doc["photos"] == photos and doc["passed"] and doc["requirements"] == []
    cols = doc["columns"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    shipped = [f"{f}/{n}" for f, e in manifest["formats"].items() for n, v in e["variants"].items() if v["shipped"]]
    # every shipped file but the ORT-format copy of the fp32 ONNX (the same model: parity checks it), said in a note
    assert doc["shipped"] == [k for k in shipped if k != "onnx/ort"] and set(doc["shipped"]) | {"keras"} <= set(cols)
    assert any(n.startswith("onnx/ort is the fp32 model in another file format") for n in doc["notes"])
    assert {"app/carspotter", "app/opencv-linear"} <= set(cols)
    labels = manifest["labels"]
    for key, c in cols.items():
        t1 = c["top1"]
        assert t1["n"] == photos and (t1["low"], t1["high"]) == pytest.approx(wilson(t1["k"], photos))
        assert t1["low"] <= t1["value"] <= t1["high"] and c["top3"]["value"] >= t1["value"]
        assert c["nll"] > 0 and 0 <= c["ece"] <= 1
        assert sum(v["support"] for v in c["per_class"].values()) == photos and set(c["per_class"]) <= set(labels)
        m = c["confusion"]
        assert sum(map(sum, m["matrix"])) + sum(m["other"]) <= photos
    # the reference's own pixels through the reference resize: the "carspotter" app path is the reference itself
    assert cols["app/carspotter"]["top1"]["k"] == cols["onnx/fp32"]["top1"]["k"]
    assert any("interval" in n or "too wide" in n for n in doc["notes"])  # a handful of photos: said so
    assert "| keras |" in stdout and "top-1 [95 % CI]" in stdout
    assert str(data.parent) not in (out / "evaluate.html").read_text()  # no path of this machine in the page


def test_evaluate_on_the_test_split_gates_and_baseline(pipeline, tmp_path, capsys):
    run_dir, bundle = pipeline
    common = ["evaluate", bundle, "--run", run_dir, "--formats", "onnx", "--no-app-paths", "--out", tmp_path / "a"]
    code, _, err = run_cli(capsys, *common, "--require", "top1>=0", "--require", "onnx/fp32:top3.high>=0.5")
    assert code == 0, err[-5:]
    doc = json.loads((tmp_path / "a" / "evaluate.json").read_text())
    # the ORT-format copy of the fp32 file is not evaluated twice (parity checks it)
    assert doc["data"].startswith("the test split of run") and list(doc["columns"]) == ["keras", "onnx/fp32"]
    assert [r["passed"] for r in doc["requirements"]] == [True, True]

    code, _, err = run_cli(capsys, *common, "--require", "top1.low>=0.999", "--require", "ece<=1")
    assert code == 1
    failed = [line for line in err if line.startswith("carspotter evaluate: condition failed:")]
    assert len(failed) == 1 and "onnx/fp32: top1.low>=0.999: top1.low is" in failed[0]

    # the same bundle as its own baseline: no difference, a McNemar p of 1, and gates on it both ways
    code, stdout, err = run_cli(capsys, *common, "--baseline", bundle, "--require", "delta_top1.low>=-0.5")
    assert code == 0, err[-5:]
    d = json.loads((tmp_path / "a" / "evaluate.json").read_text())["baseline"]["onnx"]["delta_top1"]
    assert d["difference"] == 0 and d["mcnemar_exact_p"] == 1.0 and d["low"] <= 0 <= d["high"]
    assert "baseline" in stdout and "McNemar exact p = 1" in stdout
    code, _, err = run_cli(capsys, *common, "--baseline", bundle, "--require", "delta_top1>=0.01")
    assert code == 1 and any("delta_top1>=0.01: delta_top1 is 0.0000, not >= 0.01" in line for line in err)


def test_a_bundle_without_its_run_has_no_reference_column_said_once(pipeline, data, tmp_path, capsys):
    _, bundle = pipeline
    alone = tmp_path / "x" / "y" / "alone"
    shutil.copytree(bundle, alone)
    code, _, err = run_cli(
        capsys, "evaluate", alone, data, "--formats", "tflite", "--no-app-paths", "--out", tmp_path / "o"
    )
    assert code == 0, err[-5:]
    doc = json.loads((tmp_path / "o" / "evaluate.json").read_text())
    assert "keras" not in doc["columns"] and set(doc["columns"]) == {k for k in doc["shipped"]}
    assert sum("reference column is absent" in n for n in doc["notes"]) == 1
    code, _, err = run_cli(
        capsys, "evaluate", alone, "--out", tmp_path / "o2"
    )  # no DATA and no run: nothing to evaluate on
    assert code == 2 and len(err) == 1 and "no DATA given and the bundle's run was not found" in err[0]


@pytest.mark.parametrize("case", ["unknown classes", "no photo", "empty require", "bad require", "unknown target"])
def test_bad_inputs_are_one_line(pipeline, data, tmp_path, capsys, case):
    run_dir, bundle = pipeline
    args = ["evaluate", bundle, data, "--run", run_dir, "--formats", "onnx", "--no-app-paths", "--out", tmp_path / "o"]
    if case == "unknown classes":
        args[2] = SAMPLE  # all 8 sample classes against a 4-class bundle
        want = "4 classes are not among the model's 4 labels"
    elif case == "no photo":
        empty = tmp_path / "empty"
        (empty / "Some Class").mkdir(parents=True)
        args[2], want = empty, "no photo"
    elif case == "empty require":
        args += ["--require", ""]
        want = "empty condition"
    elif case == "bad require":
        args += ["--require", "accuracy=high"]
        want = "not [TARGET:]METRIC"
    else:
        args += ["--require", "coreml/fp32:top1>=0.5"]
        want = "no column coreml/fp32"
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and len(err) >= 1 and err[-1].startswith("carspotter evaluate: error:") and want in err[-1], err
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "o").exists()


def test_evaluate_page_in_chromium_shows_the_json_numbers(pipeline, tmp_path, capsys):
    from test_html_pages import open_in_chromium

    from carspotter.tools.evaluate_page import interval

    run_dir, bundle = pipeline
    out = tmp_path / "ev"
    assert (
        run_cli(
            capsys,
            "evaluate",
            bundle,
            "--run",
            run_dir,
            "--formats",
            "onnx,tflite",
            "--no-app-paths",
            "--baseline",
            bundle,
            "--require",
            "top1>=0",
            "--out",
            out,
        )[0]
        == 0
    )
    seen = open_in_chromium(out / "evaluate.html")
    assert seen["loaded"] and seen["console"] == [] and seen["pageErrors"] == [] and seen["external"] == []
    doc = json.loads((out / "evaluate.json").read_text())
    assert seen["figures"] == doc
    shown = dict(seen["checks"])
    for key, c in doc["columns"].items():
        for name in ("top1", "top3", "precision", "coverage", "not_car_rate"):
            assert shown[f"{key}|{name}"] == interval(c[name])
        assert shown[f"{key}|nll"] == f"{c['nll']:.3f}" and shown[f"{key}|ece"] == f"{c['ece']:.3f}"
    first = next(iter(doc["columns"]))
    for name, v in doc["columns"][first]["per_class"].items():
        assert shown[f"pc|{first}|{name}|recall"] == ("-" if v["recall"] is None else f"{v['recall']:.2f}")
    assert shown["require|top1>=0"] == "holds" and shown["verdict"] == "every condition holds"
    d = doc["baseline"]["onnx"]["delta_top1"]
    assert shown["baseline|onnx|p"] == f"{d['mcnemar_exact_p']:.3g}"
    assert np.isclose(float(shown["baseline|onnx|delta"].split("%")[0]), 100 * d["difference"])


def _benchmark_table_shows_intervals():
    """The benchmark's Markdown table gives each rate with its 95 % interval, and says when it is too wide."""
    from carspotter.tools.benchmark import Report, Row, markdown

    row = Row(
        "onnx",
        "fp32",
        "ONNX Runtime, CPUExecutionProvider",
        "default",
        80.0,
        top1=28 / 45,
        top1_ci=list(wilson(28, 45)),
        agreement=1.0,
        agreement_ci=list(wilson(45, 45)),
    )
    table = markdown(
        Report("b", 45, "test", 2, 8, 30, None, {"gflops": 1.0, "derivation": "x", "mhz": 1.0}, "m", [row])
    )
    assert "62.2% [47.6%, 74.9%]" in table and "100.0% [92.1%, 100.0%]" in table and "too wide" in table


def _parity_page_shows_intervals():
    """The parity page gives the top-1 agreement with its 95 % interval."""
    from carspotter.measure.parity_rule import compare_top3
    from carspotter.parity.page import render

    ref = np.array([[0.6, 0.3, 0.1]] * 45)
    result = compare_top3(
        ref,
        ref,
        labels=["a", "b", "c"],
        photos=[f"{i}.jpg" for i in range(45)],
        tau=1e-3,
        max_abs_diff_limit=0.05,
        format="onnx",
        target="cpu",
        precision="fp32",
    )
    doc = {
        "passed": True,
        "photos": 45,
        "photo_source": "test",
        "created": "now",
        "rule": "top-3",
        "results": [result.to_json()],
        "app_paths": [],
        "failed_checks": [],
        "skipped_checks": [],
    }
    assert "[92.1%, 100.0%]" in render(doc, "b", lambda s, name: None)


def test_intervals_in_the_report_run_json_manifest_benchmark_and_parity_page(pipeline):
    run_dir, bundle = pipeline
    report = json.loads((run_dir / "report.json").read_text())["splits"]["test"]
    n = report["count"]
    assert report["top1_ci"] == pytest.approx(list(wilson(round(report["top1"] * n), n)))
    assert "top-1 95 % interval (Wilson)" in (run_dir / "report.md").read_text()
    assert "top-1 95 % interval (Wilson)" in (run_dir / "report.html").read_text()
    metrics = json.loads((run_dir / "run.json").read_text())["metrics"]["test"]
    assert metrics["top1_ci"] == pytest.approx(report["top1_ci"]) and metrics["interval"] == "Wilson 95 %"
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["training"]["metrics"]["test"]["top1_ci"] == pytest.approx(report["top1_ci"])
    for entry in manifest["formats"].values():
        for v in entry["variants"].values():
            fig = v["figures"]
            lo, hi = fig["intervals"]["top1_agreement"]
            assert (lo, hi) == pytest.approx(wilson(round(fig["top1_agreement"] * fig["photos"]), fig["photos"]))

    _benchmark_table_shows_intervals()
    _parity_page_shows_intervals()
