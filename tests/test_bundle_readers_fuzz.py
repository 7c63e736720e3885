"""The bundle readers under fuzzing (tests/fuzz_bundle_readers.py): a brief run here (60 inputs each), a long one in
tests/benchmarks/fuzz_bundle_readers.py. Also the named refusals: an escape named as one, a link, an oversize file."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings

from fuzz_bundle_readers import check_reader, mutated

BRIEF = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def bundle_copy(pipeline, tmp_path_factory):
    _, bundle = pipeline
    copy = tmp_path_factory.mktemp("fuzz") / "b"
    shutil.copytree(bundle, copy)
    return copy


def test_manifest_reader_refuses_in_one_line_or_reads(bundle_copy):
    from carspotter.contracts.manifest import read_manifest

    original = (bundle_copy / "manifest.json").read_bytes()
    outcomes = []

    @BRIEF
    @given(data=mutated(original))
    def run(data):
        outcomes.append(check_reader(lambda: read_manifest(bundle_copy), bundle_copy / "manifest.json", data))

    try:
        run()
    finally:
        (bundle_copy / "manifest.json").write_bytes(original)
    assert outcomes.count("refused") > 15 and len(outcomes) >= 50, (outcomes.count("refused"), len(outcomes))


def test_bundle_facts_reader_refuses_in_one_line_or_reads(bundle_copy):
    from carspotter.contracts.bundle_facts import read_bundle_facts
    from carspotter.contracts.manifest import read_manifest

    manifest = read_manifest(bundle_copy)
    path = next(bundle_copy.rglob("carspotter.json"))
    original = path.read_bytes()
    outcomes = []

    @BRIEF
    @given(data=mutated(original))
    def run(data):
        outcomes.append(check_reader(lambda: read_bundle_facts(path, manifest.labels, manifest.spec.size), path, data))

    try:
        run()
    finally:
        path.write_bytes(original)
    assert outcomes.count("refused") > 15 and len(outcomes) >= 50, (outcomes.count("refused"), len(outcomes))


def _listed(bundle, rel, data: bytes):
    doc = json.loads((bundle / "manifest.json").read_text())
    doc["files"][rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (bundle / "manifest.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "rel, words",
    [
        ("../outside.txt", "../outside.txt leaves the bundle folder"),
        ("/etc/hostname", "/etc/hostname is absolute"),
        ("onnx/../../x", "onnx/../../x leaves the bundle folder"),
    ],
)
def test_a_manifest_path_leaving_the_bundle_is_named_an_escape(pipeline, tmp_path, capsys, rel, words):
    from carspotter.cli import main

    _, bundle = pipeline
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    (tmp_path / "outside.txt").write_bytes(b"true bytes")
    _listed(copy, rel, b"true bytes")
    assert main(["verify", str(copy)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "missing" not in err, err


def test_links_and_oversize_files_are_refused(pipeline, tmp_path, capsys, monkeypatch):
    from carspotter.cli import main
    from carspotter.contracts import bundle_paths

    _, bundle = pipeline
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    (copy / "onnx" / "extra.txt").symlink_to("/etc/hostname")
    assert main(["verify", str(copy)]) == 2
    assert "extra.txt: a symbolic link (to /etc/hostname)" in capsys.readouterr().err
    (copy / "onnx" / "extra.txt").unlink()
    monkeypatch.setattr(bundle_paths, "MAX_FILE_BYTES", 1000)  # every model file is larger
    assert main(["verify", str(copy)]) == 2
    assert "above the" in capsys.readouterr().err
    monkeypatch.setattr(bundle_paths, "MAX_MANIFEST_BYTES", 100)
    assert main(["verify", str(copy)]) == 2
    assert "manifest.json:" in capsys.readouterr().err


def test_model_digest_is_what_sha256sum_gives(tmp_path):
    """The digest every package recomputes before loading a delivered model: a file's sha256, a folder's sha256sum
    listing (sorted relative paths) hashed again."""
    import subprocess

    from carspotter.contracts.bundle_facts import model_digest

    folder = tmp_path / "m.mlpackage"
    (folder / "Data" / "w").mkdir(parents=True)
    (folder / "Manifest.json").write_bytes(b"{}")
    (folder / "Data" / "w" / "weight.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "Data" / "B.txt").write_bytes(b"upper case sorts first")
    shell = "cd '{}' && find . -type f | sed 's|^./||' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum".format(
        folder
    )
    assert model_digest(folder) == subprocess.run(shell, shell=True, capture_output=True, text=True).stdout.split()[0]
    single = folder / "Manifest.json"
    assert model_digest(single) == hashlib.sha256(b"{}").hexdigest()
