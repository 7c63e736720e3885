"""Core AI: the average-pool rewrite (exact, and still needed), conversion run by Core AI's own runtime, the format in a
bundle beside Core ML in the Swift package, and what export does when the extra is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carspotter.export.formats.coreai.runtime import coreai_unavailable

pytestmark = pytest.mark.skipif(coreai_unavailable() is not None, reason=str(coreai_unavailable()))


def _pool_model(path: Path, size: int = 12) -> np.ndarray:
    """A Keras model whose subject is ``AveragePooling2D(3, 1, "same")``: saved to ``path``; returns its
    probabilities on 3 seeded photos (pixels saved beside it)."""
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(
        4, 3, padding="same", activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=1)
    )(x)
    x = keras.layers.AveragePooling2D(3, 1, "same")(x)
    x = keras.layers.Flatten()(x)  # every position, the borders included, reaches the output
    outputs = keras.layers.Dense(
        5, activation="softmax", name="probabilities", kernel_initializer=keras.initializers.GlorotUniform(seed=2)
    )(x)
    model = keras.Model(inputs, outputs)
    model.save(path)
    pixels = np.random.default_rng(0).integers(0, 256, (3, size, size, 3)).astype(np.float32)
    np.save(path.with_suffix(".npy"), pixels)
    return model.predict(pixels, verbose=0)


def _convert(model: Path, out: Path, *extra: str) -> dict:
    facts = out.with_suffix(".json")
    done = subprocess.run(
        [sys.executable, "-m", "carspotter.export.formats.coreai.convert", str(model), str(out), str(facts), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": "torch"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(facts.read_text())


def _core_ai(path: Path, pixels: np.ndarray) -> np.ndarray:
    from carspotter.export.formats.coreai.runtime import CoreAISession

    with CoreAISession(path) as session:
        return session.infer(pixels)


@pytest.fixture(scope="module")
def pool_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "pool.keras"
    return path, _pool_model(path)


def test_rewritten_average_pool_runs_in_core_ai_as_keras_computes_it(pool_model, tmp_path):
    model, reference = pool_model
    facts = _convert(model, tmp_path / "exact.aimodel")
    assert facts["avg_pool_rewritten"] == 1 and facts["ops"]["avg_pool2d"] == 2  # the padded average and the fraction
    got = _core_ai(tmp_path / "exact.aimodel", np.load(model.with_suffix(".npy")))
    assert np.abs(got - reference).max() < 1e-5, np.abs(got - reference).max()


def test_the_converter_still_needs_the_rewrite(pool_model, tmp_path):
    """Fails when coreai-torch / coreai-core compute ``avg_pool2d(count_include_pad=False)`` right: then
    export/formats/coreai/rewrite.py can go (and this test with it)."""
    model, reference = pool_model
    facts = _convert(model, tmp_path / "as-is.aimodel", "--keep-avg-pool")
    assert facts["avg_pool_rewritten"] == 0
    got = _core_ai(tmp_path / "as-is.aimodel", np.load(model.with_suffix(".npy")))
    assert np.abs(got - reference).max() > 1e-3, "Core AI now averages padded pools right: drop the rewrite"


def test_rewrite_is_exact_in_torch_and_leaves_unpadded_pools_alone():
    import torch

    from carspotter.export.formats.coreai.rewrite import exact_average_pool

    class Pools(torch.nn.Module):
        def forward(self, x):
            padded = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
            return padded, torch.nn.functional.avg_pool2d(x, 2)  # no padding: nothing to exclude

    x = torch.rand(2, 3, 7, 9) * 255
    module = torch.export.export(Pools(), (x,)).module()
    want = module(x)
    assert exact_average_pool(module) == 1
    got = module(x)
    assert torch.allclose(got[0], want[0], atol=1e-4) and torch.equal(got[1], want[1])
    corner = x[0, 0, :2, :2].mean()  # 4 of the 9 window pixels lie inside at a corner
    assert abs(float(got[0][0, 0, 0, 0]) - float(corner)) < 1e-4
    assert exact_average_pool(module) == 0  # nothing left to rewrite


def test_core_ai_session_refuses_a_model_of_other_labels(pipeline):
    from carspotter.export.formats.coreai.runtime import COREAI_RUNTIME
    from carspotter.model.formats import FORMATS
    from carspotter.util.errors import ComparisonError

    _, bundle = pipeline
    path = bundle / FORMATS["coreai"].bundle_path(FORMATS["coreai"].filename)
    with pytest.raises(ComparisonError, match="labels differ"):
        COREAI_RUNTIME.load(path, ["not", "these"], FORMATS["coreai"].variant("fp16"))


def test_bundle_has_core_ai_in_the_swift_package_and_parity_runs_it(pipeline):
    from carspotter.contracts.manifest import verify_bundle

    _, bundle = pipeline
    manifest = verify_bundle(bundle)
    entry = manifest.formats["coreai"]
    assert entry.path == "ios/Sources/CarSpotter/CarSpotterModel.aimodel" and entry.platform == "ios"
    assert entry.facts["avg_pool_rewritten"] == 0  # the tiny backbone's only pool has no padding
    assert (bundle / entry.path / "metadata.json").is_file()
    from conftest import REPO

    program = (bundle / entry.path / "main.mlirb").read_bytes()  # release mode: no path of the machine that built it
    assert str(REPO).encode() not in program and b"site-packages" not in program
    package = (bundle / "ios" / "Package.swift").read_text()
    assert '.copy("CarSpotterModel.aimodel")' in package and '.copy("CarSpotterModel.mlpackage")' in package
    facts = json.loads((bundle / "ios" / "Sources" / "CarSpotter" / "carspotter.json").read_text())
    assert facts["coreAIModel"] == "CarSpotterModel.aimodel" and facts["model"] == "CarSpotterModel.mlpackage"
    readme = (bundle / "ios" / "README.md").read_text()
    assert readme.count("## Variants in this folder") == 1 and "## Core AI variants in this folder" in readme


def test_parity_from_the_bundle_alone_checks_core_ai_in_its_runtime(pipeline, tmp_path):
    import shutil

    from carspotter.parity.run import run_parity

    _, bundle = pipeline
    copy = tmp_path / "alone"  # no run beside it: the golden set is the reference
    shutil.copytree(bundle, copy)
    assert run_parity(copy, app_paths=False, references=()) == 0
    report = json.loads((copy / "parity.json").read_text())
    rows = [r for r in report["results"] if r["format"] == "coreai"]
    assert {r["target"] for r in rows} == {"Core AI runtime (CPU)", "Core AI runtime (CPU), JPEG decoded"}
    assert all(r["passed"] and r["photos"] == 8 and r["precision"] == "fp16" for r in rows), rows
    assert max(r["max_abs_diff"] for r in rows) < 1e-2  # fp16 weights and compute, fp16 tolerance row
    assert not [s for s in report["skipped_checks"] if "coreai" in s["check"]]


def test_a_missing_extra_leaves_core_ai_out_and_naming_it_is_refused(pipeline, tmp_path, monkeypatch, capsys):
    import dataclasses

    from carspotter.export.bundle import ExportOptions
    from carspotter.model.formats import FORMATS
    from carspotter.util.errors import UsageError

    why = 'coreai-core is not installed (test): pip install "carspotter[coreai]"'
    coreai = FORMATS["coreai"]
    conversion = dataclasses.replace(coreai.conversion, unavailable=lambda: why)
    monkeypatch.setitem(FORMATS, "coreai", dataclasses.replace(coreai, conversion=conversion))
    plan = ExportOptions().plan()
    assert "coreai" not in plan and {"coreml", "tflite", "onnx"} <= set(plan)
    assert f"coreai left out: {why}" in capsys.readouterr().err
    with pytest.raises(UsageError, match=r"--formats coreai: coreai-core is not installed"):
        ExportOptions(formats=("coreai",)).plan()


def test_compressed_variants_are_smaller_and_still_the_model(tmp_path):
    """int8 weights per channel and 6-bit tables per 16 channels (coreai-opt's passes on the converted program) shrink
    the weights and stay near the Keras model in Core AI's runtime."""
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(
        32, 3, padding="same", activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed=3)
    )(x)
    x = keras.layers.Conv2D(
        64,
        3,
        padding="same",
        activation="relu",  # 18,432 weights: above the passes' threshold
        kernel_initializer=keras.initializers.GlorotUniform(seed=4),
    )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    pixels = np.random.default_rng(1).integers(0, 256, (4, 16, 16, 3)).astype(np.float32)
    reference = model.predict(pixels, verbose=0)
    size, diff = {}, {}
    for variant in ("fp16", "int8-weights", "palettized-6bit"):
        out = tmp_path / f"{variant}.aimodel"
        assert _convert(tmp_path / "m.keras", out, "--variant", variant)["variant"] == variant
        size[variant] = sum(f.stat().st_size for f in out.iterdir())
        diff[variant] = float(np.abs(_core_ai(out, pixels) - reference).max())
    assert size["palettized-6bit"] < size["int8-weights"] < size["fp16"], size
    assert size["fp16"] - size["int8-weights"] > 15_000, size  # about 1 byte saved per weight of the big layer
    assert max(diff.values()) < 0.05 and diff["fp16"] < 5e-3, diff


def test_drift_reads_every_layer_of_the_core_ai_file_from_its_runtime(pipeline, tmp_path):
    """The release asset's ops, logged by Core AI's runtime, match every probe of the reference: fp16 close, and the
    drift command measures the variant (before: "the format exposes no intermediate tensors")."""
    from carspotter.cli import main
    from carspotter.contracts.manifest import read_manifest
    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.drift import ReferenceProbes, measure_drift
    from carspotter.export.formats.coreai.runtime import coreai_intermediates
    from carspotter.model.runtimes import load_reference

    run_dir, bundle = pipeline
    run = read_run(run_dir)
    probes = ReferenceProbes(load_reference(run))
    pixels = split_photoset(run, "test", limit=2).pixels
    path = bundle / read_manifest(bundle).formats["coreai"].variants["fp16"].path
    drift = measure_drift("coreai/fp16", probes, coreai_intermediates(path), pixels)
    assert drift.photos == 2 and len(drift.matched) == len(probes.names) >= 5, drift.summary()
    assert max(p.rel_error for p in drift.matched) < 1e-2 and drift.first_beyond is None, drift.summary()
    assert (
        main(
            [
                "drift",
                str(bundle),
                "--run",
                str(run_dir),
                "--photos",
                "1",
                "--variants",
                "coreai/fp16",
                "--out",
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    (measured,) = [
        d for d in json.loads((tmp_path / "d" / "drift.json").read_text())["drift"] if d["variant"] == "coreai/fp16"
    ]
    assert measured["photos"] == 1 and all(p["tensor"] for p in measured["probes"])
