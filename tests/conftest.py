"""Shared fixtures: paths to the embedded sample and ../shared, and one small real pipeline run."""

from __future__ import annotations

import os
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
