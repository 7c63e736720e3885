"""One way to open a bundle (or a run folder): verified, with its golden set and, when it is here, its run.

``carspotter parity``, ``predict``, ``evaluate`` and ``benchmark`` all open what they are given with
:func:`open_folder` (a run folder or a bundle) or :func:`open_bundle`, so they verify a bundle, find its run and
word their errors alike.

A bundle's run is found when it is here with the very model the bundle was exported from: ``--run DIR`` when
given, else ``runs/NAME`` under the working folder or beside the bundle's ``bundles/`` folder, matched by the
sha256 of ``model.keras`` that the manifest records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from carspotter.contracts.golden import GoldenSet, read_golden
from carspotter.contracts.manifest import Manifest, verify_bundle
from carspotter.contracts.runfolder import Run, read_run
from carspotter.util.errors import BundleError, RunError, UsageError
from carspotter.util.hashing import sha256_file


def run_candidates(bundle: Path, name: str) -> list[Path]:
    """Where a bundle's run ``name`` is looked for: ``runs/NAME`` under the working folder, then beside ``bundles/``."""
    here = Path.cwd()
    return list(dict.fromkeys([here / "runs" / name, Path(bundle).resolve().parent.parent / "runs" / name]))


def find_run(bundle: Path, manifest: Manifest, run_arg: str | Path | None = None) -> Run | None:
    """The run a bundle came from, if it is here with the very model the bundle was built from (see the module
    docstring); None when it is not found.

    Raises:
        BundleError: ``run_arg`` is not a run, or a run whose model is another.
    """
    want, name = manifest.source_run["model_sha256"], manifest.source_run["name"]
    if run_arg is not None:
        try:
            run = read_run(run_arg)
        except RunError as exc:
            raise BundleError(f"--run {run_arg}: {exc}") from None
        if sha256_file(run.dir / "model.keras") != want:
            raise BundleError(
                f"--run {run_arg}: its model.keras is not the one this bundle was exported from "
                f"(sha256 differs); pass the run {name}, or export again"
            )
        return run
    for folder in run_candidates(Path(bundle), name):
        model = folder / "model.keras"
        if model.is_file() and sha256_file(model) == want:
            return read_run(folder)
    return None


@dataclass
class BundleHandle:
    """A verified bundle.

    Attributes:
        folder: the bundle folder.
        manifest: its manifest, every file checked against it (sha256).
        golden: its golden set (:mod:`carspotter.contracts.golden`), or None when exported with ``--golden 0``.
        run_arg: ``--run`` as given, or None to look for the run.
    """

    folder: Path
    manifest: Manifest
    golden: GoldenSet | None
    run_arg: Path | None = field(default=None)

    @functools.cached_property
    def run(self) -> Run | None:
        """The bundle's run when it is here (:func:`find_run`), else None.

        Raises:
            BundleError: ``--run`` names a folder that is not a run, or a run whose model is another.
        """
        return find_run(self.folder, self.manifest, self.run_arg)

    @property
    def run_search(self) -> str:
        """Where the run was looked for, for messages."""
        return "looked for " + ", ".join(str(p) for p in run_candidates(self.folder, self.manifest.source_run["name"]))


def open_bundle(folder: str | Path, run: str | Path | None = None) -> BundleHandle:
    """Verify a bundle (every file, golden ones included, before any is read) and read its golden set.

    Raises:
        BundleError: the folder, its manifest or its golden set is missing or invalid, or a file changed since
            export (sha256), is missing or was added.
    """
    folder = Path(folder)
    manifest = verify_bundle(folder)
    golden = read_golden(folder, manifest.labels, manifest.spec.size)
    return BundleHandle(folder, manifest, golden, Path(run) if run is not None else None)


def open_folder(folder: str | Path, run: str | Path | None = None) -> Run | BundleHandle:
    """A run folder (``run.json``) as a :class:`Run`, or a bundle (``manifest.json``) as a :class:`BundleHandle`.

    Raises:
        UsageError: the folder is neither.
        RunError, BundleError: it fails its checks.
    """
    folder = Path(folder)
    if (folder / "run.json").is_file():
        return read_run(folder)
    if not (folder / "manifest.json").is_file():
        raise UsageError(
            f"{folder}: neither a run folder (run.json) nor a bundle folder (manifest.json); "
            "pass runs/NAME or bundles/NAME"
        )
    return open_bundle(folder, run)
