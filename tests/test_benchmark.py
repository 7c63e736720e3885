"""``carspotter benchmark``: every shipped variant and the reference in one table, with real timings."""

from __future__ import annotations

import json

import pytest

from carspotter.tools.cpu_peak import fp32_peak
from carspotter.cli import main

ZEN5 = (
    "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2596.120\n"
    "flags\t\t: fpu sse avx2 fma avx512f avx512_vp2intersect\n\nprocessor\t: 1\n"
)


def test_fp32_peak_is_derived_from_lanes_fma_pipes_cores_and_clock():
    zen5 = fp32_peak(2, ZEN5)
    assert zen5["flops_per_cycle"] == 64 and zen5["cores"] == 2
    assert zen5["gflops"] == pytest.approx(2 * 2596.12e6 * 64 / 1e9)  # 332.3 GFLOP/s
    assert "16 fp32 lanes x 2 (FMA) x 2 pipes" in zen5["derivation"]
    zen4 = fp32_peak(8, ZEN5.replace("family\t: 26", "family\t: 25"))
    assert zen4["flops_per_cycle"] == 32 and zen4["cores"] == 2  # 256-bit halves; only 2 processors listed
    boost = fp32_peak(2, ZEN5, clock_mhz=4100)
    assert boost["gflops"] == pytest.approx(2 * 4100e6 * 64 / 1e9) and "4100 MHz (--clock-mhz)" in boost["derivation"]
    avx2 = fp32_peak(1, ZEN5.replace(" avx512f", "").replace("AuthenticAMD", "GenuineIntel"))
    assert avx2["flops_per_cycle"] == 32 and avx2["cores"] == 1


def _multiply_adds(run_dir) -> int:
    """Multiply-adds of one photo through the run's model, from its convolution and dense layers' shapes."""
    import keras

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    total = 0
    for layer in (sub for top in model.layers for sub in (top.layers if hasattr(top, "layers") else [top])):
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += h * w * cout * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
    return int(total)


def test_benchmark_table_has_every_shipped_variant_and_the_reference(pipeline, tmp_path, capsys):
    run_dir, bundle = pipeline
    out = tmp_path / "bench"
    assert (
        main(["benchmark", str(bundle), "--run", str(run_dir), "--photos", "8", "--batch", "4", "--out", str(out)]) == 0
    )
    table = capsys.readouterr().out
    doc = json.loads((out / "benchmark.json").read_text())
    manifest = json.loads((bundle / "manifest.json").read_text())
    shipped = {(f, v) for f, e in manifest["formats"].items() for v, r in e["variants"].items() if r["shipped"]}
    rows = {(r["format"], r["variant"]): r for r in doc["rows"]}
    assert set(rows) == shipped | {("keras", "reference")}
    assert rows[("keras", "reference")]["agreement"] == 1.0 and doc["photos"] == 8 and doc["runs"] == 30
    for key, r in rows.items():
        assert r["top1"] is not None and 0 <= r["top1"] <= r["top3"] <= 1
        if key[0] == "coreml":
            assert r["p50_ms"] is None and "Core ML runs only on macOS" in r["note"]
            continue
        assert 0 < r["p50_ms"] <= r["p90_ms"] and r["throughput"] > 0 and r["load_ms"] > 0
        if key[1] in ("fp32", "reference"):  # FLOPs / p50 / the peak the GEMM probe measured
            assert r["peak_fraction"] == pytest.approx(
                doc["flops_per_photo"] / (r["p50_ms"] / 1000) / (doc["peak"]["measured_gflops"] * 1e9)
            )
        else:
            assert r["peak_fraction"] is None
        assert f"| {key[0]} | {key[1]} |" in table
    # the profiler's count against the closed form: 2 x multiply-adds of every convolution and dense layer (biases,
    # normalization and activations add a few percent)
    assert _multiply_adds(run_dir) * 2 <= doc["flops_per_photo"] <= _multiply_adds(run_dir) * 2 * 1.05
    assert doc["peak"]["measured_gflops"] > 0 and "2048 x 2048 fp32 matmul" in doc["peak"]["gemm"]
    assert "fp32 peak, measured:" in table
    assert (out / "benchmark.png").stat().st_size > 10_000 and (out / "benchmark.md").read_text() in table + "\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--runs", "10"], "--runs 10: must be at least 30"),
        (["--batch", "0"], "--batch 0: must be at least 1"),
        (["--photos", "2", "--batch", "4"], "--batch 4: more than the 2 photos"),
    ],
)
def test_benchmark_bad_options_are_one_line(pipeline, capsys, args, message):
    run_dir, bundle = pipeline
    assert main(["benchmark", str(bundle), "--run", str(run_dir), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
