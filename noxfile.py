"""Sessions: ``tests`` (the test suite), ``train``, ``export`` (train if needed, export, parity), ``parity``.

Arguments after ``--`` pass through to the underlying command, e.g.
``nox -s train -- ../shared/data/stanford_cars --max-classes 10 --out runs/cars10``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
import nox.command

nox.options.sessions = ["tests"]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
SAMPLE = "train/sample_photos"
SAMPLE_RUN = "runs/sample"
SAMPLE_BUNDLE = "bundles/sample"
# Quick profile for the embedded sample: ImageNet weights when they can be downloaded,
# otherwise random initialization, announced loudly and recorded in run.json.
QUICK_TRAIN = [
    "--weights",
    "imagenet",
    "--weights-fallback-none",
    "--epochs-head",
    "3",
    "--epochs-finetune",
    "2",
    "--batch-size",
    "16",
    "--image-size",
    "299",
]


def _install(session: nox.Session, extras: str = "") -> None:
    session.install(f".{extras}")


NODE_DIR = (
    "tests/js"  # onnxruntime-node and sharp, pinned, for the bundles' JavaScript self-test and the sharp app path
)


def _install_node_packages(session: nox.Session) -> None:
    """``npm ci`` in tests/js (no GPU binaries: ONNXRUNTIME_NODE_INSTALL=skip); said and skipped without Node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        session.warn("Node.js is not installed: the JavaScript self-test and the sharp app path will be skipped")
        return
    session.run(
        "npm",
        "ci",
        "--no-audit",
        "--no-fund",
        "--prefix",
        NODE_DIR,
        external=True,
        env={"ONNXRUNTIME_NODE_INSTALL": "skip"},
    )


APT_TOOLS = {"chromium": "chromium", "kotlinc": "kotlin", "/usr/share/java/junit4.jar": "junit4"}
"""What the tests run outside Python, from Debian: Chromium (HTML reports, the npm package in a browser), Kotlin 1.3
and JUnit 4 (the Android library's pure-Kotlin core and its JVM tests); command or file -> apt package."""


def _install_apt_tools(session: nox.Session, tools: dict[str, str] = APT_TOOLS) -> None:
    """Install ``tools`` (:data:`APT_TOOLS` or some of them) that are missing with apt-get when this is root on
    Debian/Ubuntu; otherwise said, and what needs them skips with the reason."""
    missing = sorted(
        {
            pkg
            for what, pkg in tools.items()
            if not (Path(what).is_file() if what.startswith("/") else shutil.which(what))
        }
        - ({"chromium"} if shutil.which("chromium-browser") else set())
    )
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        session.warn(
            f"{', '.join(missing)} not installed and cannot be installed here (needs apt-get as root): "
            "the tests that need them will be skipped"
        )
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, external=True, env=env)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (unit tests and small real train -> export -> parity runs)."""
    _install(session, "[test]")
    # The layer order (pyproject.toml [tool.importlinter]) on the installed package, where train/,
    # export/ and parity_tests/ sit inside carspotter/ as they are imported.
    session.run("lint-imports", "--config", str(ROOT / "pyproject.toml"), external=False)
    session.run("ruff", "check", str(ROOT))  # the linter, configured in pyproject.toml [tool.ruff]
    session.run("ruff", "format", "--check", str(ROOT))  # the formatter: fails on a file it would reformat
    _install_node_packages(session)
    _install_apt_tools(session)
    # two workers on a machine with two cores or more (pytest-xdist); tests sharing a session fixture stay on one
    # (tests/conftest.py ONE_WORKER). Each worker's TensorFlow uses the cores it finds: they share them.
    workers = ["-n", "2", "--dist", "loadgroup"] if (os.cpu_count() or 1) >= 2 else []
    session.run(
        "pytest",
        "tests",
        "--durations=25",
        *workers,
        *session.posargs,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "CARSPOTTER_NODE_DIR": str(ROOT / NODE_DIR)},
    )


@nox.session
def train(session: nox.Session) -> None:
    """Train: default is the quick profile on the embedded sample into runs/sample."""
    _install(session)
    args = session.posargs or [SAMPLE, "--out", SAMPLE_RUN, *QUICK_TRAIN]
    session.run("carspotter", "train", *args)


def _install_with_coreai(session: nox.Session) -> None:
    """The package with the ``coreai`` extra (Core AI: torch, coreai-torch, coreai-opt), so the bundles include Core AI;
    where the extra does not install (no wheel for this platform), the package alone, said: export then leaves Core AI
    out and says why."""
    try:
        _install(session, "[coreai]")
    except nox.command.CommandFailed:
        session.warn(
            "the coreai extra does not install here: the bundles will have no Core AI model "
            '(export says so); pip install ".[coreai]" shows why'
        )
        _install(session)


APP_PATH_ENV = {"CARSPOTTER_NODE_DIR": str(ROOT / NODE_DIR)}
"""Where export and parity find sharp, onnxruntime-node and puppeteer for the app paths that run the npm package."""


def _install_app_path_tools(session: nox.Session) -> None:
    """What export's and parity's app paths run outside Python: the Node packages (the sharp and npm paths) and
    Chromium (the npm package in a browser); where one cannot be installed it is said, and its path is skipped with
    the reason in the manifest."""
    _install_node_packages(session)
    _install_apt_tools(session, {"chromium": "chromium"})


@nox.session
def export(session: nox.Session) -> None:
    """The main job: train on the embedded sample if no run exists, export bundles, check parity.

    With arguments: ``-- RUN_DIR BUNDLE_DIR`` exports and checks that run instead.
    """
    _install_with_coreai(session)
    _install_app_path_tools(session)
    run_dir, bundle_dir = session.posargs[:2] if len(session.posargs) >= 2 else (SAMPLE_RUN, SAMPLE_BUNDLE)
    if not (ROOT / run_dir / "run.json").is_file():
        if run_dir != SAMPLE_RUN:
            session.error(f"{run_dir}: no run there; train it first (nox -s train -- DATA_DIR --out {run_dir})")
        session.log(f"no run at {run_dir}: training the quick profile on {SAMPLE}")
        session.run("carspotter", "train", SAMPLE, "--out", SAMPLE_RUN, *QUICK_TRAIN)
    session.run("carspotter", "export", run_dir, "--out", bundle_dir, env=APP_PATH_ENV)
    session.run("carspotter", "parity", bundle_dir, env=APP_PATH_ENV)
    session.log(
        f"bundles written to {ROOT / bundle_dir}: ios/ (Core ML, and Core AI with the coreai extra), android/, onnx/, "
        "manifest.json, parity.json, parity.html"
    )


@nox.session
def parity(session: nox.Session) -> None:
    """Run the parity suite on a bundle (default bundles/sample): ``nox -s parity -- BUNDLE_DIR [--images DIR]``."""
    _install_with_coreai(session)
    _install_app_path_tools(session)
    args = session.posargs or [SAMPLE_BUNDLE]
    session.run("carspotter", "parity", *args, env=APP_PATH_ENV)
