"""Fixtures and options of the parity suite; results go to parity.json and manifest.json.

Options: ``--bundle DIR`` (required), ``--images DIR``, ``--limit N``, ``--no-write``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from carspotter.errors import BundleError
from carspotter.export.manifest import read_manifest, sha256_file, write_manifest
from carspotter.parity_tests.photoset import load_photoset
from carspotter.parity_tests.tolerances import TOLERANCES

_LOG = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("carspotter parity")
    group.addoption("--bundle", default=None, help="bundle folder to check")
    group.addoption("--images", default=None, help="folder of photos (default: the run's test split)")
    group.addoption("--limit", type=int, default=None, help="check at most N photos")
    group.addoption("--no-write", action="store_true", help="do not write parity.json or update manifest.json")


def pytest_configure(config):
    config.stash[_LOG] = {"results": [], "skipped": [], "checks": []}


@pytest.fixture(scope="session")
def bundle_dir(pytestconfig) -> Path:
    value = pytestconfig.getoption("--bundle")
    if not value:
        pytest.exit("carspotter parity: pass --bundle BUNDLE_DIR", returncode=2)
    return Path(value)


@pytest.fixture(scope="session")
def manifest(bundle_dir) -> dict:
    try:
        return read_manifest(bundle_dir)
    except BundleError as exc:
        pytest.exit(f"carspotter parity: error: {exc}", returncode=2)


@pytest.fixture(scope="session")
def photoset(manifest, pytestconfig):
    try:
        ps = load_photoset(manifest, pytestconfig.getoption("--images"), pytestconfig.getoption("--limit"))
    except BundleError as exc:
        pytest.exit(f"carspotter parity: error: {exc}", returncode=2)
    if len(ps.names) == 0:
        pytest.exit(f"carspotter parity: error: no photo decoded from {ps.source} ({len(ps.skipped)} skipped)", returncode=2)
    log = pytestconfig.stash[_LOG]
    log["photos"], log["source"], log["skipped_photos"] = len(ps.names), ps.source, ps.skipped
    return ps


@pytest.fixture(scope="session")
def reference_model(manifest):
    """The run's Keras reference, after checking it is the exact file the bundle came from."""
    from carspotter.export.bundle import load_reference
    from carspotter.runfolder import read_run

    run_dir = Path(manifest["source_run"]["dir"])
    path = run_dir / "model.keras"
    if not path.is_file():
        pytest.exit(f"carspotter parity: error: {path}: the reference model is gone; parity needs the run folder", returncode=2)
    if sha256_file(path) != manifest["source_run"]["model_sha256"]:
        pytest.exit(f"carspotter parity: error: {path}: changed since this bundle was exported (sha256 differs); export again", returncode=2)
    return load_reference(read_run(run_dir))


@pytest.fixture(scope="session")
def reference(reference_model, photoset):
    """``[N, C]`` reference probabilities, Keras on CPU."""
    from carspotter.parity_tests.runners import keras_probs

    return keras_probs(reference_model, photoset.pixels)


@pytest.fixture
def record(pytestconfig):
    """Call with a ParityResult (appended to the results) or with ``skip=(check, reason)``."""
    log = pytestconfig.stash[_LOG]

    def add(result=None, *, check=None, facts=None, skip=None):
        if result is not None:
            log["results"].append(result.to_json())
        if check is not None:
            log["checks"].append({"check": check, **(facts or {})})
        if skip is not None:
            log["skipped"].append({"check": skip[0], "reason": skip[1]})
            pytest.skip(skip[1])

    return add


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    bundle = config.getoption("--bundle")
    log = config.stash.get(_LOG, None)
    if not bundle or config.getoption("--no-write") or not log or "photos" not in log:
        return
    bundle = Path(bundle)
    passed = exitstatus == 0 and all(r["passed"] for r in log["results"])
    report = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "passed": passed,
        "photos": log["photos"],
        "photo_source": log["source"],
        # A run narrowed with -k or other pytest arguments is a partial check: say so.
        "pytest_args": [str(a) for a in config.invocation_params.args],
        "skipped_photos": log["skipped_photos"],
        "rule": "per photo and rank 1..3: same class as the reference, or a class whose reference probability is "
                "within tau of it (near-tie, counted); and max |p - q| over all photos and classes <= max_abs_diff",
        "tolerances": TOLERANCES,
        "results": log["results"],
        "structure_checks": log["checks"],
        "skipped_checks": log["skipped"],
    }
    tmp = bundle / ".parity.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, bundle / "parity.json")
    manifest = read_manifest(bundle)
    manifest["parity"] = {"passed": passed, "photos": log["photos"], "photo_source": log["source"],
                          "results": [{k: r[k] for k in ("format", "target", "precision", "tau", "passed", "top1_agreement",
                                                          "near_ties", "top1_near_ties", "max_abs_diff")} for r in log["results"]],
                          "skipped_checks": log["skipped"]}
    write_manifest(bundle, manifest)
