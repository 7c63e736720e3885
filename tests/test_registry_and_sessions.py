"""One format is one package and one registration (one FormatSpec, its platform package inside); every model file is loaded once per command.

A dummy format (the Keras model saved as a ``.keras`` file, run by Keras) is registered at run
time and goes through export, the manifest (schema included), parity from the bundle alone and
the benchmark table. :data:`carspotter.model.runtimes.LOADS` counts the sessions parity,
predict and the benchmark open: one per model file and runtime.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from carspotter.model import runtimes
from carspotter.export.platform_package import PlatformPackage, PlatformTexts
from carspotter.model.formats import FORMATS, register
from carspotter.model.format_spec import Conversion, Execution, FormatSpec, Shipping, VariantSpec

DUMMY = "kerasfile"


def _save(build, path: Path) -> dict:
    """The trivial converter: the reference itself, saved as a Keras file."""
    build.model.save(path)
    return {"runtime": "Keras", "input": {"name": build.spec.name}, "classes": len(build.labels)}


def _readme(model_file: str, spec, n_classes: int) -> str:
    return f"# Keras file\n\n`{model_file}`: the reference, {n_classes} classes, input {spec.size} px.\n"


def _open(path: Path, labels, variant, threads: int) -> runtimes.Session:
    import keras

    return runtimes.KerasSession(keras.saving.load_model(path, safe_mode=True), check="kerasfile/keras", path=path)


KERAS_FILE = runtimes.Runtime("Keras (model file)", "kerasfile/keras", _open)


@pytest.fixture
def dummy_format():
    spec = FormatSpec(
        name=DUMMY,
        title="Keras file",
        platform="keras",
        filename="carspotter.keras",
        variants=(VariantSpec("fp32", "fp32"),),
        baseline="fp32",
        order=90,
        conversion=Conversion(
            convert=_save,
        ),
        execution=Execution(
            runtimes=(KERAS_FILE,),
        ),
        shipping=Shipping(
            package=PlatformPackage(
                DUMMY, readme=_readme, texts=PlatformTexts(resize_advice="Use carspotter.model.photos.resize.")
            ),
        ),
    )
    register(spec)
    try:
        yield spec
    finally:
        FORMATS.unregister(DUMMY)


def test_registration_is_checked(dummy_format):
    assert list(FORMATS)[-1] == DUMMY and FORMATS[DUMMY] is dummy_format
    with pytest.raises(ValueError, match="already registered"):
        register(dummy_format)
    with pytest.raises(ValueError, match="already registered"):  # a second format in the same platform folder
        register(dataclasses.replace(dummy_format, name="other"))
    with pytest.raises(ValueError, match="with a converter"):
        register(dataclasses.replace(dummy_format, name="noconv", platform="x", conversion=Conversion(None)))
    from carspotter.contracts.manifest import schema

    formats = schema()["properties"]["formats"]
    assert (
        DUMMY in formats["propertyNames"]["enum"]
        and "keras" in formats["additionalProperties"]["properties"]["platform"]["enum"]
    )


def test_a_registered_format_goes_through_export_manifest_parity_and_benchmark(pipeline, dummy_format, tmp_path):
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.parity.run import run_parity
    from carspotter.tools.benchmark import markdown, run_benchmark

    run_dir, _ = pipeline
    built = export_bundle(run_dir, tmp_path / "bundles" / "dummy", ExportOptions(formats=("onnx", DUMMY), golden=8))
    elsewhere = tmp_path / "elsewhere" / "a" / "dummy"  # the run cannot be found from here: the golden set only
    shutil.copytree(built, elsewhere)
    manifest = verify_bundle(elsewhere)  # validated against the schema, which lists the registered formats
    entry = manifest.formats[DUMMY]
    assert entry.platform == "keras" and entry.path == "keras/carspotter.keras" and (elsewhere / entry.path).is_file()
    assert (elsewhere / "keras" / "README.md").read_text().startswith("# Keras file")
    assert (elsewhere / "keras" / "labels.txt").read_text().splitlines() == manifest.labels
    expected = json.loads((elsewhere / "golden" / "expected.json").read_text())
    assert f"{DUMMY}/fp32" in expected["variants"] and expected["variants"][f"{DUMMY}/fp32"]["top1_agreement"] == 1.0

    assert run_parity(elsewhere) == 0
    report = json.loads((elsewhere / "parity.json").read_text())
    mine = [r for r in report["results"] if r["format"] == DUMMY]
    assert {r["photo_set"] for r in mine} == {"golden", "golden-jpeg"} and all(r["passed"] for r in mine)
    assert all(r["max_abs_diff"] < 1e-5 for r in mine if r["photo_set"] == "golden")  # the reference itself

    bench = run_benchmark(elsewhere, batch=2, runs=30)
    row = next(r for r in bench.rows if r.format == DUMMY)
    assert row.agreement is None and row.top1 is not None and row.p50_ms > 0 and row.throughput > 0
    assert f"| {DUMMY} | fp32 | Keras (TensorFlow), CPU:0 | default |" in markdown(bench)


def test_parity_loads_every_model_file_once(pipeline, tmp_path):
    """Golden set, its JPEGs and the run's test split, every runtime and every app path: one load per file and runtime."""
    from carspotter.parity.run import run_parity

    _, bundle = pipeline
    copy = tmp_path / "bundles" / bundle.name
    shutil.copytree(bundle, copy)
    (tmp_path / "runs").symlink_to(bundle.parent.parent / "runs")  # the run is found beside bundles/
    before = runtimes.LOADS.copy()
    assert run_parity(copy, write=False) == 0
    loads = runtimes.LOADS - before
    files = {Path(f).name for _, f in loads if f}
    assert loads and all(n == 1 for n in loads.values()), {k: n for k, n in loads.items() if n != 1}
    assert {"CarSpotterModel.mlpackage", "carspotter.tflite", "carspotter.onnx"} <= files
    assert (
        "tflite/mediapipe",
        str(copy / "android" / "src" / "main" / "assets" / "carspotter_small" / "carspotter.tflite"),
    ) in loads  # the MediaPipe checks and app path share it


def test_predict_and_benchmark_load_each_format_once(pipeline):
    from carspotter.tools.benchmark import run_benchmark
    from carspotter.tools.predict import open_source, predict

    run_dir, bundle = pipeline
    before = runtimes.LOADS.copy()
    source = open_source(bundle, run=run_dir)
    try:
        files = sorted((Path(__file__).resolve().parents[1] / "train" / "sample_photos").rglob("*.jpg"))[:6]
        for _ in range(2):  # two calls, one load
            results, skipped = predict(source, files, 3)
            assert len(results) == 6 and not skipped
    finally:
        source.close()
    loads = runtimes.LOADS - before
    assert all(n == 1 for n in loads.values()) and len(loads) == len(source.predictors), loads
    assert all(p.session.closed for p in source.predictors)
    with pytest.raises(RuntimeError, match="after close"):
        source.predictors[0].infer(np.zeros((1, 8, 8, 3), np.uint8))

    before = runtimes.LOADS.copy()
    report = run_benchmark(bundle, run=run_dir, batch=2, runs=30)
    loads = runtimes.LOADS - before
    # three timed loads per row (the load-time column is their median), none while measuring
    assert set(loads.values()) == {3} and len(loads) == len(report.rows), loads


def test_export_loads_each_file_once_for_its_measurement_golden_set_and_app_paths(pipeline, tmp_path):
    """Export measures every variant, then the golden set and the app paths run the same files: one load each, the
    default file's session following its rename."""
    from carspotter.export.bundle import ExportOptions, export_bundle

    run_dir, _ = pipeline
    before = runtimes.LOADS.copy()
    bundle = export_bundle(
        run_dir, tmp_path / "b", ExportOptions(formats=("tflite", "onnx"), variants="fp32,fp16", golden=4)
    )
    loads = {k: n for k, n in (runtimes.LOADS - before).items() if k[1]}  # model files (the Keras reference is no file)
    assert loads and all(n == 1 for n in loads.values()), {k: n for k, n in loads.items() if n != 1}
    manifest = json.loads((bundle / "manifest.json").read_text())
    # the golden set measured every shipped variant, and app paths ran through the fp32 file: without the pool each
    # of those would be a second load of a file measured before
    assert manifest["golden"]["count"] == 4 and sum("gate" in row for row in manifest["app_paths"]["paths"]) >= 2
    assert len({f for _, f in loads}) >= 4  # 2 formats x 2 variants, each measured
