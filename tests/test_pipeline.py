"""A small real run: train on the embedded sample, export three formats, check parity.

Slowest part of the suite (about 3 minutes on 2 cores): one training run at 128 px on
4 classes, three real conversions, two parity runs (one on a deliberately broken model).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carspotter.measure import app_paths

from carspotter.contracts.manifest import read_manifest, verify_bundle, write_manifest
from carspotter.contracts.runfolder import read_labels, read_run
from conftest import PIPELINE_CLASSES, PIPELINE_SIZE, SAMPLE, android_assets_dir, reseal


def cli(*args):
    """Run the installed ``carspotter`` console script, as a user would."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    exe = Path(sys.executable).with_name("carspotter")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=900)


def cli_without_pytest(*args):
    """``carspotter ARGS`` in a process where ``import pytest`` fails: the product must not need it."""
    code = "import sys; sys.modules['pytest'] = None; from carspotter.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=900)


def test_run_folder_is_complete_and_valid(pipeline):
    run_dir, _ = pipeline
    run = read_run(run_dir).to_json()
    expected = sorted(p.name for p in SAMPLE.iterdir())[:PIPELINE_CLASSES]
    assert run["classes"]["names"] == expected == read_labels(run_dir / "labels.txt")
    assert run["input"]["shape"] == [None, PIPELINE_SIZE, PIPELINE_SIZE, 3]
    assert run["input"]["model_input_range"] == "0,1" and run["weights"]["used"] == "none"  # conftest.tiny_run
    resize = run["preprocessing"]["resize"]
    assert resize["library"] == "numpy + opencv" and resize["aspect"] == "stretch" and resize["version"] == 2
    assert (
        "MediaPipe" in resize["method"]
        and "box" in resize["method"]
        and "k = max(1, side // S)" in resize["reduction"]["method"]
    )
    assert run["training"]["matmul_precision"] == "float32" and run["training"]["device_names"]
    assert run["training"]["input_fed"].startswith("uint8 batches")
    counts = run["classes"]["counts"]
    assert [sum(x) for x in zip(*counts.values())] == [14] * PIPELINE_CLASSES  # every photo in exactly one split
    assert all(n >= 1 for s in ("val", "test") for n in counts[s])
    for split in ("val", "test"):
        m = run["metrics"][split]
        assert m["count"] == sum(counts[split]) and 0 <= m["top1"] <= m["top3"] <= 1
    assert set(run["timing_s"]) >= {"head", "finetune", "total"}
    assert run["versions"]["keras"].startswith("3.")


def test_reference_model_loads_safely_with_rescaling_inside(pipeline):
    import keras

    run_dir, _ = pipeline
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    rescale = [l for l in model.layers if isinstance(l, keras.layers.Rescaling)]
    scale, offset = 1 / 255, 0.0  # input range 0,1 (conftest.tiny_run)
    assert len(rescale) == 1 and rescale[0].scale == pytest.approx(scale) and rescale[0].offset == offset
    assert not any(type(l).__name__ == "Lambda" for l in model.layers)
    probs = model.predict(np.zeros((2, PIPELINE_SIZE, PIPELINE_SIZE, 3), np.float32), verbose=0)
    assert probs.shape == (2, PIPELINE_CLASSES) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_phases_freeze_then_unfreeze_top_50_without_batchnorm():
    import keras

    from carspotter.train import model as mdl

    base = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    model = mdl.build(3, 75, "0,1", base)
    mdl.freeze_base(model)
    assert not any(l.trainable_weights for l in base.layers)
    head = [w.path for w in model.trainable_weights]
    assert head == ["probabilities/kernel", "probabilities/bias"]
    count = mdl.unfreeze_top(model)
    top = base.layers[-50:]
    expected = [l for l in top if not isinstance(l, keras.layers.BatchNormalization)]
    assert count == len(expected) == 35  # InceptionV3's last 50 layers hold 15 BatchNormalization layers
    assert [l for l in base.layers if l.trainable] == expected
    assert not any(l.trainable for l in base.layers[:-50])


def test_bundle_layout_manifest_and_labels(pipeline):
    _, bundle = pipeline
    manifest = verify_bundle(bundle).to_json()
    assert set(manifest["formats"]) == {"coreml", "coreai", "tflite", "onnx"}  # the test extra brings Core AI
    for fmt, model in (
        ("coreml", "ios/Sources/CarSpotter/CarSpotterModel.mlpackage"),
        ("coreai", "ios/Sources/CarSpotter/CarSpotterModel.aimodel"),
        ("tflite", "android/src/main/assets/carspotter_small/carspotter.tflite"),
        ("onnx", "onnx/carspotter.onnx"),
    ):
        assert (bundle / model).exists() and manifest["formats"][fmt]["path"] == model
        assert read_labels(bundle / manifest["formats"][fmt]["labels"]) == manifest["labels"]
        assert "labels.txt" in (bundle / manifest["formats"][fmt]["readme"]).read_text()
    assert manifest["formats"]["coreml"]["precision"] == "fp16"
    # the bundle's reference resize (its golden set and packages), and the one the run was trained with
    assert (
        manifest["preprocessing"]["resize"]["version"] == 2
        and manifest["preprocessing"]["trained_with_resize_version"] == 2
    )
    assert (
        manifest["files"]["android/src/main/assets/carspotter_small/carspotter.tflite"]["bytes"]
        == manifest["formats"]["tflite"]["bytes"]
    )
    assert any(
        k.startswith("ios/Sources/CarSpotter/CarSpotterModel.mlpackage/Data/com.apple.CoreML/weights/")
        for k in manifest["files"]
    )


def test_app_paths_are_measured_at_export_into_the_manifest_and_the_platform_readmes(pipeline):
    _, bundle = pipeline
    manifest = json.loads((bundle / "manifest.json").read_text())
    measured = {r["path"]: r for r in manifest["app_paths"]["paths"]}
    assert set(measured) == set(app_paths.PATHS)
    assert manifest["app_paths"]["gate"] == {"max_top1_drop": 0.01, "min_agreement": 0.98, "min_margin": 0.25}
    # our own path and MediaPipe's resize are the reference's pixels: the same answers, up to the model's float error
    for name in ("carspotter", "mediapipe"):
        r = measured[name]
        assert r["top1_agreement"] == 1 and r["top3_agreement"] == 1 and r["gate_passed"], r
        assert r["max_abs_diff"] < 1e-3 and r["photos"] == manifest["variants"]["evaluation_photos"]
    assert measured["carspotter"]["pixel_drift_max"] == 0
    # an antialiased filter is not the reference: its pixels drift
    assert measured["pillow-antialias"]["pixel_drift_mean"] > 0.5
    for platform in ("ios", "android", "onnx"):
        readme = (bundle / platform / "README.md").read_text()
        assert "## Resizing" in readme
        row = next(line for line in readme.splitlines() if line.startswith("| mediapipe |"))
        assert "| 100.0% |" in row and "passes" in row


def test_onnx_model_checks_and_carries_labels(pipeline):
    import onnx

    _, bundle = pipeline
    model = onnx.load(bundle / "onnx" / "carspotter.onnx")
    onnx.checker.check_model(model, full_check=True)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["labels"]) == read_manifest(bundle).labels
    assert model.opset_import[0].version == 17
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    # a fixed batch of 1: ONNX Runtime's NNAPI and CoreML EPs take no node of a dynamic shape
    assert (model.graph.input[0].name, dims) == ("image", [1, PIPELINE_SIZE, PIPELINE_SIZE, 3])
    assert model.graph.output[0].name == "probabilities"
    # the ORT-format copy, built with every ONNX export, and its operator config
    assert (bundle / "onnx" / "carspotter.ort").is_file() and (
        bundle / "onnx" / "carspotter.required_operators.config"
    ).is_file()


def test_tflite_metadata_carries_labels_and_raw_pixel_normalization(pipeline):
    from carspotter.export.formats.tflite.metadata import read_metadata

    _, bundle = pipeline
    meta, labels = read_metadata((android_assets_dir(bundle) / "carspotter.tflite").read_bytes())
    assert labels == read_manifest(bundle).labels
    norm = meta["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]["options"]
    assert norm == {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    assert meta["min_parser_version"] == "1.0.0"


def _rows_are_every_runtime_and_the_references(report: dict, results: dict, bundle) -> None:
    """parity.json's rows: every runtime on the live and golden photos, every decoder on the golden JPEGs, and the
    Keras reference on JAX's CPU, its GPU rows skipped where no GPU is visible."""
    runtimes = {
        ("tflite", "cpu (LiteRT)"),
        ("tflite", "MediaPipe ImageClassifier"),
        ("onnx", "CPUExecutionProvider"),
        ("coreml", "MIL execution (fp32 mode)"),
        ("coreml", "MIL execution (fp16 mode)"),
        ("coreai", "Core AI runtime (CPU)"),
    }
    decoded = {
        ("tflite", "cpu (LiteRT), JPEG decoded"),
        ("onnx", "CPUExecutionProvider, JPEG decoded"),
        ("coreml", "MIL execution, JPEG decoded"),
        ("coreai", "Core AI runtime (CPU), JPEG decoded"),
    }
    references = {k: r for k, r in results.items() if k[1] == "keras"}  # the reference itself on Keras-JAX, CPU
    assert [k[2] for k in references] == [
        "jax on cpu ({}), matmul float32 (jax_default_matmul_precision=highest)".format(
            next(r for r in report["references"] if r["check"] == "reference/jax-cpu")["device_name"]
        )
    ]
    assert set(results) - set(references) == (
        {("live", *k) for k in runtimes} | {("golden", *k) for k in runtimes} | {("golden-jpeg", *k) for k in decoded}
    )
    jax_row = next(r for r in report["references"] if r["check"] == "reference/jax-cpu")
    assert (
        jax_row["status"] == "passed" and jax_row["backend"] == "jax" and jax_row["device"] == "cpu" and jax_row["jax"]
    )
    assert "matmul float32" in (bundle / "parity.html").read_text()  # device and precision named on the page
    gpu_rows = {s["check"]: s["reason"] for s in report["skipped_checks"] if s["check"].startswith("reference/")}
    assert set(gpu_rows) == {"reference/tensorflow-gpu", "reference/jax-gpu"} and all(
        "GPU" in r for r in gpu_rows.values()
    )


def test_parity_passes_and_is_recorded(pipeline):
    run_dir, bundle = pipeline
    result = cli_without_pytest("parity", str(bundle))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "parity: PASS" in result.stdout
    report = json.loads((bundle / "parity.json").read_text())
    n_test = sum(read_run(run_dir).classes.counts["test"])
    assert report["passed"] and report["photos"] == n_test  # the run is found beside the bundle: live reference
    assert (
        report["photo_sets"]["live"]["photos"] == n_test and report["photo_sets"]["golden"]["photos"] == n_test
    )  # 8 < 32
    results = {(r["photo_set"], r["format"], r["target"]): r for r in report["results"]}
    _rows_are_every_runtime_and_the_references(report, results, bundle)
    for (_, fmt, _), r in results.items():
        assert r["passed"] and r["photos"] == n_test
        if fmt in ("coreml", "coreai"):  # fp16 programs (both formats' defaults): fp16 tolerances
            assert (r["precision"], r["tau"]) == ("fp16", 1e-2) and r["max_abs_diff"] < 5e-2
        else:
            assert (r["precision"], r["tau"]) == ("fp32", 1e-4) and r["max_abs_diff"] < 1e-4
    skipped = {s["check"]: s["reason"] for s in report["skipped_checks"]}
    assert "macOS" in skipped["coreml/predict"] and "macOS" in skipped["coreml/predict-vs-mil-reference"]
    variants = {
        "variant/coreml/fp16",
        "variant/coreai/fp16",
        "variant/tflite/fp32",
        "variant/onnx/fp32",
        "variant/onnx/ort",
    }
    assert {c["check"] for c in report["structure_checks"]} == {
        "sha256",
        "coreml/structure",
        "golden/resize-vectors",
        "golden/box-vectors",
        "accelerators/onnx",
    } | variants | {f"golden:{v}" for v in variants}  # no onnx/box: this run has no localizer
    apps = {(a["photo_set"], a["path"]): a for a in report["app_paths"]}
    assert {("live", "carspotter"), ("golden", "carspotter"), ("live", "mediapipe"), ("live", "opencv-area")} <= set(
        apps
    )
    assert apps[("live", "carspotter")]["pixel_drift_max"] == 0 and apps[("live", "carspotter")]["top1_agreement"] == 1
    assert read_manifest(bundle).parity["passed"] is True
    verify_bundle(bundle)  # parity.json and the manifest update do not break verification


def test_parity_fails_on_a_broken_model_naming_photos(pipeline, tmp_path):
    import onnx
    from onnx import numpy_helper

    _, bundle = pipeline
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copytree(bundle / "onnx", broken / "onnx")
    shutil.copytree(bundle / "golden", broken / "golden")
    model = onnx.load(broken / "onnx" / "carspotter.onnx")
    n = len(read_manifest(bundle).labels)
    bias = next(i for i in model.graph.initializer if list(i.dims) == [n])  # the dense layer's bias
    values = numpy_helper.to_array(bias).copy()
    values[0] += 8.0  # class 0 now wins everywhere
    bias.CopyFrom(numpy_helper.from_array(values, bias.name))
    onnx.save(model, broken / "onnx" / "carspotter.onnx")
    manifest = read_manifest(bundle)
    manifest.formats = {"onnx": manifest.formats["onnx"]}
    manifest.files = reseal(broken)
    manifest.parity = None
    write_manifest(broken, manifest)

    run_dir, _ = pipeline
    for how in ([], ["--run", str(run_dir)]):  # the bundle alone (golden set), then with the live reference too
        result = cli("parity", str(broken), "--no-app-paths", "--reference-backends", "none", *how)
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        report = json.loads((broken / "parity.json").read_text())
        assert not report["passed"]
        for photo_set in ("golden", "live") if how else ("golden",):
            onnx_cpu = next(
                r for r in report["results"] if r["target"] == "CPUExecutionProvider" and r["photo_set"] == photo_set
            )
            assert not onnx_cpu["passed"]
            assert onnx_cpu["mismatches"] and onnx_cpu["mismatches"][0]["format_class"] == manifest.labels[0]
        assert "rank 1" in result.stdout


def test_tampered_bundle_fails_verify_naming_the_file(pipeline, tmp_path):
    _, bundle = pipeline
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("*.tflite", "*.onnx", "weight.bin"))
    result = cli("verify", str(copy))
    assert result.returncode == 2
    assert "listed in manifest.json but missing" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_failed_export_leaves_no_bundle_and_keeps_the_old_one(pipeline, tmp_path, monkeypatch):
    import dataclasses

    from carspotter.util.errors import ExportError
    from carspotter.export import bundle as bundle_mod
    from carspotter.model.formats import FORMATS

    run_dir, _ = pipeline

    def boom(*a, **k):
        raise RuntimeError("converter exploded")

    onnx = FORMATS["onnx"]  # the converter export calls
    monkeypatch.setitem(
        FORMATS, "onnx", dataclasses.replace(onnx, conversion=dataclasses.replace(onnx.conversion, convert=boom))
    )
    out = tmp_path / "bundles" / "x"
    with pytest.raises(ExportError, match="onnx fp32 conversion of .* failed: RuntimeError: converter exploded"):
        bundle_mod.export_bundle(run_dir, out, bundle_mod.ExportOptions(formats=("tflite", "onnx")))
    assert not out.exists()
    assert list((tmp_path / "bundles").iterdir()) == []
    out.mkdir()
    (out / "old.txt").write_text("previous bundle")
    with pytest.raises(ExportError):
        bundle_mod.export_bundle(run_dir, out, bundle_mod.ExportOptions(formats=("onnx",)))
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir()) == ["x"]


@pytest.mark.parametrize(
    "fmt, function, error",
    [
        ("coreml", "carspotter.export.formats.coreml.runtime.MILSession", "MILExecutionError"),
        ("onnx", "carspotter.export.formats.onnx.runtime.OrtSession", "ValueError"),
    ],
)
def test_error_while_measuring_a_variant_is_one_line_and_leaves_no_bundle(
    pipeline, tmp_path, monkeypatch, capsys, fmt, function, error
):
    """Measurement fails after a successful conversion: the same one-line error, exit 2, nothing half-written."""
    from carspotter.util import errors
    from carspotter.cli import main

    run_dir, _ = pipeline

    def boom(*a, **k):
        if error == "MILExecutionError":
            raise errors.MILExecutionError("MIL op 'gelu' (named 'op_1') is not supported by the reference executor")
        raise ValueError("cannot reshape array of size 12 into shape (5,)")

    monkeypatch.setattr(f"{function}._infer", boom)
    out = tmp_path / "bundles" / "m"
    code = main(["export", str(run_dir), "--out", str(out), "--formats", fmt])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"carspotter export: error: {fmt} ") and "measurement on the test photos" in err[-1]
    assert ("gelu" if error == "MILExecutionError" else "ValueError: cannot reshape") in err[-1]
    assert not any("Traceback" in line for line in err)
    assert not out.exists() and list((tmp_path / "bundles").iterdir()) == []


def _coreml_only_copy(bundle, dest):
    """A bundle holding only the Core ML folder and the golden set, with a fresh file table."""
    dest.mkdir()
    shutil.copytree(bundle / "ios", dest / "ios")
    shutil.copytree(bundle / "golden", dest / "golden")
    manifest = read_manifest(bundle)
    manifest.formats = {"coreml": manifest.formats["coreml"]}
    manifest.parity = None
    return manifest


def _spec_path(dest):
    return (
        dest
        / "ios"
        / "Sources"
        / "CarSpotter"
        / "CarSpotterModel.mlpackage"
        / "Data"
        / "com.apple.CoreML"
        / "model.mlmodel"
    )


def _load_spec(dest):
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString(_spec_path(dest).read_bytes())
    return spec, spec.mlProgram.functions["main"].block_specializations[
        next(iter(spec.mlProgram.functions["main"].block_specializations))
    ]


def _parity_of_broken(dest, manifest):
    manifest.files = reseal(dest)
    write_manifest(dest, manifest)
    result = cli("parity", str(dest), "--no-app-paths")  # the bundle alone: against its golden set
    report = json.loads((dest / "parity.json").read_text())
    mil = {r["target"]: r for r in report["results"] if r["format"] == "coreml" and r["photo_set"] == "golden"}
    return result, report, mil


def test_coreml_wrong_bias_fails_parity_naming_the_class(pipeline, tmp_path):
    """Raise the stored fp16 bias of one class by 1000: the MIL execution sees that class win everywhere, a rank-1
    mismatch naming it on each photo whose reference puts it beyond a near-tie."""
    _, bundle = pipeline
    expected = json.loads((bundle / "golden" / "expected.json").read_text())
    probs = np.array([p["probabilities"] for p in expected["photos"]])
    # the class furthest below the reference's top-1 (beyond the fp16 near-tie tolerance on most photos)
    target = int(np.argmax((probs.max(axis=1, keepdims=True) - probs).min(axis=0)))
    assert ((probs.max(axis=1) - probs[:, target]) > 1e-2).any(), "the pipeline model is not decisive enough"
    dest = tmp_path / "wrong_bias"
    manifest = _coreml_only_copy(bundle, dest)
    spec, block = _load_spec(dest)
    linear = next(op for op in block.operations if op.type == "linear")
    bias_name = linear.inputs["bias"].arguments[0].name
    const = next(op for op in block.operations if op.type == "const" and op.outputs[0].name == bias_name)
    value = const.attributes["val"]
    if value.WhichOneof("value") == "immediateValue":  # small tensors are stored inline in the spec
        tensor = value.immediateValue.tensor
        values = np.frombuffer(tensor.bytes.values, dtype=np.float16).copy()
        values[target] += np.float16(1000.0)
        tensor.bytes.values = values.tobytes()
        _spec_path(dest).write_bytes(spec.SerializeToString())
    else:  # weight.bin blob: 64-byte header (sentinel, dtype, size, data offset), then the data
        weights = (
            dest
            / "ios"
            / "Sources"
            / "CarSpotter"
            / "CarSpotterModel.mlpackage"
            / "Data"
            / "com.apple.CoreML"
            / "weights"
            / "weight.bin"
        )
        raw = bytearray(weights.read_bytes())
        offset = value.blobFileValue.offset
        sentinel, _dtype, size, data_offset = np.frombuffer(raw[offset : offset + 24], dtype="<u4,<u4,<u8,<u8")[0]
        assert sentinel == 0xDEADBEEF
        values = np.frombuffer(raw[data_offset : data_offset + size], dtype=np.float16).copy()
        values[target] += np.float16(1000.0)
        raw[data_offset : data_offset + size] = values.tobytes()
        weights.write_bytes(bytes(raw))

    result, report, mil = _parity_of_broken(dest, manifest)
    assert result.returncode == 1 and not report["passed"]
    for mode in ("fp32", "fp16"):
        r = mil[f"MIL execution ({mode} mode)"]
        assert not r["passed"] and r["mismatches"], r
        rank1 = [m for m in r["mismatches"] if m["rank"] == 1]
        assert rank1 and all(m["format_class"] == manifest.labels[target] for m in rank1)
    assert "rank 1" in result.stdout and repr(manifest.labels[target]) in result.stdout


def test_coreml_dropped_softmax_fails_parity_on_the_probability_bound(pipeline, tmp_path):
    """Drop the softmax op (classify then gets logits): same order, wrong values."""
    _, bundle = pipeline
    dest = tmp_path / "dropped_op"
    manifest = _coreml_only_copy(bundle, dest)
    spec, block = _load_spec(dest)
    softmax = next(op for op in block.operations if op.type == "softmax")
    old, new = softmax.outputs[0].name, softmax.inputs["x"].arguments[0].name
    block.operations.remove(softmax)
    for op in block.operations:
        for arg in op.inputs.values():
            for a in arg.arguments:
                if a.name == old:
                    a.name = new
    _spec_path(dest).write_bytes(spec.SerializeToString())

    result, report, mil = _parity_of_broken(dest, manifest)
    assert result.returncode == 1 and not report["passed"]
    r = mil["MIL execution (fp32 mode)"]
    assert not r["passed"] and r["max_abs_diff"] > r["max_abs_diff_limit"]
    assert "above the limit" in result.stdout + result.stderr
