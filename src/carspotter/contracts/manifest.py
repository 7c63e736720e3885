"""``manifest.json``: the contract between ``carspotter export`` and its readers (apps, parity).

It lists the labels and their sha256, the input spec and preprocessing, every format
built with every variant's figures and gate verdict, every file's size and sha256, the
training metrics, and (after ``carspotter parity``) the parity results. On disk it is
described by ``manifest.schema.json`` (JSON Schema, validated on every read and write);
in memory it is a :class:`Manifest`, its entries (formats, variants) in
:mod:`carspotter.contracts.manifest_entries`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema

from carspotter.util.atomic import atomic_write
from carspotter.contracts.bundle_facts import NAME as FACTS_NAME, read_bundle_facts
from carspotter.contracts.bundle_paths import inside, read_capped, walk_plain_files
from carspotter.contracts.manifest_entries import FormatEntry, VariantsInfo
from carspotter.contracts.signature import SIGNATURE
from carspotter.util.errors import BundleError
from carspotter.util.hashing import sha256_file
from carspotter.model.spec import InputSpec

MANIFEST_SCHEMA_VERSION = 2
UNHASHED = ("manifest.json", "parity.json", "parity.html", "drift.json", "drift.html", SIGNATURE)
"""Written after the files they describe (the manifest, the reports, the signature): not in the file table."""


@lru_cache(maxsize=1)
def _schema_file() -> str:
    return resources.files("carspotter.contracts").joinpath("manifest.schema.json").read_text(encoding="utf-8")


def schema() -> dict:
    """The manifest JSON Schema (draft 2020-12), shipped as ``manifest.schema.json``, with the format names and
    platform folders of the format registry (:data:`carspotter.model.formats.FORMATS`) as its enums."""
    from carspotter.model.formats import FORMATS

    doc = json.loads(_schema_file())
    formats = doc["properties"]["formats"]
    formats["propertyNames"] = {"enum": list(FORMATS)}
    formats["additionalProperties"]["properties"]["platform"] = {"enum": [f.platform for f in FORMATS.values()]}
    return doc


@dataclass
class Manifest:
    """manifest.json in memory (see ``manifest.schema.json`` for every field on disk).

    Attributes:
        name: the bundle's name.
        labels: C class names, index order; ``labels_sha256`` the sha256 of labels.txt.
        input: the model's input as recorded (run.json ``input``); ``spec`` reads it as an :class:`InputSpec`.
        preprocessing: how photos become the input (:attr:`carspotter.model.spec.InputSpec.preprocessing`).
        source_run: the run it came from, by name (``name``, ``model_sha256``, ``test_split``):
            no path of the build machine is recorded.
        training: the run's metrics, weights, counts and timing.
        variants: how variants were chosen.
        formats: ``{format name: FormatEntry}``.
        files: ``{bundle-relative path: {"bytes", "sha256"}}`` for every file.
        golden: the golden set (``count``, ``expected``, ``bytes``, ...), or None (``--golden 0``).
        parity: the last parity run's summary, or None.
        confidence: the run's calibration and "not sure" threshold
            (:class:`carspotter.contracts.runfolder.Confidence` as JSON), or None for an older run.
        app_paths: every app path (:mod:`carspotter.measure.app_paths`) measured at export on the run's
            test photo files: ``{"photos", "gate", "paths": [figures with "gate" and "gate_passed",
            or {"path", "client", "skipped"}]}``; None when not measured (an older bundle).
    """

    name: str
    carspotter_version: str
    created: str
    labels: list[str]
    labels_sha256: str
    input: dict
    preprocessing: dict
    source_run: dict
    training: dict
    variants: VariantsInfo
    formats: dict[str, FormatEntry]
    files: dict[str, dict]
    golden: dict | None = None
    parity: dict | None = None
    confidence: dict | None = None
    app_paths: dict | None = None
    schema_version: int = MANIFEST_SCHEMA_VERSION
    spec: InputSpec = field(init=False, repr=False)

    def __post_init__(self):
        self.spec = InputSpec.from_json(self.input)

    def to_json(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "carspotter_version": self.carspotter_version,
            "created": self.created,
            "labels": self.labels,
            "labels_sha256": self.labels_sha256,
            "input": self.input,
            "preprocessing": self.preprocessing,
            "source_run": self.source_run,
            "training": self.training,
            "variants": self.variants.to_json(),
            "formats": {k: f.to_json() for k, f in self.formats.items()},
            "files": self.files,
            "golden": self.golden,
            "parity": self.parity,
            "confidence": self.confidence,
            "app_paths": self.app_paths,
        }

    @classmethod
    def from_json(cls, d: dict) -> "Manifest":
        return cls(
            name=d["name"],
            carspotter_version=d["carspotter_version"],
            created=d["created"],
            labels=list(d["labels"]),
            labels_sha256=d["labels_sha256"],
            input=dict(d["input"]),
            preprocessing=d["preprocessing"],
            source_run=d["source_run"],
            training=d["training"],
            variants=VariantsInfo.from_json(d["variants"]),
            formats={k: FormatEntry.from_json(v) for k, v in d["formats"].items()},
            files=d["files"],
            golden=d["golden"],
            parity=d["parity"],
            confidence=d.get("confidence"),
            app_paths=d.get("app_paths"),
            schema_version=d["schema_version"],
        )


def file_table(bundle_dir: Path) -> dict[str, dict]:
    """``{relative posix path: {"bytes": int, "sha256": hex}}`` for every file in a bundle.

    Folders such as ``.mlpackage`` are listed file by file; :data:`UNHASHED` (``manifest.json``, parity's and
    drift's reports) is left out: written after the files it describes.

    Raises:
        BundleError: a symbolic link, or a file too large (:mod:`carspotter.contracts.bundle_paths`).
    """
    table = {}
    for rel, path in walk_plain_files(Path(bundle_dir)):
        if rel not in UNHASHED:
            table[rel] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    return table


def write_manifest(bundle_dir: Path, manifest: Manifest) -> None:
    """Validate ``manifest`` against the schema and write ``manifest.json`` atomically."""
    doc = manifest.to_json()
    jsonschema.validate(doc, schema())
    atomic_write(Path(bundle_dir) / "manifest.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def read_manifest(bundle_dir: str | Path) -> Manifest:
    """Read and validate ``manifest.json``.

    Raises:
        BundleError: folder or manifest missing, invalid JSON, or schema mismatch.
    """
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / "manifest.json"
    if not bundle_dir.is_dir():
        raise BundleError(
            f"{bundle_dir}: no such bundle folder; make one with `carspotter export RUN_DIR --out {bundle_dir}`"
        )
    if not path.is_file():
        raise BundleError(f"{path}: missing; this is not a bundle folder (export again)")
    try:
        doc = json.loads(read_capped(path).decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"{path}: not valid JSON ({type(exc).__name__}: {str(exc)[:160]}); export again") from None
    if isinstance(doc, dict) and doc.get("schema_version") == 1:
        raise BundleError(
            f"{path}: manifest schema v1 (a bundle from an older carspotter, tied to the machine that built "
            f"it); export it again to get schema v{MANIFEST_SCHEMA_VERSION}"
        )
    try:
        jsonschema.validate(doc, schema())
        _paths_inside(bundle_dir, doc)
        return Manifest.from_json(doc)
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise BundleError(
            f"{path}: does not match manifest schema v{MANIFEST_SCHEMA_VERSION} ({exc.message} at {where})"
        ) from None
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise BundleError(
            f"{path}: does not match manifest schema v{MANIFEST_SCHEMA_VERSION} "
            f"({type(exc).__name__}: {exc}); export again"
        ) from None


def _paths_inside(bundle: Path, doc: dict) -> None:
    """Every path the manifest names stays inside the bundle (:func:`carspotter.contracts.bundle_paths.inside`)."""
    for rel in doc["files"]:
        inside(bundle, rel, "files lists")
    for name, entry in doc["formats"].items():
        for key in ("path", "labels", "readme"):
            inside(bundle, entry[key], f"formats.{name}.{key}")
        for variant, record in entry.get("variants", {}).items():
            if record.get("path") is not None:
                inside(bundle, record["path"], f"formats.{name}.variants.{variant}.path")


def verify_bundle(bundle_dir: str | Path) -> Manifest:
    """Check every file against the manifest's size and sha256; no file missing or extra.

    Returns:
        The validated manifest.

    Raises:
        BundleError: naming the first file that is missing, changed, or not listed, a manifest path that leaves the
            bundle (an escape), a symbolic link, or a ``carspotter.json`` that does not describe this model.
    """
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    actual = file_table(bundle_dir)
    for rel, expected in manifest.files.items():
        if rel not in actual:
            raise BundleError(f"{bundle_dir / rel}: listed in manifest.json but missing; export again")
        if actual[rel]["sha256"] != expected["sha256"] or actual[rel]["bytes"] != expected["bytes"]:
            raise BundleError(
                f"{bundle_dir / rel}: changed after export (sha256 {actual[rel]['sha256'][:12]}... "
                f"!= manifest {expected['sha256'][:12]}...); export again"
            )
    extra = sorted(set(actual) - set(manifest.files))
    if extra:
        raise BundleError(
            f"{bundle_dir / extra[0]}: not listed in manifest.json (added after export); remove it or export again"
        )

    def sha256_of(path: Path) -> str:  # the digests just computed for the table, not the files read again
        return actual[path.relative_to(bundle_dir).as_posix()]["sha256"]

    for rel in actual:  # every platform package's bundle facts describe this model
        if rel.rsplit("/", 1)[-1] == FACTS_NAME:
            read_bundle_facts(bundle_dir / rel, manifest.labels, manifest.spec.size, sha256_of)
    labels_path = bundle_dir / next(iter(manifest.formats.values())).labels
    if hashlib.sha256(labels_path.read_bytes()).hexdigest() != manifest.labels_sha256:
        raise BundleError(f"{labels_path}: labels differ from manifest labels_sha256; export again")
    return manifest
