"""Every format's top-3 against the Keras reference, on the same decoded photos.

CPU checks always run; GPU checks (Keras reference on the GPU, ONNX Runtime's CUDA
execution provider) run where a GPU exists and are skipped with the reason otherwise.
Core ML runs numerically only on macOS; elsewhere its structure is checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from carspotter.export.manifest import read_manifest, verify_bundle
from carspotter.parity_tests import runners
from carspotter.parity_tests.compare import compare_top3
from carspotter.parity_tests.tolerances import max_abs_diff_for, tau_for

# MIL op types the exporter is expected to emit for InceptionV3 (see issue: Core ML parity).
KNOWN_MIL_OPS = {"conv", "relu", "max_pool", "avg_pool", "concat", "reduce_mean", "linear", "softmax", "add", "mul",
                 "cast", "transpose", "classify", "const", "batch_norm", "sub", "reshape", "matmul",
                 "constexpr_affine_dequantize"}  # 8-bit compressed weights (int8-weights variant)


def _format(manifest, bundle_dir, name):
    if name not in manifest["formats"]:
        pytest.skip(f"{name} is not in this bundle")
    fmt = manifest["formats"][name]
    return fmt, Path(bundle_dir) / fmt["path"]


def _check(record, reference, probs, manifest, photoset, *, format, target, precision):
    result = compare_top3(reference, probs, labels=manifest["labels"], photos=photoset.names,
                          tau=tau_for(precision), max_abs_diff_limit=max_abs_diff_for(precision),
                          format=format, target=target, precision=precision)
    print(result)
    record(result)
    assert result, str(result)


def test_bundle_files_match_manifest(bundle_dir, record):
    manifest = verify_bundle(bundle_dir)
    record(check="sha256", facts={"files": len(manifest["files"]), "passed": True})


def test_tflite_cpu(bundle_dir, manifest, photoset, reference, record):
    fmt, path = _format(manifest, bundle_dir, "tflite")
    probs = runners.tflite_probs(path, photoset.pixels)
    _check(record, reference, probs, manifest, photoset, format="tflite", target="cpu (LiteRT)", precision=fmt["precision"])


def test_tflite_mediapipe_image_classifier(bundle_dir, manifest, photoset, reference, record):
    """MediaPipe Tasks loads the model with its metadata: labels by index, raw-pixel normalization."""
    fmt, path = _format(manifest, bundle_dir, "tflite")
    try:
        import mediapipe.tasks.python.vision  # noqa: F401
    except ImportError as exc:
        record(skip=("tflite/mediapipe", f"mediapipe cannot be imported here ({exc})"))
    names, probs = runners.mediapipe_classify(path, photoset.pixels, len(manifest["labels"]))
    assert names == manifest["labels"]
    _check(record, reference, probs, manifest, photoset, format="tflite", target="MediaPipe ImageClassifier", precision=fmt["precision"])


def test_onnx_cpu(bundle_dir, manifest, photoset, reference, record):
    fmt, path = _format(manifest, bundle_dir, "onnx")
    probs = runners.onnx_probs(path, photoset.pixels, "CPUExecutionProvider")
    _check(record, reference, probs, manifest, photoset, format="onnx", target="CPUExecutionProvider", precision=fmt["precision"])


def test_onnx_cuda(bundle_dir, manifest, photoset, reference, record):
    fmt, path = _format(manifest, bundle_dir, "onnx")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        record(skip=("onnx/CUDAExecutionProvider", f"no CUDA execution provider in this onnxruntime ({ort.get_available_providers()}); install the gpu extra on a machine with a GPU"))
    probs = runners.onnx_probs(path, photoset.pixels, "CUDAExecutionProvider")
    _check(record, reference, probs, manifest, photoset, format="onnx", target="CUDAExecutionProvider", precision="fp32-gpu")


def test_reference_gpu(manifest, reference_model, photoset, reference, record):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        record(skip=("keras/gpu", "TensorFlow sees no GPU here (tensorflow-cpu, or no device)"))
    probs = runners.keras_probs(reference_model, photoset.pixels, device="/GPU:0")
    _check(record, reference, probs, manifest, photoset, format="keras", target="GPU:0", precision="fp32-gpu")


def test_coreml_structure(bundle_dir, manifest, record):
    fmt, path = _format(manifest, bundle_dir, "coreml")
    s = runners.coreml_structure(path)
    size = manifest["input"]["shape"][1]
    assert s["model_type"] == "mlProgram"
    assert s["input"] == {"name": "image", "kind": "imageType", "width": size, "height": size, "color": "RGB"}
    assert set(s["outputs"]) == {"classLabel", "classLabel_probs"}
    assert (s["predicted_feature"], s["probabilities_output"]) == ("classLabel", "classLabel_probs")
    assert s["labels"] == manifest["labels"], "Core ML classifier labels differ from the manifest"
    unknown = set(s["ops"]) - KNOWN_MIL_OPS
    assert not unknown, f"Core ML program uses MIL ops outside the known set: {sorted(unknown)}"
    assert s["ops"] == fmt["ops"], "Core ML op counts differ from those recorded at export"
    record(check="coreml/structure", facts={"passed": True, "ops": s["ops"], "labels": len(s["labels"]),
                                            "spec_version": s["spec_version"]})


@pytest.fixture(scope="module")
def mil_program(bundle_dir, manifest):
    from carspotter.parity_tests.mil_reference import load_mlpackage

    _, path = _format(manifest, bundle_dir, "coreml")
    return load_mlpackage(path)


@pytest.fixture(scope="module")
def mil_probs(mil_program, photoset):
    """MIL reference execution of the Core ML program: ``{mode: [N, C] probabilities}``."""
    from carspotter.parity_tests.mil_reference import MODES, MILReference

    return {mode: MILReference(mil_program, mode).probabilities(photoset.pixels) for mode in MODES}


@pytest.mark.parametrize("mode", ["fp32", "fp16"])
def test_coreml_mil_reference_execution(bundle_dir, manifest, photoset, reference, record, mil_program, mil_probs, mode):
    """The shipped ML program, executed from its MIL ops and weights (not Core ML predict).

    fp32 mode computes every value in float32; fp16 mode rounds every fp16-typed value as
    the Core ML runtime does for an fp16 program. A program stored in fp16 has fp16
    weights in both modes, so both use the fp16 tolerance then.
    """
    fmt, _ = _format(manifest, bundle_dir, "coreml")
    assert mil_program.labels == manifest["labels"]
    precision = "fp16" if "fp16" in (mode, fmt["precision"]) else "fp32"
    _check(record, reference, mil_probs[mode], manifest, photoset, format="coreml",
           target=f"MIL reference execution ({mode} mode)", precision=precision)


def test_coreml_predict(bundle_dir, manifest, photoset, reference, record):
    fmt, path = _format(manifest, bundle_dir, "coreml")
    ok, why = runners.coreml_predict_available()
    if not ok:
        record(skip=("coreml/predict", why + "; MIL reference execution checked instead"))
    probs = runners.coreml_probs(path, photoset.pixels, manifest["labels"])
    _check(record, reference, probs, manifest, photoset, format="coreml", target="Core ML predict (macOS)", precision=fmt["precision"])


def test_coreml_predict_matches_mil_reference(bundle_dir, manifest, photoset, record, mil_probs):
    """On macOS: real Core ML against the MIL reference execution (fp16 mode), same rule."""
    fmt, path = _format(manifest, bundle_dir, "coreml")
    ok, why = runners.coreml_predict_available()
    if not ok:
        record(skip=("coreml/predict-vs-mil-reference", why))
    probs = runners.coreml_probs(path, photoset.pixels, manifest["labels"])
    _check(record, mil_probs["fp16"], probs, manifest, photoset, format="coreml",
           target="Core ML predict vs MIL reference execution", precision="fp16")


def pytest_generate_tests(metafunc):
    """One ``test_variant_figures_match_manifest`` per shipped variant listed in the manifest."""
    if "variant_key" not in metafunc.fixturenames:
        return
    keys = []
    try:
        manifest = read_manifest(metafunc.config.getoption("--bundle"))
        keys = [f"{f}/{v}" for f, d in manifest["formats"].items() for v, r in d["variants"].items() if r["shipped"]]
    except Exception:  # a bad bundle is reported by the manifest fixture
        pass
    metafunc.parametrize("variant_key", keys or ["(none)"])


def test_variant_figures_match_manifest(bundle_dir, manifest, photoset, reference, record, variant_key):
    """Re-measure each shipped variant on the run's test photos: the manifest's figures and gate must hold."""
    from carspotter.export.variants import VARIANTS, Gates, figures, gate, variant_probs

    if variant_key == "(none)":
        pytest.skip("the manifest lists no variants")
    if photoset.truth is None or len(photoset.names) != manifest["variants"]["evaluation_photos"]:
        record(skip=(f"variant/{variant_key}", "variant figures were measured on the run's whole test split; "
                                               "--images or --limit changes the photos"))
    fmt, name = variant_key.split("/", 1)
    entry = manifest["formats"][fmt]["variants"][name]
    variant = next(v for v in VARIANTS if (v.format, v.name) == (fmt, name))
    probs = variant_probs(fmt, name, Path(bundle_dir) / entry["path"], photoset.pixels, manifest["labels"])
    fig = figures(reference, probs, photoset.truth, manifest["labels"], photoset.names, fmt, variant)
    want = entry["figures"]
    for key in ("photos", "top1", "top3", "reference_top1", "top1_agreement"):
        assert fig[key] == pytest.approx(want[key], abs=1e-9), f"{variant_key}: {key} {fig[key]} != manifest {want[key]}"
    assert fig["parity"] == want["parity"], f"{variant_key}: parity {fig['parity']} != manifest {want['parity']}"
    assert fig["max_abs_diff"] == pytest.approx(want["max_abs_diff"], rel=1e-3, abs=1e-7)
    ok, verdict = gate(variant, fig, Gates(**manifest["variants"]["gates"]))
    if entry["gate_enforced"]:
        assert ok, f"{variant_key}: shipped but now fails its gate: {verdict}"
    record(check=f"variant/{variant_key}", facts={"passed": True, "gate": verdict, "top1_agreement": fig["top1_agreement"],
                                                    "top1": fig["top1"], "bytes": entry["bytes"]})
