"""The bundle-facts file every platform package reads (``carspotter.json``), read and checked on the Python side.

The Swift, Kotlin and JavaScript packages decode it on the device (name, input side, labels, threshold, "not a car"
class, model file names and digests: :func:`carspotter.export.app_packages.bundle_facts` writes it). ``carspotter
verify`` reads every copy in the bundle with :func:`read_bundle_facts` (schema, then the manifest's labels and input
side) so a damaged or foreign one is refused here, in one line, before an app meets it.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from carspotter.contracts.bundle_paths import read_capped
from carspotter.util.errors import BundleError
from carspotter.util.hashing import sha256_file

NAME = "carspotter.json"
"""The file's name in every platform package."""

_FILE = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\\\\\x00]+$"}
_DIGEST = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

SCHEMA = {
    "type": "object",
    "required": ["name", "version", "size", "labels", "threshold", "notACar", "model", "modelSha256"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "version": {"type": "string", "maxLength": 64},
        "size": {"type": "integer", "minimum": 75, "maximum": 4096},
        "labels": {
            "type": "array",
            "minItems": 2,
            "maxItems": 100000,
            "items": {"type": "string", "minLength": 1, "maxLength": 1000},
        },
        "threshold": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "notACar": {"type": ["string", "null"]},
        "model": _FILE,
        "modelSha256": _DIGEST,
        "coreAIModel": {"anyOf": [_FILE, {"type": "null"}]},
        "coreAIModelSha256": {"anyOf": [_DIGEST, {"type": "null"}]},
    },
}
"""JSON Schema of ``carspotter.json`` (the keys all three packages read; file names are names, not paths)."""


def model_digest(path: Path, sha256_of=None) -> str:
    """``modelSha256`` of a model file or folder, as every package recomputes it before loading a delivered model.

    A file: the sha256 of its bytes (``sha256sum FILE``). A folder (``.mlpackage``, ``.aimodel``): the sha256 of the
    text ``sha256sum`` prints for its files, one line ``<hex>  <path relative to the folder>`` per file, sorted by
    that path (byte order of its UTF-8), each line ending in ``\n``: what ``(cd FOLDER && find . -type f | sed
    's|^./||' | LC_ALL=C sort | xargs -d '\n' sha256sum) | sha256sum`` gives. ``sha256_of``: ``(file) -> hex``, the
    digests already computed (``verify_bundle``'s file table); default: each file read and hashed.
    """
    import hashlib

    path, sha256_of = Path(path), sha256_of or sha256_file
    if not path.is_dir():
        return sha256_of(path)
    files = sorted((p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()), key=lambda r: r.encode())
    listing = "".join(f"{sha256_of(path / rel)}  {rel}\n" for rel in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _legacy_digest(path: Path, sha256_of) -> str:
    """``modelSha256`` as bundles exported before December 2026 wrote it (the sha256 of the JSON of ``{file: sha256}``):
    still accepted, so those bundles verify."""
    import hashlib

    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    hashes = {(p.relative_to(path).as_posix() if path.is_dir() else p.name): sha256_of(p) for p in files}
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def read_bundle_facts(path: Path, labels: list[str] | None = None, size: int | None = None, sha256_of=None) -> dict:
    """Read ``path`` (a ``carspotter.json``) and check it; with ``labels`` and ``size`` (the manifest's), check it
    describes that model, and that the model files beside it have its digests (``sha256_of``: see
    :func:`model_digest`; the older bundles' digest form is computed only when the current one differs).

    Returns:
        The facts (see :data:`SCHEMA`).

    Raises:
        BundleError: unreadable, not JSON, off the schema, too large, a link, or another model's labels or input side.
    """
    try:
        doc = json.loads(read_capped(Path(path)).decode("utf-8"))
        jsonschema.validate(doc, SCHEMA)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: not valid JSON ({type(exc).__name__}: {str(exc)[:160]}); export again") from None
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise BundleError(f"{path}: not a carspotter.json ({exc.message[:160]} at {where}); export again") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror or exc}); export again") from None
    if doc["notACar"] is not None and doc["notACar"] not in doc["labels"]:
        raise BundleError(f"{path}: notACar {doc['notACar'][:80]!r} is not one of its labels; export again")
    if labels is not None and doc["labels"] != list(labels):
        raise BundleError(f"{path}: its labels differ from the manifest's; export again")
    if size is not None and doc["size"] != size:
        raise BundleError(f"{path}: input side {doc['size']} px, the manifest's is {size} px; export again")
    for model, digest in ((doc["model"], doc["modelSha256"]), (doc.get("coreAIModel"), doc.get("coreAIModelSha256"))):
        where = Path(path).parent / model if model else None
        if where is None or not where.exists() or model_digest(where, sha256_of) == digest:
            continue
        if _legacy_digest(where, sha256_of or sha256_file) != digest:  # only then: an older bundle's form
            raise BundleError(
                f"{where}: its sha256 is not the modelSha256 {Path(path).name} gives "
                "(the model was replaced); export again"
            )
    return doc
