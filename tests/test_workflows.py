"""The GitHub workflows are checked here, not only on GitHub: each file parses and validates against GitHub's workflow
schema (``check-jsonschema --builtin-schema vendor.github-workflows``, the schema vendored in the package: no network).
A workflow GitHub rejects never runs, and nothing says so (the macOS one was invalid YAML and never compiled Swift)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))


def _check(*files: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema is not installed (pip install '.[test]')")
    return subprocess.run(
        [exe, "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_workflow_passes_githubs_schema():
    assert len(WORKFLOWS) >= 2, WORKFLOWS
    done = _check(*WORKFLOWS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.mark.parametrize(
    "breakage, words",
    [
        (
            "      - name: Build: then test\n        run: echo\n",
            "mapping values are not allowed",
        ),  # a bare ": " in a name
        ("      - name: ok\n        runs: echo\n", "is not valid under any of the given schemas"),  # a misspelt key
    ],
)
def test_the_check_rejects_what_github_rejects(tmp_path, breakage, words):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: t\non: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n" + breakage)
    done = _check(bad)
    assert done.returncode != 0 and words in done.stdout + done.stderr, done.stdout + done.stderr
