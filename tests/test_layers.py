"""The layer order is checked by import-linter (pyproject.toml ``[tool.importlinter]``), and the check bites.

``nox -s tests`` runs ``lint-imports`` on the installed package; here a copy of that package
gets one wrong-way import (a low layer importing the command line) and the contract must break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import carspotter

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(carspotter.__file__).parent


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([exe, "--config", str(REPO / "pyproject.toml")], capture_output=True, text=True, env=env,
                          cwd=root, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A folder holding the package laid out as installed (stages inside ``carspotter/``)."""
    if not (PACKAGE / "train").is_dir():
        pytest.skip(f"carspotter is installed in editable mode from {PACKAGE}: the stages are not inside it; "
                    "run through nox -s tests (a regular install)")
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(PACKAGE, root / "carspotter", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_layers_contract_is_kept(installed):
    out = _lint(installed)
    assert out.returncode == 0, out.stdout[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_a_wrong_way_import_breaks_the_contract(installed, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(installed, root)
    with open(root / "carspotter" / "measure" / "metrics.py", "a") as f:
        f.write("\nfrom carspotter.parity import context  # noqa: E402,F401  (wrong way: measure below parity)\n")
    out = _lint(root)
    assert out.returncode != 0 and "BROKEN" in out.stdout
    assert "carspotter.measure.metrics -> carspotter.parity.context" in out.stdout, out.stdout[-2000:]


CYCLES = """
import grimp
g = grimp.build_graph("carspotter", include_external_packages=False, exclude_type_checking_imports=True)
print([(a, b) for a in sorted(g.modules) for b in g.find_modules_directly_imported_by(a)
       if g.chain_exists(importer=b, imported=a)])
"""


def test_no_import_cycle(installed):
    """No module reaches itself through its imports (grimp, the graph import-linter checks), inside a layer too."""
    out = subprocess.run([sys.executable, "-c", CYCLES], capture_output=True, text=True, cwd=installed, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(installed)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout[-2000:]
