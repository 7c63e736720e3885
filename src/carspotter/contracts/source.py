"""One way every tool opens what it is given: :func:`open_source` (a run folder or a bundle) -> :class:`Source`.

A :class:`Source` is the folder verified (a bundle's every file against its manifest, its golden set read, its run
found as parity finds it: :mod:`carspotter.contracts.bundle_handle`), its labels, input side and confidence settings
typed the same way for a run and a bundle, and the command's one :class:`~carspotter.model.session_pool.SessionPool`:
every model the command runs (each shipped variant on the runtime the tools use here, and the Keras reference) is a
session of that pool, loaded once, closed when the command ends (:meth:`Source.close`, or the end of a ``with``
block). ``predict``, ``evaluate`` (its ``--baseline`` bundle too, in the same pool), ``benchmark`` and ``drift`` open
their folders here; parity opens its bundle with :func:`~carspotter.contracts.bundle_handle.open_bundle` (a folder that
is not a bundle is its error) and holds it as a Source through :func:`bundle_source`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from carspotter.contracts.bundle_handle import BundleHandle, open_folder
from carspotter.contracts.golden import GoldenSet
from carspotter.contracts.manifest import Manifest
from carspotter.contracts.runfolder import Confidence, Run
from carspotter.model.formats import FORMATS
from carspotter.model.runtimes import Runtime, Session, load_reference
from carspotter.model.session_pool import SessionPool
from carspotter.model.sessions import KerasSession
from carspotter.util.errors import BundleError, UsageError


@dataclass
class Source:
    """A run folder or a bundle, opened (see the module docstring).

    Attributes:
        folder: the folder given.
        kind: ``"run"`` or ``"bundle"``.
        labels: the C class names, in the model's output order.
        size: the input side S (pixels).
        manifest: the bundle's manifest (None for a run folder).
        golden: the bundle's golden set (None for a run folder, or a bundle exported with ``--golden 0``).
        confidence: the run's calibration and "not sure" threshold (:class:`~carspotter.contracts.runfolder.Confidence`),
            or None when the run was not calibrated.
        pool: the command's sessions (closed by :meth:`close`).
    """

    folder: Path
    kind: str
    labels: list[str]
    size: int
    manifest: Manifest | None
    golden: GoldenSet | None
    confidence: Confidence | None
    pool: SessionPool
    _handle: BundleHandle | None = None
    _run: Run | None = None
    _model: object = None

    @property
    def run(self) -> Run | None:
        """The run: the folder itself, or the bundle's run when it is here (``--run``, or found as parity finds it).

        Raises:
            BundleError: ``--run`` names a folder that is not a run, or a run whose model is another.
        """
        return self._run if self._handle is None else self._handle.run

    @property
    def run_search(self) -> str:
        """Where a bundle's run was looked for, for messages (``""`` for a run folder)."""
        return self._handle.run_search if self._handle is not None else ""

    @property
    def threshold(self) -> float | None:
        """The "show the answer" probability 0..1, or None."""
        return self.confidence.threshold if self.confidence else None

    @property
    def target_precision(self) -> float | None:
        """The precision 0..1 that threshold was chosen for, or None."""
        return self.confidence.target_precision if self.confidence else None

    @property
    def negative_class(self) -> str | None:
        """The "not a car" class name when the run was trained with one, else None."""
        return self.confidence.negative_class if self.confidence else None

    def shipped(self) -> list[tuple[str, str]]:
        """``[(format, variant)]`` of every shipped variant, in manifest order (none for a run folder)."""
        formats = self.manifest.formats if self.manifest else {}
        return [(f, v) for f, e in formats.items() for v, r in e.variants.items() if r.shipped]

    def variant(self, fmt: str, variant: str | None = None) -> tuple[Runtime, Session]:
        """``(runtime, session)``: a shipped variant (default: the format's default) on the runtime the tools use
        here (:func:`carspotter.model.session_pool.tool_runtime`), loaded once into the pool.

        Raises:
            UsageError: the folder holds no such format or shipped variant.
        """
        entry = self.manifest.formats.get(fmt) if self.manifest else None
        name = variant or (entry.default_variant if entry else None)
        record = entry.variants.get(name) if entry else None
        if record is None or not record.shipped:
            held = ", ".join(f"{f}/{v}" for f, v in self.shipped()) or "only the Keras reference"
            raise UsageError(f"{fmt}/{name}: {self.folder} does not ship it (it holds {held})")
        spec = FORMATS[fmt]
        return self.pool.tool_session(spec, spec.variant(name), self.folder / record.path)

    def model(self, reload: bool = False):
        """The run's Keras model (``model.keras``, ``safe_mode``), loaded once (``reload``: again, for a tool that
        times the load).

        Raises:
            BundleError: a bundle whose run is not here (pass ``--run DIR``); RunError: the model does not load.
        """
        run = self.run
        if run is None:
            raise BundleError(f"{self.folder}: the Keras reference needs the bundle's run; pass --run DIR")
        if reload or self._model is None:
            self._model = load_reference(run)
        return self._model

    def reference(self, device: str = "/CPU:0", reload: bool = False) -> Session:
        """The Keras reference on ``device`` as a session of the pool (loaded once per device; ``reload``: the model
        loaded again, the session afresh).

        Raises:
            as :meth:`model`.
        """
        key = f"keras:{device}"
        if reload:
            self.pool.drop(key)
        return self.pool.adopt(key, lambda: KerasSession(self.model(reload), device))

    def close(self) -> None:
        """Close every session of the command."""
        self.pool.close()
        self._model = None

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _confidence(doc) -> Confidence | None:
    """A manifest's ``confidence`` (the run's :class:`Confidence` as a dict) typed again (keys it does not know, from
    a newer writer, left out)."""
    known = set(Confidence.__dataclass_fields__)
    return Confidence(**{k: v for k, v in doc.items() if k in known}) if doc else None


def open_source(
    folder: str | Path, run: str | Path | None = None, threads: int | None = None, pool: SessionPool | None = None
) -> Source:
    """Open a run folder (``run.json``) or a bundle (``manifest.json``) as a :class:`Source`.

    Args:
        folder: the folder; run: the bundle's run folder (default: looked for as parity does); threads: CPU threads
            per session (default: every core); pool: another source's pool to share (``evaluate --baseline``: one
            pool per command), else a new one.

    Raises:
        UsageError: the folder is neither. RunError, BundleError: it fails its checks.
    """
    folder = Path(folder)
    opened = open_folder(folder, run)
    if isinstance(opened, BundleHandle):
        return bundle_source(opened, threads, pool)
    labels = list(opened.labels)
    pool = pool or SessionPool(labels, threads)
    return Source(folder, "run", labels, opened.input.size, None, None, opened.confidence, pool, _run=opened)


def bundle_source(handle: BundleHandle, threads: int | None = None, pool: SessionPool | None = None) -> Source:
    """A bundle already opened and verified (:func:`carspotter.contracts.bundle_handle.open_bundle`: parity, whose
    errors name the manifest) as a :class:`Source`; ``threads`` and ``pool`` as :func:`open_source`."""
    manifest = handle.manifest
    labels = list(manifest.labels)
    pool = pool or SessionPool(labels, threads)
    conf = _confidence(manifest.confidence)
    return Source(handle.folder, "bundle", labels, manifest.spec.size, manifest, handle.golden, conf, pool, handle)


def open_bundle_source(folder: str | Path, run: str | Path | None = None, **kw) -> Source:
    """:func:`open_source` for a command that needs a bundle.

    Raises:
        UsageError: a run folder (the message says to pass a bundle folder); as :func:`open_source`.
    """
    source = open_source(folder, run, **kw)
    if source.kind != "bundle":
        source.close()
        raise UsageError(f"{folder}: a run folder; pass a bundle folder (bundles/NAME)")
    return source
