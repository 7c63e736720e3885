"""``manifest.json``: the contract between ``carspotter export`` and its readers (apps, parity).

It lists the labels and their sha256, the input spec and preprocessing, every format
built, every file's size and sha256, the training metrics, and (after ``carspotter
parity``) the parity results. Validated against ``manifest.schema.json`` when read.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

import jsonschema

from carspotter.errors import BundleError
from carspotter.hashing import sha256_file  # noqa: F401  (re-exported for bundle and parity)

MANIFEST_SCHEMA_VERSION = 1
UNHASHED = ("manifest.json", "parity.json")  # written after the files they describe


def schema() -> dict:
    """The manifest JSON Schema (draft 2020-12), shipped as ``manifest.schema.json``."""
    return json.loads(resources.files("carspotter.export").joinpath("manifest.schema.json").read_text(encoding="utf-8"))


def file_table(bundle_dir: Path) -> dict[str, dict]:
    """``{relative posix path: {"bytes": int, "sha256": hex}}`` for every file in a bundle.

    Folders such as ``.mlpackage`` are listed file by file; ``manifest.json`` and
    ``parity.json`` are left out (they are written after the files they describe).
    """
    table = {}
    for dirpath, dirnames, filenames in os.walk(bundle_dir):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(bundle_dir).as_posix()
            if rel in UNHASHED:
                continue
            table[rel] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def write_manifest(bundle_dir: Path, manifest: dict) -> None:
    """Validate ``manifest`` against the schema and write ``manifest.json`` atomically."""
    jsonschema.validate(manifest, schema())
    tmp = bundle_dir / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, bundle_dir / "manifest.json")


def read_manifest(bundle_dir: str | Path) -> dict:
    """Read and validate ``manifest.json``.

    Raises:
        BundleError: folder or manifest missing, invalid JSON, or schema mismatch.
    """
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / "manifest.json"
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir}: no such bundle folder; make one with `carspotter export RUN_DIR --out {bundle_dir}`")
    if not path.is_file():
        raise BundleError(f"{path}: missing; this is not a bundle folder (export again)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc}); export again") from None
    try:
        jsonschema.validate(manifest, schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise BundleError(f"{path}: does not match manifest schema v{MANIFEST_SCHEMA_VERSION} ({exc.message} at {where})") from None
    return manifest


def verify_bundle(bundle_dir: str | Path) -> dict:
    """Check every file against the manifest's size and sha256; no file missing or extra.

    Returns:
        The validated manifest.

    Raises:
        BundleError: naming the first file that is missing, changed, or not listed.
    """
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    actual = file_table(bundle_dir)
    for rel, expected in manifest["files"].items():
        if rel not in actual:
            raise BundleError(f"{bundle_dir / rel}: listed in manifest.json but missing; export again")
        if actual[rel]["sha256"] != expected["sha256"] or actual[rel]["bytes"] != expected["bytes"]:
            raise BundleError(f"{bundle_dir / rel}: changed after export (sha256 {actual[rel]['sha256'][:12]}... "
                              f"!= manifest {expected['sha256'][:12]}...); export again")
    extra = sorted(set(actual) - set(manifest["files"]))
    if extra:
        raise BundleError(f"{bundle_dir / extra[0]}: not listed in manifest.json (added after export); remove it or export again")
    labels_path = bundle_dir / manifest["formats"][next(iter(manifest["formats"]))]["labels"]
    if hashlib.sha256(labels_path.read_bytes()).hexdigest() != manifest["labels_sha256"]:
        raise BundleError(f"{labels_path}: labels differ from manifest labels_sha256; export again")
    return manifest
