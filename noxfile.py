"""Sessions: ``tests`` (the test suite), ``train``, ``export`` (train if needed, export, parity), ``parity``.

Arguments after ``--`` pass through to the underlying command, e.g.
``nox -s train -- ../shared/data/stanford_cars --max-classes 10 --out runs/cars10``.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
SAMPLE = "train/sample_photos"
SAMPLE_RUN = "runs/sample"
SAMPLE_BUNDLE = "bundles/sample"
# Quick profile for the embedded sample: ImageNet weights when they can be downloaded,
# otherwise random initialization, announced loudly and recorded in run.json.
QUICK_TRAIN = ["--weights", "imagenet", "--weights-fallback-none", "--epochs-head", "3", "--epochs-finetune", "2",
               "--batch-size", "16", "--image-size", "299"]


def _install(session: nox.Session, extras: str = "") -> None:
    session.install(f".{extras}")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit tests and a small real train -> export -> parity run)."""
    _install(session, "[test]")
    session.run("pytest", "tests", *session.posargs, env={"TF_CPP_MIN_LOG_LEVEL": "2"})


@nox.session
def train(session: nox.Session) -> None:
    """Train: default is the quick profile on the embedded sample into runs/sample."""
    _install(session)
    args = session.posargs or [SAMPLE, "--out", SAMPLE_RUN, *QUICK_TRAIN]
    session.run("carspotter", "train", *args)


@nox.session
def export(session: nox.Session) -> None:
    """The main job: train on the embedded sample if no run exists, export bundles, check parity.

    With arguments: ``-- RUN_DIR BUNDLE_DIR`` exports and checks that run instead.
    """
    _install(session)
    run_dir, bundle_dir = session.posargs[:2] if len(session.posargs) >= 2 else (SAMPLE_RUN, SAMPLE_BUNDLE)
    if not (ROOT / run_dir / "run.json").is_file():
        if run_dir != SAMPLE_RUN:
            session.error(f"{run_dir}: no run there; train it first (nox -s train -- DATA_DIR --out {run_dir})")
        session.log(f"no run at {run_dir}: training the quick profile on {SAMPLE}")
        session.run("carspotter", "train", SAMPLE, "--out", SAMPLE_RUN, *QUICK_TRAIN)
    session.run("carspotter", "export", run_dir, "--out", bundle_dir)
    session.run("carspotter", "parity", bundle_dir)
    session.log(f"bundles written to {ROOT / bundle_dir}: ios/, android/, onnx/, manifest.json, parity.json")


@nox.session
def parity(session: nox.Session) -> None:
    """Run the parity suite on a bundle (default bundles/sample): ``nox -s parity -- BUNDLE_DIR [--images DIR]``."""
    _install(session)
    args = session.posargs or [SAMPLE_BUNDLE]
    session.run("carspotter", "parity", *args)
