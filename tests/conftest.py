"""Shared fixtures: paths to the embedded sample and ../shared, and one small real pipeline run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "train" / "sample_photos"
SHARED = REPO.parent / "shared"
STANFORD = SHARED / "data" / "stanford_cars"
BACKBONE = SHARED / "weights" / "inception_v3_nsfwjs_notop.weights.h5"

PIPELINE_SIZE = 128  # small input keeps the real conversions quick; InceptionV3 takes >= 75
PIPELINE_CLASSES = 4
GOLDEN_CLASSES = 10
GOLDEN_SIZE = 128
NODE_DIR = REPO / "tests" / "js"  # pinned Node packages of the test suite (package.json, package-lock.json)


@pytest.fixture(scope="session")
def stanford() -> Path:
    if not STANFORD.is_dir():
        pytest.skip(f"shared Stanford Cars photos not found at {STANFORD}")
    return STANFORD


@pytest.fixture(scope="session")
def backbone() -> Path:
    if not BACKBONE.is_file():
        pytest.skip(f"offline InceptionV3 backbone not found at {BACKBONE}")
    return BACKBONE


def pipeline_weights() -> tuple[str, str | None]:
    """The offline backbone when ../shared has it (a decisive model), else random init."""
    return (str(BACKBONE), "0,1") if BACKBONE.is_file() else ("none", None)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """Train on 4 classes of the embedded sample, export all formats: ``(run_dir, bundle_dir)``.

    With the offline backbone the model's probabilities are decisive (top-1 to top-2
    gaps of 0.07 to 0.9 seen); from random initialization they are near-uniform.
    """
    from carspotter.export.bundle import export_bundle
    from carspotter.train.trainer import TrainConfig, train

    weights, input_range = pipeline_weights()
    root = tmp_path_factory.mktemp("pipeline")
    run_dir = train(TrainConfig(data_dir=str(SAMPLE), out=str(root / "runs" / "small"), weights=weights,
                                input_range=input_range, max_classes=PIPELINE_CLASSES, epochs_head=3,
                                epochs_finetune=1, batch_size=8, image_size=PIPELINE_SIZE, lr_head=1e-2, seed=7))
    bundle_dir = export_bundle(run_dir, root / "bundles" / "small")
    return Path(run_dir), Path(bundle_dir)


@pytest.fixture(scope="session")
def moved(tmp_path_factory):
    """10 classes of Stanford Cars, every fp32, fp16 and int8 variant (the lowbit ones are Core ML only: tests/test_mil_execution.py), a 32-photo golden set: ``{"bundle": copy of the bundle elsewhere, "run": moved run, "data": moved photos, "root": tmp}``."""
    if not STANFORD.is_dir() or not BACKBONE.is_file():
        pytest.skip(f"needs ../shared (Stanford Cars photos at {STANFORD} and the offline backbone at {BACKBONE})")
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("golden")
    for name in sorted(p.name for p in STANFORD.iterdir() if p.is_dir())[:GOLDEN_CLASSES]:
        shutil.copytree(STANFORD / name, root / "data" / name)
    run = train(TrainConfig(data_dir=str(root / "data"), out=str(root / "runs" / "cars10"), weights=str(BACKBONE),
                            input_range="0,1", epochs_head=8, epochs_finetune=1, batch_size=16, image_size=GOLDEN_SIZE,
                            lr_head=1e-2, seed=3))
    bundle = export_bundle(run, root / "bundles" / "cars10", ExportOptions(variants="fp32,fp16,int8", calibration_photos=16))
    (root / "data").rename(root / "data-moved")
    (root / "runs").rename(root / "runs-moved")
    shutil.copytree(bundle, root / "elsewhere" / "cars10")
    shutil.rmtree(root / "bundles")
    return {"bundle": root / "elsewhere" / "cars10", "run": root / "runs-moved" / "cars10", "data": root / "data-moved",
            "root": root}


@pytest.fixture(scope="session")
def node_modules():
    """onnxruntime-node and sharp from tests/js/package-lock.json (installed here if nox did not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js (node and npm) is not installed here: the JavaScript self-test needs it")
    if not (NODE_DIR / "node_modules" / "onnxruntime-node").is_dir() or not (NODE_DIR / "node_modules" / "sharp").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
                              env={**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip"}, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_DIR


def install_npm_package(bundle: Path, dest: Path) -> Path:
    """The bundle's npm package (``onnx/``) as ``npm install --install-links`` puts it in an app: copied into
    ``dest/pkg`` beside a ``dest/node_modules`` that links to the test suite's pinned packages; returns ``dest/pkg``."""
    from carspotter.measure.app_paths import install_npm_copy

    return install_npm_copy(bundle / "onnx", dest, NODE_DIR / "node_modules")
