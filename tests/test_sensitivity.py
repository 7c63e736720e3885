"""Per-layer sensitivity and the mixed-precision plan (carspotter.measure.sensitivity), and Core ML's palettized-mixed
variant built from it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from carspotter.measure.sensitivity import LayerSensitivity, WeightLayers, _kmeans_1d, layer_sensitivity, plan, plan_bits


def test_kmeans_gives_at_most_2_to_the_bits_values_and_less_error_with_more_bits():
    w = np.random.default_rng(0).standard_t(3, size=(3, 3, 64, 32)).astype(np.float32) * 0.05
    errors = []
    for bits in (4, 6):
        q = _kmeans_1d(w, 2 ** bits)
        assert q.shape == w.shape and len(np.unique(q)) <= 2 ** bits
        errors.append(float(np.linalg.norm(q - w) / np.linalg.norm(w)))
    assert errors[1] < errors[0] < 0.2


def test_plan_promotes_the_sensitive_pays_with_the_insensitive_and_never_grows_the_file():
    sens = [LayerSensitivity("tiny", 864, 0.9), LayerSensitivity("stem", 5_000, 0.5),
            LayerSensitivity("hot", 1_000_000, 0.3), LayerSensitivity("warm", 2_000_000, 0.05),
            LayerSensitivity("cold", 4_000_000, 0.001), LayerSensitivity("big", 3_000_000, 0.02)]
    bits = plan(sens, promote=0.1)
    assert "tiny" not in bits  # under the converters' weight threshold: never compressed
    assert bits["stem"] == 8  # under 0.1 % of the weights: 8 bits, paid for like the rest
    assert bits["hot"] == 8 and bits["cold"] == 4 and bits["warm"] == bits["big"] == 6  # sensitive up, least per weight down
    assert plan_bits(sens, bits) <= 6.0
    assert plan(sens, promote=0.0) == {"stem": 8, "hot": 6, "warm": 6, "cold": 4, "big": 6}


def test_sensitivity_of_every_weight_layer_with_its_normalization_folded_and_weights_restored(pipeline):
    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run
    from carspotter.model.runtimes import load_reference

    run_dir, _ = pipeline
    run = read_run(run_dir)
    model = load_reference(run)
    weights = WeightLayers(model)
    names = [n for n, _, _ in weights.layers]
    assert names == ["inception_v3/conv2d", "inception_v3/conv2d_1", "inception_v3/mixed10", "probabilities"]
    scales = {n: s for n, _, s in weights.layers}
    assert scales["inception_v3/conv2d_1"] is not None and scales["inception_v3/mixed10"] is None  # no BN after it
    pixels = split_photoset(run, "test", limit=6).pixels
    before = model.predict(pixels.astype(np.float32), verbose=0)
    sens4 = layer_sensitivity(weights, pixels, nbits=4)
    sens8 = layer_sensitivity(weights, pixels, nbits=8)
    np.testing.assert_array_equal(model.predict(pixels.astype(np.float32), verbose=0), before)  # restored
    assert [s.layer for s in sens4] == names and sens4[0].drift == 0.0  # 864 weights: under the converters' threshold
    assert sum(s.drift for s in sens8) < sum(s.drift for s in sens4) and all(s.drift < 0.05 for s in sens8)


def test_coreml_mixed_variant_applies_its_plan_and_records_it(pipeline, tmp_path, monkeypatch):
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.export import coreml_mixed
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.measure.gates import Gates
    from carspotter.model.mil_program import mil_op_counts

    import coremltools as ct

    run_dir, _ = pipeline
    # the tiny model's two compressible layers (18,432 and 73,728 weights): promoting half the weights puts the more
    # sensitive one at 8 bits and pays with the other at 4, so both paths of the plan run
    monkeypatch.setattr(coreml_mixed, "PROMOTE", 0.5)
    out = export_bundle(run_dir, tmp_path / "mixed", ExportOptions(
        formats=("coreml",), variants="lowbit", calibration_photos=16, app_paths=False, golden=0,
        gates=Gates(int8_max_top1_drop=1.0, int8_min_agreement=0.0)))  # every lowbit file ships: its ops are read
    record = verify_bundle(out).formats["coreml"].variants["palettized-mixed"]
    assert record.shipped and record.plan is not None
    p = record.plan
    # every planned layer found in the Core ML program by its folded weights; one at 8 bits, one at 4
    assert p["unmatched"] == [] and len(p["layers_8bit"]) == 1 and len(p["layers_4bit"]) == 1 and p["layers_6bit"] == 0
    assert p["bits_per_weight"] <= 6.0 and p["most_sensitive"]
    counts = mil_op_counts(ct.models.MLModel(str(out / record.path), skip_model_load=True).get_spec())
    assert counts["constexpr_lut_to_dense"] == 1 and counts["constexpr_affine_dequantize"] == 1
    assert json.loads((out / "manifest.json").read_text())["formats"]["coreml"]["variants"]["palettized-mixed"]["plan"] == p
