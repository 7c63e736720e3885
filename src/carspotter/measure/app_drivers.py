"""The app paths' drivers outside Python: Node (sharp, the bundle's npm package) and headless Chromium.

Each runs a script of ``js/`` in a child process on the photo files and reads back ``[N, S, S, 3]`` uint8 pixels:
``sharp_resize.mjs`` (sharp's own resize, as a Node / React Native backend does it) and ``package_pixels.mjs`` (the
bundle's npm package as an app installs it, in Node or in Chromium). Node's packages come from
``CARSPOTTER_NODE_DIR`` (the test suite's pinned ``tests/js``); Chromium from ``CARSPOTTER_CHROMIUM`` or the PATH.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np

from carspotter.model.formats import FORMATS


class PathUnavailable(Exception):
    """An app path cannot run here or on this bundle; the message says why (reported as skipped)."""


def _node_dir() -> str:
    return os.environ.get("CARSPOTTER_NODE_DIR", str(Path.cwd()))


@functools.lru_cache(maxsize=4)
def _sharp_unavailable_in(node_dir: str) -> str | None:
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed here (the sharp path runs in Node)"
    script = resources.files("carspotter.measure").joinpath("js/sharp_resize.mjs")
    done = subprocess.run(
        [node, str(script), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "CARSPOTTER_NODE_DIR": node_dir},
        timeout=60,
    )
    if done.returncode != 0:
        return (
            f"{done.stderr.strip() or 'sharp failed'}; install it with `npm install sharp` in the working folder, "
            "or set CARSPOTTER_NODE_DIR to a folder whose node_modules has it"
        )
    return None


def _sharp_unavailable() -> str | None:
    return _sharp_unavailable_in(_node_dir())


def _sharp(files, boxes, size):
    if any(b is not None for b in boxes):
        raise ValueError("the sharp path does not crop to boxes")
    script = resources.files("carspotter.measure").joinpath("js/sharp_resize.mjs")
    out = subprocess.run(
        [shutil.which("node"), str(script), str(size), *map(str, files)],
        capture_output=True,
        env={**os.environ, "CARSPOTTER_NODE_DIR": _node_dir()},
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"sharp: {out.stderr.decode(errors='replace').strip()[:300]}")
    return np.frombuffer(out.stdout, np.uint8).reshape(len(files), size, size, 3).astype(np.float32)


def _chromium() -> str | None:
    return os.environ.get("CARSPOTTER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@functools.lru_cache(maxsize=4)
def _puppeteer_unavailable_in(node_dir: str) -> str | None:
    if not (Path(node_dir) / "node_modules" / "puppeteer-core").is_dir():
        return f"puppeteer-core is not installed in {node_dir}/node_modules (npm ci in tests/js, or set CARSPOTTER_NODE_DIR)"
    return None


def _npm_chromium_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed here (it drives Chromium)"
    if _chromium() is None:
        return "Chromium is not installed here (apt-get install chromium, or set CARSPOTTER_CHROMIUM)"
    return _puppeteer_unavailable_in(_node_dir())


def install_npm_copy(pkg: Path, dest: Path, node_modules: Path, code_only: bool = False) -> Path:
    """The bundle's npm package (``onnx/``) as ``npm install --install-links`` puts it in an app: copied into
    ``dest/pkg`` beside a ``dest/node_modules`` link, so its imports resolve from there; returns ``dest/pkg``.

    Args:
        code_only: copy only the ``.js`` / ``.mjs`` / ``.json`` files (the model stays where it is); otherwise hard-link
            every file (same file system).
    """
    copy = dest / "pkg"
    if code_only:
        shutil.copytree(
            pkg,
            copy,
            copy_function=shutil.copyfile,
            ignore=lambda _, names: [n for n in names if Path(n).suffix not in (".js", ".mjs", ".json")],
        )
    else:
        shutil.copytree(pkg, copy, copy_function=os.link)
    (dest / "node_modules").symlink_to(Path(node_modules).resolve(), target_is_directory=True)
    return copy


def _npm(mode: str):
    """The bundle's npm package (``onnx/``) copied beside a ``node_modules`` link, as an app installs it, run in
    ``mode`` (``node`` or ``chromium``) by ``js/package_pixels.mjs``."""

    def run(folder: Path, files, boxes, size):
        import tempfile

        if any(b is not None for b in boxes):
            raise PathUnavailable("the npm package paths take whole photo files, not crop boxes")
        spec = next(
            (f for f in FORMATS.values() if f.shipping.app_package == "npm"), None
        )  # the format shipping an npm package
        pkg = Path(folder) / spec.platform if spec is not None else None
        if pkg is None or not (pkg / "resize.js").is_file():
            raise PathUnavailable(
                "the bundle has no npm package (no resize.js in the folder of the format that ships one)"
            )
        script = resources.files("carspotter.measure").joinpath("js/package_pixels.mjs")
        with tempfile.TemporaryDirectory(prefix="carspotter-npm-") as tmp:
            copy = install_npm_copy(pkg, Path(tmp), Path(_node_dir()) / "node_modules", code_only=True)
            env = {**os.environ, "CARSPOTTER_CHROMIUM": _chromium() or "chromium"}
            out = subprocess.run(
                [shutil.which("node"), str(script), mode, str(copy), str(size), *map(str, files)],
                capture_output=True,
                env=env,
                timeout=1800,
            )
        if out.returncode != 0:
            raise RuntimeError(f"npm package in {mode}: {out.stderr.decode(errors='replace').strip()[:300]}")
        return np.frombuffer(out.stdout, np.uint8).reshape(len(files), size, size, 3).astype(np.float32)

    return run
