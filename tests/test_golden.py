"""Bundles that check themselves anywhere: golden set, parity from the bundle alone, the JS self-test.

One real run on 10 classes of ../shared/data/stanford_cars (copied, so the photo folder can be
moved away), exported with every variant and a 32-photo golden set; the bundle is copied to a
fresh folder, the run and photo folders are renamed, and parity runs on the copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carspotter.cli import main
from conftest import GOLDEN_CLASSES as CLASSES, GOLDEN_SIZE as SIZE, REPO, SAMPLE, install_npm_package, tiny_run


def run_cli(capsys, *argv, cwd=None):
    old = Path.cwd()
    os.chdir(cwd or old)
    try:
        code = main([str(a) for a in argv])
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return code, out.out, out.err.strip().splitlines()


def _test_split_margins(moved) -> dict[str, float]:
    """Reference top-1 / top-2 margin of every photo of the moved run's test split, by its name in the split."""
    from carspotter.model import runtimes
    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run

    run = read_run(moved["run"])
    ps = split_photoset(run, "test", moved["data"])
    ordered = np.sort(runtimes.keras_probs(runtimes.load_reference(run), ps.pixels), axis=1)
    return {n: float(m) for n, m in zip(ps.names, ordered[:, -1] - ordered[:, -2])}


def test_golden_set_in_the_manifest_and_on_disk(moved):
    from carspotter.contracts.manifest import verify_bundle

    bundle = moved["bundle"]
    manifest = verify_bundle(bundle)
    g = manifest.golden
    assert g["count"] == 32 and g["expected"] == "golden/expected.json"
    assert g["selection"] == {"class coverage": 16, "smallest margin": 16} and g["classes"] == CLASSES
    assert 200_000 < g["bytes"] < 7_000_000, g["bytes"]  # a few MB at most (32 photos, 18 resize vectors)
    files = sorted(p.relative_to(bundle).as_posix() for p in (bundle / "golden").rglob("*") if p.is_file())
    # 32 photos x 2 + expected.json; the stored resize-vector photos (the gen- ones are generated), every vector's
    # output, vectors.txt and bad_rois.txt; the two-pass box vectors
    from carspotter.contracts.resize_vectors import VECTORS

    stored = sum(not v.name.startswith("gen-") for v in VECTORS)
    assert len(files) == 65 + stored + len(VECTORS) + 2 + 1 and all(
        f in manifest.files for f in files
    )  # verify covers all
    expected = json.loads((bundle / "golden" / "expected.json").read_text())
    assert expected["reference"]["backend"] == "tensorflow" and expected["reference"]["versions"]["keras"].startswith(
        "3."
    )
    photo = expected["photos"][0]
    assert (
        len(photo["probabilities"]) == CLASSES
        and len(photo["top5"]) == 5
        and photo["top5"][0]["label"] in manifest.labels
    )
    assert abs(sum(photo["probabilities"]) - 1) < 1e-4
    with Image.open(bundle / photo["input"]) as png:
        assert (png.format, png.mode, png.size) == ("PNG", "RGB", (SIZE, SIZE))
    # The golden photo is the original JPEG without its metadata: our decoder makes the exact input of it.
    from carspotter.model import photos

    np.testing.assert_array_equal(
        photos.load_photo(bundle / photo["photo"], SIZE), np.asarray(Image.open(bundle / photo["input"]))
    )
    coverage = [p for p in expected["photos"] if p["selected_for"] == "class coverage"]
    assert len({p["label"] for p in coverage}) == CLASSES  # spread over every class
    # What the selection does, not how the training went: the "smallest margin" photos are the test photos,
    # outside the class-coverage ones, whose reference top-1 / top-2 margin is smallest (recomputed here).
    margin_sources = [p["source"] for p in expected["photos"] if p["selected_for"] == "smallest margin"]
    test_margins = _test_split_margins(moved)
    others = {n: m for n, m in test_margins.items() if n not in {p["source"] for p in expected["photos"]}}
    assert len(margin_sources) == 16 and others, (len(margin_sources), len(others))
    assert max(test_margins[n] for n in margin_sources) <= min(others.values()) + 1e-6
    picked = [test_margins[n] for n in margin_sources]
    assert all(b >= a - 1e-6 for a, b in zip(picked, picked[1:])), picked  # smallest first
    for fmt, entry in manifest.formats.items():
        for name in entry.shipped():
            assert f"{fmt}/{name}" in expected["variants"]
    for platform, selftest in (
        ("ios", "Tests/CarSpotterTests/CarSpotterTests.swift"),
        ("android", "src/androidTest/kotlin/dev/carspotter/cars10/CarSpotterSelfTest.kt"),
        ("onnx", "selftest.mjs"),
    ):
        assert (bundle / platform / selftest).is_file()
        assert "Self-test" in (bundle / platform / "README.md").read_text()


def test_no_path_of_the_build_machine_in_the_bundle(moved):
    needles = [
        str(moved["root"]).encode(),
        str(moved["data"]).replace("-moved", "").encode(),
        b"/work/",
        str(REPO).encode(),
    ]
    for path in moved["bundle"].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found = [n for n in needles if n in data]
            assert not found, f"{path.relative_to(moved['bundle'])} holds {found}"


def test_parity_from_the_bundle_alone_passes_for_every_format_and_variant(moved, capsys):
    bundle = moved["bundle"]
    code, out, err = run_cli(capsys, "parity", bundle, cwd=moved["root"] / "elsewhere")
    assert code == 0, out[-3000:] + "\n".join(err[-20:])
    assert "checking against the golden set only" in "\n".join(err)
    report = json.loads((bundle / "parity.json").read_text())
    assert report["passed"] and set(report["photo_sets"]) == {"golden", "golden-jpeg"}
    assert report["photos"] == 32
    manifest = json.loads((bundle / "manifest.json").read_text())
    results = {(r["photo_set"], r["format"], r["target"]): r for r in report["results"]}
    for fmt in ("coreml", "tflite", "onnx"):
        assert any(k[0] == "golden" and k[1] == fmt for k in results), fmt
        assert any(k[0] == "golden-jpeg" and k[1] == fmt for k in results), fmt
    assert all(r["passed"] and r["photos"] == 32 for r in results.values())
    checked = {c["check"] for c in report["structure_checks"]}
    assert "golden/resize-vectors" in checked  # this machine's reference resize reproduces the bundle's vectors
    shipped = {
        f"golden:variant/{f}/{n}"
        for f, d in manifest["formats"].items()
        for n, v in d["variants"].items()
        if v["shipped"]
    }
    # Which fp16/int8 variants pass their gates depends on this small model's near-ties; every fp32 one ships.
    assert {f"golden:variant/{f}/fp32" for f in ("coreml", "tflite", "onnx")} <= shipped <= checked
    assert "golden:variant/onnx/ort" in checked  # the ORT-format file loads in ONNX Runtime and passes
    assert (
        "accelerators/onnx" in checked
    )  # the default ONNX file takes every node on the NNAPI and CoreML EPs, here too
    paths = {(a["photo_set"], a["path"]) for a in report["app_paths"]}
    assert {
        ("golden", p) for p in ("carspotter", "opencv-linear", "mediapipe", "pillow-no-antialias", "npm-node")
    } <= paths
    assert next(a for a in report["app_paths"] if a["path"] == "carspotter")["pixel_drift_max"] == 0
    assert manifest["parity"]["passed"] is True


def test_parity_with_the_run_given_adds_the_live_reference(moved, capsys):
    bundle = moved["bundle"]
    code, out, err = run_cli(
        capsys,
        "parity",
        bundle,
        "--run",
        moved["run"],
        "--data",
        moved["data"],
        "--no-app-paths",
        "--reference-backends",
        "none",
        "--limit",
        "16",  # every variant on InceptionV3: 16 of the 45 test photos say the live reference is added and agrees
    )
    assert code == 0, out[-3000:]
    report = json.loads((bundle / "parity.json").read_text())
    assert set(report["photo_sets"]) == {"golden", "golden-jpeg", "live"}
    assert report["photo_source"] == "test split of run cars10"
    live = [r for r in report["results"] if r["photo_set"] == "live"]
    assert {r["format"] for r in live} == {"coreml", "tflite", "onnx"} and all(r["passed"] for r in live)
    assert report["references"] == []  # --reference-backends none (the rows are tested in test_pipeline)


def test_calibration_of_a_real_run_is_fitted_recorded_and_in_every_readme(moved):
    """10 Stanford classes: about 45 validation photos, enough to fit T and to try a threshold."""
    from carspotter.measure import calibration as cal
    from carspotter.contracts.runfolder import Confidence

    doc = json.loads((moved["run"] / "run.json").read_text())
    c = doc["confidence"]
    t = c["temperature"]
    assert sum(doc["classes"]["counts"]["val"]) >= 30 and t["fitted"] is not None
    assert t["val_nll_after"] <= t["val_nll_before"]  # the fitted T minimises the validation NLL
    assert t["value"] == (t["fitted"] if t["adopted"] else 1.0)
    assert t["adopted"] == (t["cv_gain"] >= cal.MIN_NLL_GAIN)
    test = c["splits"]["test"]
    assert test["count"] == doc["metrics"]["test"]["count"] and 0 <= test["ece_after"] <= 1
    curve = c["risk_coverage"]["test"]
    assert curve["coverage"][-1] == 1.0
    assert curve["precision"][-1] == pytest.approx(doc["metrics"]["test"]["top1"])  # everything shown = top-1 accuracy
    if c["threshold"] is not None:
        val = c["selective"]["val"]
        assert val["precision"] >= c["target_precision"] and val["accepted"] >= cal.MIN_ACCEPTED
    manifest = json.loads((moved["bundle"] / "manifest.json").read_text())
    assert manifest["confidence"] == Confidence.from_json(c).to_json()
    for platform in ("ios", "android", "onnx"):
        text = (moved["bundle"] / platform / "README.md").read_text()
        assert "## When to show the answer" in text
        if c["threshold"] is not None:
            assert f"at least {c['threshold']:.3f}" in text and f"< {c['threshold']:.3f}" in text


def test_export_of_a_moved_run_names_the_photo_folder_and_the_flag(capsys, tmp_path):
    data = tmp_path / "photos"
    for name in sorted(p.name for p in SAMPLE.iterdir() if p.is_dir())[:3]:
        shutil.copytree(SAMPLE / name, data / name)
    run = tiny_run(tmp_path / "runs" / "cars3", data, max_classes=None, epochs_finetune=0)  # the subject: a moved run
    data.rename(tmp_path / "photos-moved")
    capsys.readouterr()  # training's own log lines are not the export's
    code, _, err = run_cli(capsys, "export", run, "--out", tmp_path / "b", "--formats", "onnx")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"carspotter export: error: {data}: the photo folder of run cars3 is not there")
    assert "--data DIR" in err[0] and not (tmp_path / "b").exists()
    code, _, err = run_cli(
        capsys,
        "export",
        run,
        "--out",
        tmp_path / "b",
        "--formats",
        "onnx",
        "--data",
        tmp_path / "photos-moved",
        "--golden",
        "4",
    )
    assert code == 0, err[-5:]
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["golden"]["count"] == 4


def selftest(bundle: Path, where: Path, installed: bool = True):
    """Run the bundle's npm package self-test in Node, the package installed as an app installs it (or not)."""
    if installed:
        pkg = install_npm_package(bundle, where)
    else:
        pkg = where / "pkg"
        shutil.copytree(bundle / "onnx", pkg, copy_function=os.link)
    done = subprocess.run(
        ["node", str(pkg / "selftest.mjs"), str(bundle), "--json"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((l for l in done.stdout.splitlines() if l.startswith("{")), None)
    return done.returncode, json.loads(line) if line else None, done.stdout + done.stderr


def test_js_self_test_passes_on_onnxruntime_node_every_check(moved, node_modules, tmp_path):
    code, result, text = selftest(moved["bundle"], tmp_path)
    assert code == 0, text[-2000:]
    exact, package = result["exact"], result["package"]
    from carspotter.contracts.resize_vectors import VECTORS

    assert result["resize"]["passed"] and len(result["resize"]["vectors"]) == len(VECTORS)  # orientations and ROIs too
    assert all(v["differing"] == 0 for v in result["resize"]["vectors"])
    assert (
        result["rois"]["passed"] and result["boxes"]["passed"] and result["boxes"]["rows"] > 0
    )  # bad ROIs, box vectors
    # the limits of the ONNX default's precision (fp32 or fp16, whichever the gates made the default)
    from carspotter.measure.parity_rule import tolerance

    precision = json.loads((moved["bundle"] / "manifest.json").read_text())["formats"]["onnx"]["precision"]
    tol = tolerance(precision)
    assert exact["passed"] and exact["photos"] == 32 and exact["maxAbsDiffLimit"] == tol.max_abs_diff
    assert exact["maxAbsDiff"] <= tol.max_abs_diff and exact["top1Agreement"] >= 1 - exact["nearTies"] / 32
    # sharp decodes with libjpeg-turbo as Pillow does and the package resizes as the reference: the same pixels
    assert package["passed"] and package["photos"] == 32 and package["maxPixelDrift"] == 0
    assert package["top1Agreement"] == exact["top1Agreement"]  # the same pixels, so the same answers as the exact path
    assert "onnxruntime-node 1.23.2" in result["runtime"]


def test_js_self_test_fails_when_the_answers_differ(moved, node_modules, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(moved["bundle"], copy, copy_function=os.link)
    expected = copy / "golden" / "expected.json"
    doc = json.loads(expected.read_text())
    for p in doc["photos"]:  # a model of another run: the reference's answers rotated by one class
        p["probabilities"] = p["probabilities"][1:] + p["probabilities"][:1]
    expected.unlink()
    expected.write_text(json.dumps(doc))
    (tmp_path / "app").mkdir()
    code, result, text = selftest(copy, tmp_path / "app")
    assert code == 1 and not result["exact"]["passed"] and result["exact"]["mismatches"], text[-1000:]
    assert not result["package"]["passed"] and result["resize"]["passed"] and "selftest: FAIL" in text
    (tmp_path / "bare").mkdir()
    code, _, text = selftest(copy, tmp_path / "bare", installed=False)  # no node_modules where it runs
    assert code == 2 and "onnxruntime-common" in text


# -- bad input: one line naming the file, exit 2 --------------------------------------------------------------

SMALL_CLASSES = 8
"""The ``small`` bundles' classes: every class of the embedded sample."""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """ONNX-only bundles of a tiny-backbone run of the embedded sample (the subject is the golden set's checks, not
    the backbone): one with an 8-photo golden set, one exported with --golden 0."""
    from carspotter.export.bundle import ExportOptions, export_bundle

    root = tmp_path_factory.mktemp("small")
    run = tiny_run(root / "runs" / "sample", max_classes=SMALL_CLASSES, image_size=SIZE)
    with_golden = export_bundle(run, root / "g8", ExportOptions(formats=("onnx",), golden=8, app_paths=False))
    without = export_bundle(run, root / "g0", ExportOptions(formats=("onnx",), golden=0, app_paths=False))
    return with_golden, without


def _copy(bundle: Path, dest: Path) -> Path:
    shutil.copytree(bundle, dest, copy_function=os.link)  # files are replaced, never written in place
    return dest


def _rewrite(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _rehash(bundle: Path) -> None:
    """Make the manifest list the files as they now are (what a careless copy script might do)."""
    from carspotter.contracts.manifest import file_table, read_manifest, write_manifest

    manifest = read_manifest(bundle)
    manifest.files = file_table(bundle)
    write_manifest(bundle, manifest)  # atomic: a new file, the hard-linked original stays


def _png(size, mode="RGB") -> bytes:
    import io

    buf = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 255)[: len(mode)]).save(buf, "PNG")
    return buf.getvalue()


def _expected(bundle, change):
    path = bundle / "golden" / "expected.json"
    doc = json.loads(path.read_text())
    change(doc)
    _rewrite(path, json.dumps(doc).encode())
    _rehash(bundle)


BAD = {
    "changed": (
        lambda b: _rewrite(b / "golden" / "003.png", (b / "golden" / "003.png").read_bytes()[:-8] + b"\0" * 8),
        "golden/003.png: changed after export",
    ),
    "missing": (lambda b: (b / "golden" / "004.jpg").unlink(), "golden/004.jpg: listed in manifest.json but missing"),
    "added": (
        lambda b: (b / "golden" / "extra.jpg").write_bytes(b"\xff\xd8"),
        "golden/extra.jpg: not listed in manifest.json",
    ),
    "truncated": (
        lambda b: (
            _rewrite(b / "golden" / "expected.json", (b / "golden" / "expected.json").read_bytes()[:500]),
            _rehash(b),
        ),
        "golden/expected.json: not valid JSON, truncated",
    ),
    "classes": (
        lambda b: _expected(b, lambda d: d["labels"].pop()),
        f"golden/expected.json: {SMALL_CLASSES - 1} classes, but the model has {SMALL_CLASSES}",
    ),
    "labels": (
        lambda b: _expected(b, lambda d: d["labels"].__setitem__(slice(0, 2), d["labels"][1::-1])),
        "golden/expected.json: labels differ from the model's (index 0",
    ),
    "png-size": (
        lambda b: (_rewrite(b / "golden" / "002.png", _png((SIZE + 1, SIZE))), _rehash(b)),
        f"golden/002.png: PNG {SIZE + 1}x{SIZE} RGB, expected a {SIZE}x{SIZE} RGB PNG",
    ),
    "png-mode": (
        lambda b: (_rewrite(b / "golden" / "002.png", _png((SIZE, SIZE), "RGBA")), _rehash(b)),
        f"golden/002.png: PNG {SIZE}x{SIZE} RGBA, expected",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_golden_set_is_one_line_exit_2(small, tmp_path, capsys, case):
    bundle = _copy(small[0], tmp_path / "b")
    change, message = BAD[case]
    change(bundle)
    code, _, err = run_cli(capsys, "parity", bundle, cwd=tmp_path)
    assert code == 2 and len(err) >= 1 and err[-1].startswith("carspotter parity: error: "), err
    assert message in err[-1], err[-1]
    assert not any("Traceback" in line for line in err)


def test_models_replaced_by_another_run_are_exit_2(small, tmp_path, capsys):
    import onnx
    from onnx import numpy_helper

    bundle = _copy(small[0], tmp_path / "b")
    model = onnx.load(bundle / "onnx" / "carspotter.onnx")  # another run's model: same graph, other weights
    bias = next(i for i in model.graph.initializer if list(i.dims) == [SMALL_CLASSES])
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 0.5, bias.name))
    _rewrite(bundle / "onnx" / "carspotter.onnx", model.SerializeToString())
    code, _, err = run_cli(capsys, "parity", bundle, cwd=tmp_path)
    assert code == 2 and "onnx/carspotter.onnx: changed after export" in err[-1]
    code, _, err = run_cli(capsys, "verify", bundle)
    assert code == 2 and "onnx/carspotter.onnx: changed after export" in err[-1]


def test_bundle_without_golden_set_and_without_run_has_nothing_to_compare(small, tmp_path, capsys):
    bundle = _copy(small[1], tmp_path / "b")
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["golden"] is None and not (bundle / "golden").exists() and not (bundle / "golden").exists()
    code, _, err = run_cli(capsys, "parity", bundle, cwd=tmp_path)
    assert (
        code == 2
        and "has no golden set (exported with --golden 0)" in err[-1]
        and "nothing to compare against" in err[-1]
    )
    assert "--run DIR" in err[-1]
