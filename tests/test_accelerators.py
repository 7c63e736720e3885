"""Phone accelerators on the 10-class bundle with every variant: ONNX Runtime's mobile usability check,
LiteRT's GPU-delegate analyzer, the ORT-format file, and the default chosen by the numbers."""

from __future__ import annotations

import json

import numpy as np

from carspotter.contracts.manifest import verify_bundle
from carspotter.export.formats.onnx.accelerators import onnx_mobile_gate, onnx_mobile_usability


def test_shipped_onnx_takes_every_node_on_nnapi_and_coreml_and_the_server_file_none(moved):
    bundle = moved["bundle"]
    manifest = verify_bundle(bundle)
    onnx = manifest.formats["onnx"]
    # ONNX Runtime's own check, run again here on the shipped default file
    report = onnx_mobile_usability(bundle / onnx.path)
    assert report["nodes"] > 200 and report["all_nodes"], report["summary"]
    assert {ep: e["supported"] for ep, e in report["eps"].items()} == {ep: report["nodes"] for ep in report["eps"]}
    assert onnx.variants[onnx.default_variant].accelerators["all_nodes"]
    assert json.loads((bundle / "manifest.json").read_text())["formats"]["onnx"]["input"]["shape"][0] == 1
    # the dynamic-batch file for servers: no node on a phone EP, for its dynamic shape alone
    server = onnx.variants["dynamic-batch"]
    assert server.path == "onnx/carspotter.dynamic-batch.onnx" and not server.accelerators["all_nodes"]
    assert all(
        e["supported"] == 0 and e["dynamic_shape_nodes"] == server.accelerators["nodes"]
        for e in server.accelerators["eps"].values()
    )
    ok, text = onnx_mobile_gate(server.accelerators)
    assert not ok and f"{server.accelerators['nodes']} nodes refused for a dynamic shape" in text
    assert "dynamic-batch (servers" in onnx.default_reason  # named, not silently passed over
    # every .onnx variant's coverage is recorded; the README table shows it
    for name, r in onnx.variants.items():
        assert (r.accelerators is None) == (name == "ort"), name
    # the fp16 file keeps its softmax in float32, so the phone EPs take every node of it too
    fp16 = onnx.variants["fp16"].accelerators
    assert fp16["all_nodes"] and all(not e["unsupported_ops"] for e in fp16["eps"].values()), fp16["summary"]
    assert "NNAPI" in (bundle / "onnx" / "README.md").read_text()


def test_ort_file_with_its_operator_config_loads_and_answers_as_the_reference(moved):
    import onnxruntime as ort

    from carspotter.contracts.golden import read_golden

    bundle = moved["bundle"]
    manifest = verify_bundle(bundle)
    record = manifest.formats["onnx"].variants["ort"]
    assert record.shipped and record.path == "onnx/carspotter.ort" and record.gate_passed
    config = (bundle / "onnx" / "carspotter.required_operators.config").read_text()
    assert "ai.onnx;" in config and "Conv" in config and "/" not in config  # no path of the build machine
    session = ort.InferenceSession(str(bundle / record.path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 128, 128, 3]
    golden = read_golden(bundle, manifest.labels, manifest.spec.size)
    x = golden.exact_inputs()[:4].astype(np.float32)
    got = np.concatenate([session.run(None, {session.get_inputs()[0].name: x[i : i + 1]})[0] for i in range(4)])
    assert np.abs(got - golden.probabilities[:4]).max() < 1e-3
    package = json.loads((bundle / "onnx" / "package.json").read_text())
    assert {"carspotter.ort", "carspotter.required_operators.config"} <= set(package["files"])


def test_every_tflite_variant_has_its_gpu_delegate_verdict_and_full_int8_is_integer_throughout(moved):
    from ai_edge_litert.interpreter import Interpreter

    bundle = moved["bundle"]
    tfl = verify_bundle(bundle).formats["tflite"]
    from carspotter.export.formats.tflite.accelerators import analyzer_rejects_unsupported_ops

    probe = analyzer_rejects_unsupported_ops()  # TensorFlow 2.21's analyzer passes WHERE, which the GPU delegate lacks
    for name, r in tfl.variants.items():
        gpu = r.accelerators["gpu_delegate"]
        assert gpu["compatible"] is (not gpu["warnings"]) and gpu["incompatible_ops"] == len(gpu["warnings"]), name
        assert r.accelerators["analyzer_rejects_unsupported_ops"] is probe
        assert ("unverified" in r.accelerators["summary"]) == (gpu["compatible"] and not probe), r.accelerators[
            "summary"
        ]
    full = tfl.variants["int8-full"]
    if full.shipped:  # integer throughout (checked whatever the gate says in test_variants.py, with gates set to pass)
        it = Interpreter(model_path=str(bundle / full.path))
        assert it.get_input_details()[0]["dtype"] == np.uint8 and it.get_output_details()[0]["dtype"] == np.uint8
    else:  # left out: no file, and the verdict says which bound failed
        assert full.path is None and "FAILED" in full.gate and not list(bundle.rglob("carspotter.int8-full.tflite"))


def test_each_default_is_the_smallest_candidate_and_the_readme_says_why(moved):
    from carspotter.export.defaults import candidates
    from carspotter.model.formats import FORMATS

    bundle = moved["bundle"]
    manifest = verify_bundle(bundle)
    for fmt, entry in manifest.formats.items():
        ok = (
            candidates(FORMATS[fmt], entry.variants)[0]
            or candidates(FORMATS[fmt], entry.variants, require_rule=False)[0]
        )
        smallest = min(entry.variants[n].bytes for n in ok)
        assert entry.variants[entry.default_variant].bytes <= smallest * 1.01, fmt
        readme = (bundle / entry.readme).read_text()
        assert f"Default: **{entry.default_variant}**" in readme and entry.default_reason in readme
        assert "| variant | file | MiB | ms / photo |" in readme
