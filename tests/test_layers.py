"""The layer order is checked by import-linter (pyproject.toml ``[tool.importlinter]``), and the check bites; modules
and functions stay small.

``nox -s tests`` runs ``lint-imports`` on the installed package. Here the package is laid out as installed from the
repository's own folders (``[tool.setuptools.package-dir]``: the stages inside ``carspotter/``), whatever the install
(editable or not); a copy gets one wrong-way import and the contract must break.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ast
import tomllib

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [exe, "--config", str(REPO / "pyproject.toml")], capture_output=True, text=True, env=env, cwd=root, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A folder holding the package laid out as installed (stages inside ``carspotter/``), from the repository."""
    dirs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    root = tmp_path_factory.mktemp("layers")
    for package, folder in sorted(dirs.items()):  # "carspotter" first, then the stages into it
        shutil.copytree(
            REPO / folder,
            root / package.replace(".", "/"),
            ignore=shutil.ignore_patterns("__pycache__"),
            dirs_exist_ok=True,
        )
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
    out = subprocess.run(
        [sys.executable, "-c", CYCLES],
        capture_output=True,
        text=True,
        cwd=installed,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(installed)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout[-2000:]


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60


def test_modules_and_functions_stay_small(installed):
    """Rooms by job: no module of the package over 400 lines, no function over 60 (docstrings included)."""
    big = []
    for path in sorted(installed.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(installed)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            big.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno >= MAX_FUNCTION_LINES
            ):
                big.append(f"{rel}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not big, big


def _docstrings(tree) -> set[int]:
    nodes = [
        n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    return {
        id(n.body[0].value)
        for n in nodes
        if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
    }


LIBRARIES = ("coremltools", "onnxruntime", "tf2onnx", "litert", "mediapipe", "coreai")
"""The formats' own libraries (converters and runtimes), which only their packages name either."""


def _attribute_docstrings(tree) -> set[int]:
    """String statements right after an assignment (a constant's docstring), which are prose."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        for a, b in zip(body or [], (body or [])[1:]) if isinstance(body, list) else ():
            if (
                isinstance(a, (ast.Assign, ast.AnnAssign))
                and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant)
            ):
                out.add(id(b.value))
    return out


def _names_in(node, prose: set[int]) -> str:
    """The text of a node that could name a format: a string literal (not prose), a name, an attribute, an import."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
        return node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.ImportFrom):
        return f"{node.module} " + " ".join(a.name for a in node.names)
    if isinstance(node, ast.Import):
        return " ".join(a.name for a in node.names)
    return ""


PROVENANCE = {("carspotter/model/spec.py", "RESIZE")}
"""Where a library is named as the source of an algorithm, not as a format: the reference resize's recorded method
(run.json, manifest) says whose resize it reproduces."""


def test_no_format_name_outside_the_formats(installed):
    """A format's knowledge is in its own package (``carspotter/export/formats/NAME``): no other module of the
    package names a format or its libraries in its code (strings, identifiers, imports; prose in docstrings may), nor
    imports a format package: the rest reaches a format through the registry (its FormatSpec's fields)."""
    from carspotter.model.formats import FORMATS

    import re

    words = sorted(FORMATS) + list(LIBRARIES) + ["formats"]
    names = re.compile(r"(?<![a-z])(" + "|".join(words) + r")(?![a-z])", re.IGNORECASE)
    formats_dir = installed / "carspotter" / "export" / "formats"
    found = []
    for path in sorted((installed / "carspotter").rglob("*.py")):
        if formats_dir in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prose = _docstrings(tree) | _attribute_docstrings(tree)
        rel = str(path.relative_to(installed))
        for node in tree.body:  # a provenance constant: its strings are prose
            if isinstance(node, ast.Assign) and any((rel, getattr(n, "id", "")) in PROVENANCE for n in node.targets):
                prose |= {id(c) for c in ast.walk(node) if isinstance(c, ast.Constant)}
        for node in ast.walk(tree):
            text = _names_in(node, prose).replace("_", " ").replace(".", " ")
            hit = names.findall(text)
            # "formats" alone is the registry's module (carspotter.model.formats); only the format packages count
            if [h for h in hit if h.lower() != "formats"] or "export formats" in text:
                found.append(f"{path.relative_to(installed)}:{node.lineno}: {_names_in(node, prose)[:60]!r}")
    assert not found, "\n".join(found)


def test_no_test_function_is_over_60_lines():
    """One subject per test: no test function (or fixture) of the suite over 60 lines, docstring included."""
    big = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.end_lineno - node.lineno >= MAX_FUNCTION_LINES
            ):
                big.append(
                    f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {node.end_lineno - node.lineno + 1} lines"
                )
    assert not big, big
