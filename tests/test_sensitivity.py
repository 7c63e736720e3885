"""Per-layer sensitivity and the mixed-precision plan (carspotter.measure.sensitivity), and Core ML's palettized-mixed
variant built from it."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from carspotter.export.formats.coreml.mixed import kmeans_1d as _kmeans_1d
from carspotter.measure.sensitivity import (
    LayerSensitivity,
    WeightLayers,
    layer_sensitivity,
    plan,
    plan_bits,
    plan_cost,
)


def test_kmeans_gives_at_most_2_to_the_bits_values_and_less_error_with_more_bits():
    w = np.random.default_rng(0).standard_t(3, size=(3, 3, 64, 32)).astype(np.float32) * 0.05
    errors = []
    for bits in (4, 6):
        q = _kmeans_1d(w, 2**bits)
        assert q.shape == w.shape and len(np.unique(q)) <= 2**bits
        errors.append(float(np.linalg.norm(q - w) / np.linalg.norm(w)))
    assert errors[1] < errors[0] < 0.2


def _at_widths(rows):
    """``(name, weights, (drift at 4, 6, 8 bits), head)`` rows -> the plan's input: bits -> sensitivities."""
    return {b: [LayerSensitivity(n, p, d[i], head) for n, p, d, head in rows] for i, b in enumerate((4, 6, 8))}


def test_plan_is_the_cheapest_choice_of_widths_within_the_budget():
    rows = [
        ("tiny", 864, (0.9, 0.3, 0.05), False),
        ("stem", 5_000, (0.5, 0.12, 0.02), False),
        ("hot", 1_000_000, (0.3, 0.08, 0.01), False),
        ("warm", 2_000_000, (0.05, 0.012, 0.002), False),
        ("cold", 4_000_000, (0.001, 0.0003, 0.0001), False),
        ("big", 3_000_000, (0.02, 0.005, 0.001), False),
        ("head", 20_480, (0.0, 0.0, 0.0), True),
    ]
    sens = _at_widths(rows)
    bits = plan(sens)
    assert "tiny" not in bits  # under the converters' weight threshold: never compressed
    assert bits["head"] == 8  # after the pooled features: its drift there says nothing, so never lowered
    assert bits["stem"] == bits["hot"] == 8 and bits["cold"] == 4  # the sensitive up, paid for by the least sensitive
    assert plan_bits(sens[4], bits) <= 6.0
    # every assignment of the free layers within the budget (3^5 = 243): none has a smaller summed squared drift
    free = ["stem", "hot", "warm", "cold", "big"]
    params = {n: p for n, p, _, _ in rows}
    limit = 6.0 * sum(p for n, p in params.items() if n != "tiny")
    within = [
        {**dict(zip(free, c)), "head": 8}
        for c in itertools.product((4, 6, 8), repeat=5)
        if sum(params[n] * b for n, b in zip(free, c)) + params["head"] * 8 <= limit
    ]
    best = min(within, key=lambda b: plan_cost(sens, b))
    assert plan_cost(sens, bits) == pytest.approx(plan_cost(sens, best)), (bits, best)
    assert plan_cost(sens, bits) < plan_cost(sens, {n: 6 for n in bits}) / 10  # all at 6 costs over ten times more
    # a wider budget buys every layer 8 bits; the narrowest leaves all but the head at 4
    assert set(plan(sens, budget=8.0).values()) == {8}
    assert {n: b for n, b in plan(sens, budget=4.0).items() if n != "head"} == {n: 4 for n in free}
    with pytest.raises(ValueError, match="below the narrowest width"):
        plan(sens, budget=3.0)


def test_sensitivity_of_every_weight_layer_with_its_normalization_folded_and_weights_restored(pipeline):
    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run
    from carspotter.model.runtimes import load_reference

    run_dir, _ = pipeline
    run = read_run(run_dir)
    model = load_reference(run)
    weights = WeightLayers(model, cluster=_kmeans_1d)
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
    assert [s.head for s in sens4] == [False, False, False, True]  # the dense layer acts after the pooled features
    assert sum(s.drift for s in sens8) < sum(s.drift for s in sens4) and all(s.drift < 0.05 for s in sens8)


def _coreml_lowbit_bundle(run_dir, out):
    """Export the run's Core ML lowbit variants into ``out``, every one shipped (gates wide open); no golden set or app
    paths."""
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.measure.gates import Gates

    return export_bundle(
        run_dir,
        out,
        ExportOptions(
            formats=("coreml",),
            variants="lowbit",
            calibration_photos=32,
            app_paths=False,
            golden=0,
            gates=Gates(int8_max_top1_drop=1.0, int8_min_agreement=0.0),
        ),
    )


def test_coreml_mixed_variant_applies_its_plan_and_records_it(pipeline, tmp_path, monkeypatch):
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.export.formats.coreml import mixed as coreml_mixed
    from carspotter.export.formats.coreml.mil_program import mil_op_counts

    import coremltools as ct

    run_dir, _ = pipeline
    # the tiny model's two compressible layers (18,432 and 73,728 weights): the real plan is
    # made and checked against the budget, then one layer is put at 8 bits and the other at 4 whatever it chose, so
    # both paths of applying a plan run
    made, real_plan = [], coreml_mixed.plan

    def plan_then_both_paths(sens, budget):
        bits = real_plan(sens, budget)
        made.append(bits)
        assert plan_bits(sens[4], bits) <= budget and set(bits.values()) <= {4, 6, 8}
        assert set(bits) == {
            "inception_v3/conv2d_1",
            "inception_v3/mixed10",
        }  # the head's 1,280 weights: under the threshold
        return {"inception_v3/conv2d_1": 8, "inception_v3/mixed10": 4}

    monkeypatch.setattr(coreml_mixed, "plan", plan_then_both_paths)
    out = _coreml_lowbit_bundle(run_dir, tmp_path / "mixed")  # every lowbit file ships: its ops are read
    variants = verify_bundle(out).formats["coreml"].variants
    record = variants["palettized-mixed"]
    # it read the first 24 of the 32 representative photos, and its gate judged every photo of the run but those 24;
    # the uncalibrated 6-bit file judged all of them
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.sensitivity import SENSITIVITY_PHOTOS

    run = read_run(run_dir)
    every = sum(len(run.split_rows(s)) for s in ("train", "val", "test"))
    assert SENSITIVITY_PHOTOS == 24 and "on 24 representative photos" in record.plan["method"]
    assert record.gate_figures.photos == every - 24 and variants["palettized-6bit"].gate_figures.photos == every
    assert record.shipped and record.plan is not None
    p = record.plan
    # every planned layer found in the Core ML program by its folded weights; one at 8 bits, one at 4
    assert len(made) == 1
    assert p["unmatched"] == [] and p["layers_4bit"] == ["inception_v3/mixed10"] and p["layers_6bit"] == 0
    assert p["layers_8bit"] == ["inception_v3/conv2d_1"]
    assert p["bits_per_weight"] <= 6.0 and p["most_sensitive"]
    counts = mil_op_counts(ct.models.MLModel(str(out / record.path), skip_model_load=True).get_spec())
    assert counts["constexpr_lut_to_dense"] == 1 and counts["constexpr_affine_dequantize"] == 1
    assert (
        json.loads((out / "manifest.json").read_text())["formats"]["coreml"]["variants"]["palettized-mixed"]["plan"]
        == p
    )


def test_onnx_mixed_variant_keeps_the_planned_layers_in_float(pipeline, tmp_path, monkeypatch):
    import onnx

    from carspotter.contracts.manifest import verify_bundle
    from carspotter.export.formats.onnx import mixed as onnx_mixed
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.measure.gates import Gates

    run_dir, _ = pipeline
    # the tiny model's compressible layers: conv2d_1 (18,432 weights) and mixed10 (73,728); 16 bits per weight on
    # average pays for conv2d_1 in float (24 x 18,432 extra bits) but not mixed10 too
    monkeypatch.setattr(onnx_mixed, "FLOAT_BUDGET", 16.0)
    out = export_bundle(
        run_dir,
        tmp_path / "onnxmixed",
        ExportOptions(
            formats=("onnx",),
            variants="int8",
            calibration_photos=16,
            app_paths=False,
            golden=0,
            gates=Gates(int8_max_top1_drop=1.0, int8_min_agreement=0.0),
        ),
    )
    variants = verify_bundle(out).formats["onnx"].variants
    record, plain = variants["int8-qdq-mixed"], variants["int8-qdq"]
    p = record.plan
    assert record.shipped and p["unmatched"] == [] and p["layers_float"] == ["inception_v3/conv2d_1"]
    assert p["layers_int8"] == 1 and p["bits_per_weight"] <= 16.0 and len(p["nodes_to_exclude"]) == 1
    graph = onnx.load(out / record.path).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    excluded = convs[p["nodes_to_exclude"][0]]
    assert excluded.input[1] not in dequantized  # its weight stays a float32 initializer
    assert sum(n.input[1] in dequantized for n in convs.values()) == len(convs) - 1  # every other Conv reads int8
    assert record.bytes > plain.bytes  # the float layer costs 3 bytes per weight more


def test_work_the_mixed_plans_share_is_done_once_per_export():
    from carspotter.export.build import Build

    shared, calls = {}, []
    builds = [Build(None, [], None, None, None, conversions=shared) for _ in range(2)]  # two variants, one export
    results = [b.shared(("sensitivity", 8, 24), lambda: calls.append(1) or ["layers"]) for b in builds]
    assert results == [["layers"], ["layers"]] and len(calls) == 1
    assert Build(None, [], None, None, None).shared(("sensitivity", 8, 24), lambda: "new") == "new"  # another export
