"""What a parity run compares against: the bundle, its golden set, and (when it can be found) its run.

Three photo sets, each with the reference's answers on it (a :class:`Basis`):

- ``golden``: the bundle's exact model inputs (``golden/NNN.png``) and the reference's
  probabilities recorded in ``golden/expected.json``: needs nothing but the bundle;
- ``golden-jpeg``: the bundle's golden photos decoded by our own decoder, against the same
  recorded probabilities;
- ``live``: the run's test split (or ``--images``) and the Keras reference run now: needs the
  run folder (``--run DIR``, or ``runs/NAME`` found from the working folder or beside the
  bundle's folder, with the model sha256 the manifest records) and its photos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.model import runtimes
from carspotter.model.backends import DEFAULT_CHECKS
from carspotter.measure.app_paths import AppGate, AppModels, upscaled_photos
from carspotter.util.errors import BundleError
from carspotter.model.format_spec import VariantSpec
from carspotter.contracts.bundle_handle import open_bundle
from carspotter.contracts.source import bundle_source
from carspotter.contracts.golden import GoldenSet
from carspotter.contracts.manifest import Manifest
from carspotter.measure.parity_rule import ParityResult, compare_top3, tolerance
from carspotter.contracts.photoset import PhotoSet, folder_photoset, split_photoset
from carspotter.contracts.runfolder import Run

GOLDEN, GOLDEN_JPEG, LIVE = "golden", "golden-jpeg", "live"


@dataclass
class Basis:
    """Photos and the reference's probabilities on them.

    Attributes:
        name: ``golden``, ``golden-jpeg`` or ``live``.
        photos: the decoded photos (``[N, S, S, 3]`` uint8) with names and, when known, true labels.
        reference: ``[N, C]`` the reference's probabilities.
        reference_source: where those come from, for the report.
    """

    name: str
    photos: PhotoSet
    reference: np.ndarray
    reference_source: str


class ParityContext:
    """One bundle under check; every photo set and reference answer is made once, when first needed.

    Args:
        bundle: the bundle folder.
        images: a folder of photos for the live reference instead of the run's test split.
        limit: at most N live photos (the golden set is always checked whole).
        run: the run folder the bundle was exported from (default: looked for, see the module docstring).
        data: the run's photo folder, when it is no longer where run.json says.
        app_paths: also measure the app paths (:mod:`carspotter.measure.app_paths`) on the original photos.
        enforce_app_gate: an app path that misses its gate fails the run (default: reported only).
        references: the reference rows checked against the canonical one on the live photos
            (:data:`carspotter.model.backends.DEFAULT_CHECKS`; empty for none).

    Raises:
        BundleError: the bundle, its manifest or its golden set is missing or invalid, a file changed
            since export (sha256), is missing or was added; ``run`` is not
            the bundle's run; or there is nothing to compare against.
    """

    def __init__(
        self,
        bundle: str | Path,
        images: str | Path | None = None,
        limit: int | None = None,
        run: str | Path | None = None,
        data: str | Path | None = None,
        app_paths: bool = True,
        enforce_app_gate: bool = False,
        references: tuple = DEFAULT_CHECKS,
    ):
        # every file, golden ones included, verified before any is read; the Keras reference and every file's session
        # are the source's pool, closed by close()
        self.source = bundle_source(open_bundle(bundle, run))
        self.bundle = self.source.folder
        self.references = tuple(references)
        self.app_paths, self.enforce_app_gate = app_paths, enforce_app_gate
        self.app_gate = AppGate()
        self.manifest: Manifest = self.source.manifest
        self.golden: GoldenSet | None = self.source.golden
        self.images, self.limit, self.data = images, limit, data
        self._probs: dict = {}
        self.pool = self.source.pool
        self._app_models: AppModels | None = None
        self._upscaled: dict = {}
        self._bases: dict[str, Basis] = {}
        if self.run is None:
            if images is not None:
                raise BundleError(
                    f"--images needs the bundle's reference model: pass --run DIR (the run "
                    f"{self.manifest.source_run['name']} this bundle was exported from)"
                )
            if self.golden is None:
                raise BundleError(
                    f"{self.bundle}: has no golden set (exported with --golden 0) and its run "
                    f"{self.manifest.source_run['name']} was not found ({self.run_search}): nothing to "
                    "compare against; pass --run DIR"
                )

    @property
    def run(self) -> Run | None:
        """The run the bundle came from, if it is here with the very model the bundle was built from
        (:func:`carspotter.contracts.bundle_handle.find_run`).

        Raises:
            BundleError: ``--run`` names a folder that is not a run, or a run whose model is another.
        """
        return self.source.run

    @property
    def run_search(self) -> str:
        return self.source.run_search

    @property
    def bases(self) -> list[str]:
        """The photo sets this context can check: golden ones when the bundle has a golden set, live when the run is here."""
        return ([GOLDEN, GOLDEN_JPEG] if self.golden else []) + ([LIVE] if self.run is not None else [])

    def basis(self, name: str) -> Basis:
        """The photo set ``name`` with the reference's answers (made once).

        Raises:
            BundleError, RunError: the photos cannot be had (a PNG of the wrong size, the run's photos moved, ...).
        """
        if name not in self._bases:
            self._bases[name] = self._make_basis(name)
        return self._bases[name]

    def _make_basis(self, name: str) -> Basis:
        g = self.golden
        if name == GOLDEN:
            ps = PhotoSet(g.exact_inputs(), list(g.names), "the bundle's golden set (exact inputs)", [], g.truth)
            return Basis(name, ps, g.probabilities, "golden/expected.json")
        if name == GOLDEN_JPEG:
            pixels, skipped = g.decoded_photos()
            if skipped:
                raise BundleError(f"{self.bundle / skipped[0][0]}: {skipped[0][1]}; export again")
            ps = PhotoSet(pixels, list(g.names), "the bundle's golden photos, decoded by carspotter", [], g.truth)
            return Basis(name, ps, g.probabilities, "golden/expected.json")
        if self.images is not None:
            ps = folder_photoset(self.images, self.manifest.spec.size, self.limit, self.manifest.labels)
        else:
            ps = split_photoset(self.run, "test", self.data, limit=self.limit)
        if len(ps.names) == 0:
            raise BundleError(f"no photo decoded from {ps.source} ({len(ps.skipped)} skipped)")
        return Basis(name, ps, self.source.reference().infer(ps.pixels), "Keras reference, CPU, run now")

    def thumbnail(self, basis: str, name: str) -> np.ndarray | None:
        """The exact input of photo ``name`` in photo set ``basis`` (``[S, S, 3]`` uint8), if that set was made."""
        b = self._bases.get(basis)
        if b is None or name not in b.photos.names:
            return None
        return b.photos.pixels[b.photos.names.index(name)]

    def app_files(self, basis: str) -> tuple[list[Path], list]:
        """The photo files an app would get for a photo set, with crop boxes: the golden JPEGs, or the run's originals."""
        if basis == GOLDEN:
            return [self.bundle / name for name in self.golden.names], [None] * len(self.golden.names)
        ps = self.basis(basis).photos
        return list(ps.paths), list(ps.boxes) if ps.boxes else [None] * len(ps.paths)

    def upscaled(self, basis: str):
        """``[N]`` bool: photos with a side under the input size (made once per photo set)."""
        if basis not in self._upscaled:
            self._upscaled[basis] = upscaled_photos(*self.app_files(basis), self.manifest.spec.size)
        return self._upscaled[basis]

    def path(self, fmt: str, variant: str | None = None) -> Path:
        """The file of ``fmt``'s default variant, or of a shipped ``variant``."""
        entry = self.manifest.formats[fmt]
        return self.bundle / (entry.variants[variant].path if variant else entry.path)

    def session(self, runtime: runtimes.Runtime, variant: VariantSpec, path: Path) -> runtimes.Session:
        """``path`` loaded into ``runtime`` once for the whole parity run (the context's :class:`SessionPool`,
        closed by :meth:`close`)."""
        return self.pool.session(runtime, variant, path)

    def probs(self, basis: str, runtime: runtimes.Runtime, variant: VariantSpec, path: Path) -> np.ndarray:
        """``[N, C]`` probabilities of ``path`` on ``runtime`` for a photo set (computed once)."""
        key = (basis, str(path), runtime.resolve(variant).check)
        if key not in self._probs:
            self._probs[key] = self.session(runtime, variant, path).infer(self.basis(basis).photos.pixels)
        return self._probs[key]

    def app_models(self) -> AppModels:
        """The models the app paths run, sharing this context's sessions."""
        if self._app_models is None:
            self._app_models = AppModels(self.bundle, self.manifest.formats, self.manifest.labels, self.pool)
        return self._app_models

    def close(self) -> None:
        """Close every session this context loaded."""
        self._app_models = None  # its sessions are this context's, closed below
        self.source.close()

    def compare(
        self,
        basis: str,
        probs: np.ndarray,
        *,
        fmt: str,
        target: str,
        precision: str,
        reference: np.ndarray | None = None,
    ) -> ParityResult:
        """The top-3 rule on a photo set, against its reference (or ``reference``)."""
        b = self.basis(basis)
        tol = tolerance(precision)
        return compare_top3(
            b.reference if reference is None else reference,
            probs,
            labels=self.manifest.labels,
            photos=b.photos.names,
            tau=tol.tau,
            max_abs_diff_limit=tol.max_abs_diff,
            format=fmt,
            target=target,
            precision=precision,
            photo_set=basis,
            break_rate=tol.break_rate,
        )
