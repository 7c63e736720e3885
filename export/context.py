"""What every step of an export reads: :class:`ExportContext`, built once (:func:`prepare`) and frozen.

The run, its reference loaded and run on the test (and gate) photos, the representative photos for calibrated
variants, the model's metadata, the options and the command's session pool. Nothing in it changes once it is built;
the two caches that fill as formats are built (the converters' shared conversions, the reference's drift probes) are
a dict handed to every build and a property computed on first use.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carspotter import __version__
from carspotter.contracts.photoset import (
    PhotoSet,
    gate_photoset,
    representative_photos,
    representative_rows,
    split_photoset,
)
from carspotter.contracts.runfolder import Run
from carspotter.export.build import ModelInfo
from carspotter.model import runtimes
from carspotter.model.localizer import has_localizer, load_two_output, read_record
from carspotter.model.session_pool import SessionPool
from carspotter.util.errors import ExportError


def log(msg: str) -> None:
    """One progress line of ``carspotter export`` (stderr)."""
    print(f"[export] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ExportContext:
    """What every variant is built from and measured on (frozen: see the module docstring).

    Attributes:
        run: the run; model: its reference (Keras); photos: its test split, decoded; reference: ``[N, C]`` the
            reference's probabilities on them; representative: ``[M, S, S, 3]`` uint8 calibration photos, or None;
        info: the models' metadata; enforce: the gates decide (``--variants``); options: ``ExportOptions``;
        pool: the command's sessions (each shipped file loaded once: measured, then the golden set and the app paths);
        gate: with ``--variants``, the photos the gates judge on; gate_reference: the reference on them;
        representative_rows: the split rows of ``representative``, in its order;
        conversions: the converters' shared work by key (``Build.conversions``), the one mutable part;
        two_output: the run's classifier with its localizer's box (:mod:`carspotter.model.localizer`), or None.
    """

    run: Run
    model: object
    photos: PhotoSet
    reference: np.ndarray
    representative: np.ndarray | None
    info: ModelInfo
    enforce: bool
    options: object
    pool: SessionPool
    gate: PhotoSet | None = None
    gate_reference: np.ndarray | None = None
    representative_rows: list = field(default_factory=list)
    conversions: dict = field(default_factory=dict)
    two_output: object = None

    @property
    def bundle_name(self) -> str:
        """The bundle's name (its folder's), which the packages' names derive from (export/package_names.py)."""
        return self.info.name.removeprefix("carspotter ")

    @functools.cached_property
    def drift_probes(self):
        """The reference's drift probes (:class:`carspotter.measure.drift.ReferenceProbes`), built on first use."""
        from carspotter.measure.drift import ReferenceProbes

        return ReferenceProbes(self.model)


_CALIBRATED_GATE = "; a calibrated variant is judged on them without the representative photos it read"


def _test_photos(run: Run, data) -> PhotoSet:
    photos = split_photoset(run, "test", data)
    if len(photos.truth) == 0:
        raise ExportError(
            f"{run.dir}: no test photo decodes ({len(photos.skipped)} skipped, e.g. "
            f"{photos.skipped[0] if photos.skipped else 'none listed'}); variants cannot be measured"
        )
    return photos


def prepare(run: Run, out: Path, options, calibrate: bool, pool: SessionPool) -> ExportContext:
    """Load the run's reference, decode the test (and calibration, and gate) photos, run the reference on them: the
    export's context.

    Raises:
        RunError: the run's model or photos are not there; ExportError: no test photo decodes.
    """
    model = runtimes.load_reference(run)
    photos = _test_photos(run, options.data)
    gate = gate_reference = None
    if options.variants is not None:  # gated: every photo; a calibrated variant's without those it read
        gate = gate_photoset(run, options.gate_photos, options.data)
        gate.source += _CALIBRATED_GATE
        log(f"gates judge each variant on {gate.source}")
        gate_reference = runtimes.keras_probs(model, gate.pixels)
    info = ModelInfo(
        name=f"carspotter {out.name}",
        version=__version__,
        author=options.author,
        license=options.license,
        description=f"Car make/model/year classifier, {len(run.labels)} classes, InceptionV3 fine-tuned (carspotter).",
    )
    two_output = None
    if has_localizer(run.dir):
        two_output = load_two_output(run.dir, model)
        log(
            f"the run has a localizer ({read_record(run.dir)['feature_layer']}): the formats that carry it get a box output"
        )
    return ExportContext(
        run,
        model,
        photos,
        runtimes.keras_probs(model, photos.pixels),
        representative_photos(run, options.calibration_photos, options.data) if calibrate else None,
        info,
        options.variants is not None,
        options,
        pool,
        gate,
        gate_reference,
        representative_rows(run, options.calibration_photos) if calibrate else [],
        two_output=two_output,
    )
