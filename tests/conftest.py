"""Shared fixtures: paths to the embedded sample and ../shared, and one small real pipeline run."""

from __future__ import annotations

import json
import os
import re
import dataclasses
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


def tiny_run(out: Path, data: Path = SAMPLE, **options) -> Path:
    """A real ``carspotter train`` run with the tiny stand-in backbone (``tests/tiny.py``): seconds, not minutes, for
    every test whose subject is not InceptionV3 itself. Random initialization, the embedded sample by default."""
    from carspotter.train.trainer import TrainConfig, train
    from tiny import tiny_backbone

    # 20 head epochs on the cached features (milliseconds each): a decisive head, so that parity's near-tie tolerance
    # does not cover every swap a test provokes
    settings = {
        "weights": "none",
        "input_range": "0,1",
        "max_classes": PIPELINE_CLASSES,
        "epochs_head": 20,
        "patience": 0,
        "epochs_finetune": 1,
        "batch_size": 8,
        "image_size": PIPELINE_SIZE,
        "lr_head": 1e-2,
        "seed": 7,
        **options,
    }
    with tiny_backbone():
        return Path(train(TrainConfig(data_dir=str(data), out=str(out), **settings)))


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """Train on 4 classes of the embedded sample (the tiny backbone), export all formats: ``(run_dir, bundle_dir)``.

    Its subject is the pipeline around the backbone (phases, formats, packages, parity), so it needs no InceptionV3;
    the ``moved`` fixture trains the real one.
    """
    from carspotter.export.bundle import export_bundle

    root = tmp_path_factory.mktemp("pipeline")
    run_dir = tiny_run(root / "runs" / "small")
    bundle_dir = export_bundle(run_dir, root / "bundles" / "small")
    return Path(run_dir), Path(bundle_dir)


@pytest.fixture(scope="session")
def moved(tmp_path_factory):
    """10 classes of Stanford Cars, every fp32, fp16 and int8 variant but ONNX's int8-qdq-mixed (the lowbit ones are Core ML only: tests/test_mil_execution.py), a 32-photo golden set: ``{"bundle": copy of the bundle elsewhere, "run": moved run, "data": moved photos, "root": tmp}``."""
    if not STANFORD.is_dir() or not BACKBONE.is_file():
        pytest.skip(f"needs ../shared (Stanford Cars photos at {STANFORD} and the offline backbone at {BACKBONE})")
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.model.formats import FORMATS
    from carspotter.train.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("golden")
    for name in sorted(p.name for p in STANFORD.iterdir() if p.is_dir())[:GOLDEN_CLASSES]:
        shutil.copytree(STANFORD / name, root / "data" / name)
    run = train(
        TrainConfig(
            data_dir=str(root / "data"),
            out=str(root / "runs" / "cars10"),
            weights=str(BACKBONE),
            input_range="0,1",
            epochs_head=8,
            epochs_finetune=1,
            batch_size=16,
            image_size=GOLDEN_SIZE,
            lr_head=1e-2,
            seed=3,
        )
    )
    # Core AI runs InceptionV3 at about 0.5 s a photo here (its runtime is one CPU thread): tests/test_coreai.py covers
    # it on the tiny backbone, so this bundle has the three other formats
    # gates on 150 of the 309 photos (enough for a 97 % bound: 125), drift of a left-out variant on 2
    options = ExportOptions(
        formats=("coreml", "tflite", "onnx"),
        variants="fp32,fp16,int8",
        calibration_photos=16,
        gate_photos=150,
        drift_photos=2,
    )
    # ONNX's sensitivity-guided int8 variant spends a minute on per-layer sensitivity of InceptionV3; its plan is tested
    # on the tiny backbone (tests/test_sensitivity.py), so this bundle leaves it out
    onnx = FORMATS["onnx"]
    FORMATS["onnx"] = dataclasses.replace(onnx, variants=tuple(v for v in onnx.variants if v.name != "int8-qdq-mixed"))
    try:
        bundle = export_bundle(run, root / "bundles" / "cars10", options)
    finally:
        FORMATS["onnx"] = onnx
    (root / "data").rename(root / "data-moved")
    (root / "runs").rename(root / "runs-moved")
    shutil.copytree(bundle, root / "elsewhere" / "cars10")
    shutil.rmtree(root / "bundles")
    return {
        "bundle": root / "elsewhere" / "cars10",
        "run": root / "runs-moved" / "cars10",
        "data": root / "data-moved",
        "root": root,
    }


@pytest.fixture(scope="session")
def node_modules():
    """onnxruntime-node and sharp from tests/js/package-lock.json (installed here if nox did not)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js (node and npm) is not installed here: the JavaScript self-test needs it")
    if (
        not (NODE_DIR / "node_modules" / "onnxruntime-node").is_dir()
        or not (NODE_DIR / "node_modules" / "sharp").is_dir()
    ):
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            env={**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip"},
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_DIR


def android_assets_dir(bundle: Path) -> Path:
    """The Android library's asset folder in ``bundle``: ``android/src/main/assets/carspotter_<segment>``, named after the
    bundle's folder (``carspotter.export.package_names.android_assets``)."""
    from carspotter.export.package_names import android_assets

    return bundle / "android" / "src" / "main" / "assets" / android_assets(bundle.name)


JUNIT_JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar", "/usr/share/java/kotlin-stdlib.jar")
"""JUnit 4, Hamcrest and the Kotlin runtime from Debian (apt-get install kotlin junit4): the JVM tests' class path."""


def kotlin_root(android: Path, tree: str = "main") -> Path:
    """``android/src/<tree>/kotlin/dev/carspotter/<segment>``: the library's Kotlin package folder (its namespace's)."""
    namespace = re.search(r'namespace = "([^"]+)"', (android / "build.gradle.kts").read_text()).group(1)
    return android / "src" / tree / "kotlin" / Path(*namespace.split("."))


def compile_kotlin_core(kotlinc: str, android: Path, jar: Path) -> Path:
    """An Android library's pure-Kotlin core and its JVM tests compiled by ``kotlinc`` (Kotlin 1.3 language and API, as
    Debian's kotlinc) with JUnit 4 into ``jar``; returns ``jar``."""
    sources = sorted((kotlin_root(android) / "core").glob("*.kt"))
    tests = sorted((android / "src" / "test" / "kotlin").rglob("*.kt"))
    flags = ["-language-version", "1.3", "-api-version", "1.3"]
    cmd = [kotlinc, *flags, *map(str, sources + tests), "-cp", JUNIT_JARS[0], "-d", str(jar)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return jar


@pytest.fixture(scope="session")
def kotlin_tests(pipeline, tmp_path_factory):
    """The bundle's pure-Kotlin core and its JVM tests compiled with kotlinc (Debian's Kotlin 1.3.31) once for the
    suite: ``(jar, core package)``. The tiny-backbone bundle: the core and its tests do not depend on the model."""
    kotlinc = shutil.which("kotlinc")
    missing = [j for j in JUNIT_JARS if not Path(j).is_file()]
    if kotlinc is None or missing:
        pytest.skip(
            f"kotlinc or JUnit 4 missing ({'kotlinc' if kotlinc is None else ', '.join(missing)}): "
            "apt-get install kotlin junit4 (nox -s tests does)"
        )
    from carspotter.export.package_names import android_namespace

    jar = compile_kotlin_core(kotlinc, pipeline[1] / "android", tmp_path_factory.mktemp("kotlin") / "core-tests.jar")
    return jar, android_namespace(pipeline[1].name) + ".core"


def reseal(bundle: Path) -> dict:
    """After a test changed a model file on purpose: every ``carspotter.json`` of ``bundle`` given the digests of the
    model files beside it, as an export of that model would write them; returns the bundle's new file table (for the
    manifest). The test then checks what parity makes of a consistent bundle holding a broken model."""
    import json

    from carspotter.contracts.bundle_facts import model_digest
    from carspotter.contracts.manifest import file_table

    for facts_path in bundle.rglob("carspotter.json"):
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        for name_key, digest_key in (("model", "modelSha256"), ("coreAIModel", "coreAIModelSha256")):
            model = facts.get(name_key) and facts_path.parent / facts[name_key]
            if model and model.exists():
                facts[digest_key] = model_digest(model)
        facts_path.write_text(json.dumps(facts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return file_table(bundle)


def install_npm_package(bundle: Path, dest: Path) -> Path:
    """The bundle's npm package (``onnx/``) as ``npm install --install-links`` puts it in an app: copied into
    ``dest/pkg`` beside a ``dest/node_modules`` that links to the test suite's pinned packages; returns ``dest/pkg``."""
    from carspotter.measure.app_paths import install_npm_copy

    return install_npm_copy(bundle / "onnx", dest, NODE_DIR / "node_modules")


TIERS = {"node": {"node_modules"}, "kotlin": {"kotlin_tests"}, "inception": {"moved", "camera"}}
"""Markers set from the fixtures a test uses (pyproject.toml ``markers``); ``chromium`` from its name."""


ONE_WORKER = ("moved", "kotlin_tests")
"""Session fixtures built once per worker: under ``pytest -n 2 --dist loadgroup`` (nox -s tests) every test using one
runs on the worker that built it (the ``moved`` bundle takes about 6 minutes)."""


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads xdist_group to name the groups
def pytest_collection_modifyitems(items):
    """Mark each test with the tiers it needs, so ``pytest -m "not chromium"`` (or node, kotlin, inception) selects;
    and with its ``xdist_group``: the shared fixture it uses (:data:`ONE_WORKER`), else its file, so a module's fixtures
    are built on one worker."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in TIERS.items():
            if used & fixtures:
                item.add_marker(marker)
        if "chromium" in item.name:
            item.add_marker("chromium")
        shared = [name for name in ONE_WORKER if name in used]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else item.nodeid.split("::")[0]))


def chromium_or_skip() -> str:
    """Debian's Chromium (and onnxruntime-web in tests/js), or the test is skipped with the reason."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed here (nox -s tests installs Debian's chromium)")
    if not (NODE_DIR / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("onnxruntime-web is not in tests/js/node_modules (npm ci in tests/js)")
    return chromium


def chromium_self_test(root: Path, pkg: Path, bundle: Path) -> dict:
    """The npm package's self-test run in headless Chromium (``tests/js/package_selftest_page.mjs``: ``pkg`` installed
    under ``root``, the bundle linked as ``root/bundle``): the page's result, after checking the page ran cleanly."""
    chromium = chromium_or_skip()
    (root / "bundle").symlink_to(bundle, target_is_directory=True)
    page = [str(NODE_DIR / "package_selftest_page.mjs"), chromium, str(root), str(pkg), str(root / "bundle")]
    done = subprocess.run(["node", *page], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "error" not in out and not out["pageErrors"], out
    return out["result"]
