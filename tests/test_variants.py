"""Reduced-precision variants: gates on hand-made figures, and one real gated export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carspotter.util.errors import UsageError
from carspotter.model.formats import FORMATS, select
from carspotter.measure.gates import Gates, ParityFigures, VariantFigures, apply_gate
from conftest import android_assets_dir


def fig(top1=0.80, ref_top1=0.80, agreement=1.0, parity=True, near_ties=0, tau=1e-2, photos=100, paired=None):
    n = photos
    if paired is None:  # photos right for both / only the variant / only the reference / neither
        both = round(min(top1, ref_top1) * n)
        paired = [both, round(top1 * n) - both, round(ref_top1 * n) - both, n - round(max(top1, ref_top1) * n)]
    return VariantFigures(
        photos=n,
        top1=top1,
        top3=1.0,
        reference_top1=ref_top1,
        reference_top3=1.0,
        top1_agreement=agreement,
        max_abs_diff=1e-3,
        parity=ParityFigures(passed=parity, near_ties=near_ties, mismatches=0 if parity else 2, tau=tau),
        top1_near_ties=near_ties,
        paired=paired,
    )


def variant(fmt, name):
    return FORMATS[fmt].variant(name)


def gate(v, figures, gates):
    verdict = apply_gate(v, figures, gates)
    return verdict.passed, verdict.text


def selected(families):
    return {(fmt, v.name) for fmt, vs in select(families).items() for v in vs}


def test_fp16_gate_is_the_lower_bound_of_the_agreement():
    ok, text = gate(variant("tflite", "fp16"), fig(agreement=0.98, photos=200), Gates())
    assert not ok and text == "top-1 agreement 98.0% [95.0%, 99.2%] on 200 photos: lower bound 95.0% < 97.0%: FAILED"
    ok, text = gate(variant("tflite", "fp16"), fig(agreement=299 / 300, photos=300), Gates())
    assert ok and text == "top-1 agreement 99.7% [98.1%, 99.9%] on 300 photos: lower bound 98.1% >= 97.0%"
    # one photo cannot decide: 300 of 300 and 299 of 300 both pass; 45 of 45 cannot (its bound is 92.1 %)
    assert gate(variant("tflite", "fp16"), fig(agreement=1.0, photos=300), Gates())[0]
    ok, text = gate(variant("tflite", "fp16"), fig(agreement=1.0, photos=45), Gates())
    assert not ok and "FAILED" not in text
    assert text.endswith(
        "on 45 photos: too few photos to judge (even 45 of 45 agreeing gives a lower bound of 92.1% "
        "< 97.0%; it takes 125)"
    ), text
    ok, text = gate(variant("tflite", "fp16"), fig(agreement=0.99, photos=100), Gates())  # 100 of 100 would not pass
    assert not ok and "too few photos to judge (even 100 of 100 agreeing gives a lower bound of 96.3%" in text


def test_gates_count_a_near_tie_as_agreeing_as_parity_does():
    # 297 photos agree, 2 differ only by a near-tie (reference probabilities within tau), 1 truly differs
    f = fig(top1=0.80, ref_top1=0.80, agreement=0.99, near_ties=2, tau=0.03, photos=300)
    assert round(f.gated_agreement, 6) == pytest.approx(299 / 300)
    ok, text = gate(variant("onnx", "int8-qdq"), f, Gates())
    assert (
        ok
        and "top-1 agreement 99.7% [98.1%, 99.9%] on 300 photos (2 near-ties counted, tau 0.03): lower bound 98.1% >= 90.0%"
        in text
    )
    assert f.to_json()["intervals"]["gated_agreement"] == pytest.approx([0.98137, 0.99941], abs=1e-4)


def test_int8_gate_is_the_lower_bound_of_the_paired_accuracy_difference():
    # the same drop is a failure on 100 photos with 8 against 2 discordant photos, not with 1 against 0 on 300
    ok, text = gate(
        variant("onnx", "int8-qdq"), fig(top1=0.74, ref_top1=0.80, agreement=0.94, paired=[72, 2, 8, 18]), Gates()
    )
    assert (
        not ok
        and "difference -6.0 points [-12.4, +0.2] (Newcombe 95 %; 2 photos right only with the variant, "
        "8 only with the reference, McNemar p = 0.11), lower bound < -3.0: FAILED"
        in text
    )
    ok, text = gate(
        variant("onnx", "int8-qdq"),
        fig(top1=239 / 300, ref_top1=240 / 300, agreement=299 / 300, photos=300, paired=[239, 0, 1, 60]),
        Gates(),
    )
    assert ok and "difference -0.3 points [-1.3, +0.6]" in text and "lower bound >= -3.0" in text
    ok, text = gate(variant("onnx", "int8-qdq"), fig(agreement=0.95, photos=300), Gates())  # 285 of 300 agree
    assert ok and "lower bound 91.9% >= 90.0%" in text
    ok, text = gate(variant("onnx", "int8-qdq"), fig(agreement=0.90, photos=300), Gates())
    assert not ok and "lower bound 86.1% < 90.0%: FAILED" in text
    ok, _ = gate(
        variant("onnx", "int8-qdq"),
        fig(top1=0.74, ref_top1=0.80, agreement=0.94, paired=[72, 2, 8, 18]),
        Gates(int8_max_top1_drop=0.15, int8_min_agreement=0.85),
    )
    assert ok  # configurable
    ok, text = gate(variant("coreml", "palettized-4bit"), fig(agreement=0.90, photos=300), Gates())
    assert not ok and "< 90.0%: FAILED" in text  # lowbit variants take the int8 gate


def test_a_record_without_its_paired_table_keeps_the_point_rule_it_was_gated_by():
    old = fig(top1=0.76, ref_top1=0.80, agreement=1.0, photos=300, paired=[])
    ok, text = gate(variant("onnx", "int8-qdq"), old, Gates())
    assert not ok and text.startswith("top-1 drop 4.0 points (limit 3.0: FAILED)")
    assert VariantFigures.from_json(old.to_json()).paired == []


def test_fp32_gate_is_the_parity_rule():
    assert gate(variant("coreml", "fp32"), fig(parity=True), Gates())[0]
    ok, text = gate(variant("coreml", "fp32"), fig(parity=False), Gates())
    assert not ok and "top-3 parity fails (2 photos" in text


def test_select_families():
    # the baselines, and the ORT-format ONNX that is built whenever ONNX is
    assert selected(None) == {
        ("coreml", "fp16"),
        ("coreai", "fp16"),
        ("tflite", "fp32"),
        ("onnx", "fp32"),
        ("onnx", "ort"),
    }
    # ONNX keeps its baseline (its int8 file may fail the phone-EP gate); TFLite gets it when nothing else could be its default
    assert selected("int8") == {
        ("coreml", "int8-weights"),
        ("coreai", "int8-weights"),
        ("tflite", "int8-dynamic"),
        ("tflite", "int8-full"),
        ("onnx", "int8-qdq"),
        ("onnx", "int8-qdq-mixed"),
        ("onnx", "fp32"),
        ("onnx", "ort"),
    }
    assert selected("lowbit") == {
        ("coreml", "palettized-6bit"),
        ("coreml", "palettized-4bit"),
        ("coreml", "palettized-mixed"),
        ("coreml", "palettized-4bit-grouped"),
        ("coreml", "int4-blockwise"),
        ("coreai", "palettized-6bit"),
        ("tflite", "fp32"),
        ("onnx", "fp32"),
        ("onnx", "ort"),
    }
    assert len(selected("fp32,fp16,int8")) == 16
    assert len(selected("fp32,fp16,int8,lowbit")) == sum(len(f.variants) for f in FORMATS.values()) == 22
    assert {(f, v.name) for f, vs in select(None, ("coreml",), {"coreml": "fp32"}).items() for v in vs} == {
        ("coreml", "fp32")
    }
    with pytest.raises(UsageError, match="--variants fp8: choose from fp32,fp16,int8,lowbit"):
        select("fp8")


@pytest.fixture(scope="module")
def gated(pipeline, tmp_path_factory):
    """The pipeline's run exported as TFLite with every fp32, fp16 and int8 variant, gates set so the verdicts are
    known whatever the training gave (fp16 cannot pass: 101 %; int8 cannot fail): ``(run_dir, bundle, manifest)``."""
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.export.bundle import ExportOptions, export_bundle

    run_dir, _ = pipeline
    out = export_bundle(
        run_dir,
        tmp_path_factory.mktemp("gated") / "variants",
        ExportOptions(
            formats=("tflite",),
            variants="fp32,fp16,int8",
            calibration_photos=16,
            gates=Gates(fp16_min_agreement=1.01, int8_max_top1_drop=1.0, int8_min_agreement=0.0),
            app_paths=False,
        ),
    )
    return run_dir, out, verify_bundle(out)


def test_a_variant_failing_its_gate_is_left_out_with_its_drift_recorded(gated):
    _, out, manifest = gated
    records = manifest.formats["tflite"].variants
    assert set(records) == {"fp32", "fp16", "int8-dynamic", "int8-full"}
    fp16 = records["fp16"]
    assert not fp16.shipped and fp16.path is None and "< 101.0%; no number of photos reaches" in fp16.gate
    assert not (android_assets_dir(out) / "carspotter.fp16.tflite").exists()
    # measured before the file was deleted: every probe of the tiny backbone matched (the converter folds the
    # rescaling into the first convolution: that probe alone may have no tensor), fp16 within tolerance everywhere
    drift = fp16.drift
    assert drift is not None and drift["photos"] == 8 and drift["first_beyond"] is None
    assert set(drift["unmatched"]) <= {"rescale_to_0_1"}, drift["unmatched"]
    layers = [p["layer"] for p in drift["probes"]]
    assert layers[-1] == "probabilities" and "inception_v3/mixed10" in layers and "inception_v3/activation_1" in layers
    assert all(0 <= p["rel_error"] < 0.01 for p in drift["probes"] if p["tensor"]), drift["probes"]


def test_int8_variants_pass_and_weigh_a_quarter(gated):
    _, _, manifest = gated
    records = manifest.formats["tflite"].variants
    for name in ("int8-dynamic", "int8-full"):
        r = records[name]
        assert r.shipped and r.gate_passed and r.drift is None
        assert r.bytes < records["fp32"].bytes / 2.5  # int8 weights: about a quarter of fp32, plus the metadata
    assert "lower bound" in records["int8-full"].gate and "Newcombe" in records["int8-full"].gate


def test_the_benchmark_lists_the_left_out_variant_with_exports_figures(gated):
    from carspotter.tools.benchmark import left_out_rows

    _, _, manifest = gated
    fp16 = manifest.formats["tflite"].variants["fp16"]
    [row] = left_out_rows(manifest)
    assert (row.format, row.variant, row.shipped_as) == ("tflite", "fp16", "left out") and "< 101.0%" in row.note
    assert row.mib == pytest.approx(fp16.bytes / 2**20) and "ms/photo at export" in row.note


def test_the_default_is_the_smallest_candidate(gated):
    from carspotter.export.defaults import candidates
    from carspotter.model.formats import FORMATS

    _, out, manifest = gated
    tfl = manifest.formats["tflite"]
    records = tfl.variants
    ok, why = candidates(FORMATS["tflite"], records)
    assert "fp16" not in ok and all(records[n].figures.parity.passed for n in ok)
    assert all(records[n].shipped and not records[n].figures.parity.passed for n in why)
    pool = ok or candidates(FORMATS["tflite"], records, require_rule=False)[0]  # none passes the rule: the fallback
    default = tfl.default_variant
    assert records[default].bytes <= min(records[n].bytes for n in pool) * 1.01
    assert tfl.path == records[default].path == "android/src/main/assets/carspotter_variants/carspotter.tflite"
    assert tfl.default_reason.startswith(
        "smallest variant" if ok else "no variant that may be the default passes the top-3 rule"
    ), tfl.default_reason
    for name, r in records.items():
        if r.shipped and name != default:
            assert (android_assets_dir(out) / f"carspotter.{name}.tflite").exists()


def test_each_variant_records_its_gpu_delegate_verdict(gated):
    _, _, manifest = gated
    for name, r in manifest.formats["tflite"].variants.items():
        gpu = r.accelerators["gpu_delegate"]
        assert isinstance(gpu["compatible"], bool) and r.ms_per_photo > 0
        assert r.accelerators["summary"].startswith("GPU delegate: compatible") == gpu["compatible"]
        # the op count is the warnings listed; the analyzer's list stops at 20
        if len(gpu["warnings"]) < 20:
            assert gpu["incompatible_ops"] == len(gpu["warnings"]), name
        else:
            assert gpu["incompatible_ops"] >= 20, name


def test_gates_judge_every_photo_and_a_calibrated_variant_without_its_own(gated):
    from carspotter.contracts.photoset import gate_photoset, representative_rows, without_rows
    from carspotter.contracts.runfolder import read_run

    run_dir, _, manifest = gated
    records = manifest.formats["tflite"].variants
    assert records["int8-full"].figures.photos == manifest.variants.evaluation_photos
    run = read_run(run_dir)
    every = sum(len(run.split_rows(s)) for s in ("train", "val", "test"))
    assert manifest.variants.gate_photos == every == records["int8-dynamic"].gate_figures.photos
    assert records["fp16"].gate_figures.photos == every and records["int8-full"].gate_figures.photos == every - 16
    rep = {r.path for r in representative_rows(run, 16)}
    everything = gate_photoset(run, 1000)
    kept, keep = without_rows(everything, representative_rows(run, 16))
    assert len(rep) == 16 and rep <= set(everything.names)
    assert len(kept.names) == every - 16 == int(keep.sum()) and not rep & set(kept.names)
    assert np.array_equal(kept.pixels, everything.pixels[keep]) and np.array_equal(kept.truth, everything.truth[keep])
    assert without_rows(everything, [])[0] is everything  # nothing left out: the same set
    assert len(gate_photoset(run, 5).names) == 5  # --gate-photos caps it
    assert manifest.variants.calibration_photos == 16 and manifest.variants.gates_enforced


def test_the_full_int8_file_is_integer_from_pixels_to_probabilities(gated):
    from ai_edge_litert.interpreter import Interpreter

    _, out, manifest = gated
    interpreter = Interpreter(model_path=str(out / manifest.formats["tflite"].variants["int8-full"].path))
    inp, out_t = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"].__name__ == "uint8" and inp["quantization"] == (1.0, 0)  # raw pixels, exactly
    assert out_t["dtype"].__name__ == "uint8" and out_t["quantization"] == (1 / 256, 0)  # probabilities q / 256
    assert "## Variants in this folder" in (out / "android" / "README.md").read_text()


def test_parity_rechecks_every_shipped_variant(gated):
    run_dir, out, manifest = gated
    exe = Path(sys.executable).with_name("carspotter")
    result = subprocess.run(
        [str(exe), "parity", str(out), "--run", str(run_dir), "--no-app-paths", "--reference-backends", "none"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads((out / "parity.json").read_text())
    checked = {c["check"] for c in report["structure_checks"]}
    shipped = {f"variant/tflite/{n}" for n, r in manifest.formats["tflite"].variants.items() if r.shipped}
    assert shipped <= checked and "variant/tflite/fp16" not in checked  # against the manifest, live reference
    assert {f"golden:{v}" for v in shipped} <= checked  # and against the golden set
