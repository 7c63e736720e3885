"""``carspotter export``: run folder -> bundle folder, written atomically.

The formats and their variants come from the registry (:data:`carspotter.model.formats.FORMATS`);
each variant is built by its format's export module, timed, measured on the run's test
photos against the Keras reference (:func:`carspotter.measure.gates.measure`) and gated
(:func:`carspotter.measure.gates.apply_gate`): one format at a time, :mod:`carspotter.export.format_build`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carspotter import __version__
from carspotter.measure import app_paths
from carspotter.util import dest_lock
from carspotter.model import runtimes
from carspotter.model.session_pool import SessionPool
from carspotter.util.atomic import atomic_folder
from carspotter.util.errors import ExportError, UsageError, step
from carspotter.export import app_path_rows, app_readmes, golden_set
from carspotter.export.format_build import export_format
from carspotter.export.platform_write import owns_readme, write_platforms
from carspotter.model.localizer import has_localizer, load_two_output, read_record
from carspotter.export.build import ModelInfo
from carspotter.model.formats import FORMATS, VariantSpec, baseline_overrides, parse_formats, select
from carspotter.measure.gates import Gates
from carspotter.util.hashing import sha256_file
from carspotter.contracts.manifest import Manifest, file_table, write_manifest
from carspotter.contracts.manifest_entries import FormatEntry, VariantsInfo
from carspotter.contracts.photoset import (
    PhotoSet,
    gate_photoset,
    representative_photos,
    representative_rows,
    split_photoset,
)
from carspotter.contracts.runfolder import Run, read_run


@dataclass(frozen=True)
class ExportOptions:
    """Options of ``carspotter export``.

    Attributes:
        formats: names in :data:`~carspotter.model.formats.FORMATS`, in build order (None: every registered format).
        format_options: the formats' own options by dest (:class:`~carspotter.model.formats.FormatOption`:
            Core ML's ``coreml_precision``, ONNX's ``onnx_opset``); a missing one takes its default.
        variants: comma-separated precision families (``"fp32,fp16,int8,lowbit"``) to build and
            gate; None builds each format's baseline variant (and the ORT-format ONNX) and records their
            accuracy figures without gating. The phone-accelerator gate of a format (ONNX: every node on
            the NNAPI and CoreML EPs) applies to its default either way.
        calibration_photos: representative training photos for calibrated variants (TFLite's post-training
            quantization guide: "around ~100-500 samples"; the lower end, since each is a photo the calibrated
            variants' gates cannot judge on: a 10-class run has about 300).
        gates: accuracy gates for ``variants`` (:class:`~carspotter.measure.gates.Gates`: bounds on 95 % intervals).
        gate_photos: with ``variants``, the gates judge each variant on up to this many of the run's labelled photos
            (test, val, then train: :func:`carspotter.contracts.photoset.gate_photoset`); a calibrated variant is
            judged without the representative photos it read.
        drift_photos: per-layer drift (:mod:`carspotter.measure.drift`) of every variant a gate leaves out, on this
            many gate photos, recorded in its manifest entry (0: none).
        golden: photos in the bundle's golden set (0: none; :mod:`carspotter.contracts.golden`).
        data: the run's photo folder when it is no longer where run.json says.
        app_paths: measure every app path at export (:mod:`carspotter.measure.app_paths`: Python resizers,
            MediaPipe, Node, Chromium) for the manifest and the READMEs' Resizing tables; False skips them
            (``--no-app-paths``: quicker, the bundle says nothing about app-side resizing; parity measures them).
        author, license: written into each model's metadata.
    """

    formats: tuple[str, ...] | None = None
    format_options: dict = field(default_factory=dict)
    variants: str | None = None
    calibration_photos: int = 100
    gates: Gates = Gates()
    gate_photos: int = 1000
    drift_photos: int = 8
    golden: int = golden_set.DEFAULT_COUNT
    data: str | None = None
    app_paths: bool = True
    author: str = "carspotter"
    license: str = "Apache-2.0 (code); model weights follow the training data's terms"

    def plan(self) -> dict[str, list[VariantSpec]]:
        """Variants to build per format.

        Raises:
            UsageError: an unknown format or variant family, or a calibration count below 1.
        """
        formats = parse_formats(tuple(FORMATS) if self.formats is None else self.formats)
        missing = {f: FORMATS[f].unavailable() for f in formats if FORMATS[f].unavailable is not None}
        missing = {f: why for f, why in missing.items() if why}
        if missing and self.formats is not None:
            raise UsageError(f"--formats {next(iter(missing))}: {next(iter(missing.values()))}")
        for name, why in missing.items():  # every format was asked for: the ones this machine cannot build are said
            _log(f"{name} left out: {why}")
        formats = tuple(f for f in formats if f not in missing)
        if self.calibration_photos < 1:
            raise UsageError(f"--calibration-photos {self.calibration_photos}: must be at least 1")
        if self.golden < 0:
            raise UsageError(f"--golden {self.golden}: must be 0 (no golden set) or more")
        if self.gate_photos < 1:
            raise UsageError(f"--gate-photos {self.gate_photos}: must be at least 1")
        return select(self.variants, formats, baseline_overrides(self.format_options) or None)

    @property
    def converter_options(self) -> dict:
        """Every format option's value by dest (defaults filled in), as the converters read them (``Build.options``)."""
        return {o.dest: self.format_options.get(o.dest, o.default) for f in FORMATS.values() for o in f.options}


@dataclass
class _Inputs:
    """What every variant is built from and measured on."""

    run: Run
    model: object
    photos: PhotoSet
    reference: np.ndarray
    representative: np.ndarray | None
    info: ModelInfo
    enforce: bool
    options: ExportOptions
    gate: PhotoSet | None = None  # with --variants: the photos the gates judge on (gate_photoset)
    gate_reference: np.ndarray | None = None  # the reference's probabilities on them
    representative_rows: list = field(default_factory=list)  # the split rows of ``representative``, in its order
    conversions: dict = field(default_factory=dict)  # shared by the variants' builds (export.build.Build)
    pool: SessionPool | None = None  # each shipped file loaded once: measured, then the golden set and the app paths
    drift_probes: object = None  # the reference's drift probes (measure.drift.ReferenceProbes), built on first use
    two_output: object = None  # the run's classifier with its localizer's box (model.localizer), when it has one

    @property
    def bundle_name(self) -> str:
        """The bundle's name (its folder's), which the packages' names derive from (export/package_names.py)."""
        return self.info.name.removeprefix("carspotter ")


def _log(msg: str) -> None:
    print(f"[export] {msg}", file=sys.stderr, flush=True)


_CALIBRATED_GATE = "; a calibrated variant is judged on them without the representative photos it read"


def _prepare(run_dir: str | Path, out: Path, options: ExportOptions, calibrate: bool) -> _Inputs:
    """Read the run, load the reference, decode the test (and calibration) photos, run the reference on them."""
    run = read_run(run_dir)
    model = runtimes.load_reference(run)
    photos = split_photoset(run, "test", options.data)
    if len(photos.truth) == 0:
        raise ExportError(
            f"{run.dir}: no test photo decodes ({len(photos.skipped)} skipped, e.g. "
            f"{photos.skipped[0] if photos.skipped else 'none listed'}); variants cannot be measured"
        )
    representative = representative_photos(run, options.calibration_photos, options.data) if calibrate else None
    rows = representative_rows(run, options.calibration_photos) if calibrate else []
    gate = gate_reference = None
    if options.variants is not None:  # gated: every photo; a calibrated variant's without those it read
        gate = gate_photoset(run, options.gate_photos, options.data)
        gate.source += _CALIBRATED_GATE
        _log(f"gates judge each variant on {gate.source}")
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
        _log(
            f"the run has a localizer ({read_record(run.dir)['feature_layer']}): the formats that carry it get a box output"
        )
    return _Inputs(
        run,
        model,
        photos,
        runtimes.keras_probs(model, photos.pixels),
        representative,
        info,
        options.variants is not None,
        options,
        gate,
        gate_reference,
        rows,
        two_output=two_output,
    )


def _preprocessing(run) -> dict:
    """The manifest's ``preprocessing``: what this carspotter's golden set and packages do (the bundle's reference),
    with the resize version the run was trained with (a run trained before the box pre-reduction saw the same
    pixels for every photo below 2 x S)."""
    trained = run.record["preprocessing"].get("resize", {}).get("version", 1)
    return {**run.input.preprocessing, "trained_with_resize_version": trained}


def _portable(weights: dict) -> dict:
    """run.json ``weights`` without paths of the training machine: a weights file by its name (and sha256)."""
    out = dict(weights)
    for key in ("requested", "used"):
        if isinstance(out.get(key), str) and out[key] not in ("imagenet", "none"):
            out[key] = Path(out[key]).name
    return out


def _manifest(
    tmp: Path,
    out: Path,
    formats: dict[str, FormatEntry],
    golden: dict | None,
    inputs: _Inputs,
    measured: list[dict] | None,
) -> Manifest:
    run, options = inputs.run, inputs.options
    labels_bytes = (tmp / next(iter(formats.values())).labels).read_bytes()
    return Manifest(
        name=out.name,
        carspotter_version=__version__,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        labels=run.labels,
        labels_sha256=hashlib.sha256(labels_bytes).hexdigest(),
        input=run.input.to_json(),
        preprocessing=_preprocessing(run),
        source_run={
            "name": run.name,
            "model_sha256": sha256_file(run.dir / "model.keras"),
            "test_split": run.splits["test"],
        },
        training={
            "metrics": {k: m.to_json() for k, m in run.metrics.items()},
            "weights": _portable(run.weights),
            "counts": run.classes.counts,
            "timing_s": run.record.get("timing_s", {}),
        },
        variants=VariantsInfo(
            options.variants,
            options.gates,
            inputs.enforce,
            int(len(inputs.representative)) if inputs.representative is not None else 0,
            int(len(inputs.photos.truth)),
            len(inputs.gate.names) if inputs.gate is not None else 0,
            inputs.gate.source if inputs.gate is not None else "",
        ),
        formats=formats,
        files=file_table(tmp),
        golden=golden,
        parity=None,
        confidence=run.confidence.to_json() if run.confidence else None,
        app_paths={
            "photos": "the run's test split, original files",
            "gate": app_paths.AppGate().__dict__,
            "paths": measured,
        }
        if measured
        else None,
    )


def export_bundle(run_dir: str | Path, out: str | Path, options: ExportOptions = ExportOptions()) -> Path:
    """Convert a run's reference model to every requested format and variant; write the bundle.

    Layout: one platform folder per format (default model, other shipped variants as
    ``STEM.<variant>SUFFIX``, ``labels.txt``, ``README.md``, the app self-test), ``golden/``
    (photos, exact inputs, the reference's answers) and ``manifest.json``. No path of this
    machine goes into the bundle: the run is recorded by name and model sha256. Every
    variant is measured on the run's test photos (accuracy against the true labels, top-1
    agreement and top-3 parity against the Keras reference, max |dp|, size); with
    ``options.variants`` a variant that misses its gate is left out and the export says
    which gate failed and by how much. The bundle is built in a temporary folder and
    renamed into place, so a failed or killed export leaves the previous bundle (or none).

    Raises:
        UsageError: an unknown format or variant family.
        RunError: the run folder is missing, incomplete or invalid, or its photos are not there.
        ExportError: a conversion or a measurement failed (named), no test photo decodes, or
            no variant of a format may be its default (each variant's gate or reason named).
        BusyError: another process is exporting to (or checking) ``out`` (:mod:`carspotter.util.dest_lock`).
    """
    chosen = options.plan()
    out = Path(out)
    with dest_lock.hold(out, "export"):
        inputs = _prepare(run_dir, out, options, any(v.calibration for vs in chosen.values() for v in vs))
        with SessionPool(inputs.run.labels) as inputs.pool:
            _build(out, chosen, inputs, options)
    return out


def _build(out: Path, chosen: dict, inputs, options: ExportOptions) -> None:
    """Convert and write the bundle (:func:`export_bundle` with the destination locked)."""
    with atomic_folder(out) as tmp:
        built = {
            name: export_format(FORMATS[name], variants, tmp / FORMATS[name].platform, inputs, _log)
            for name, variants in chosen.items()
        }
        write_platforms(tmp, built, inputs)
        formats = {name: b.entry for name, b in built.items()}
        with step(ExportError, f"app paths of {inputs.run.dir}"):
            measured = app_path_rows.measure(tmp, formats, inputs, _log)
        for name, entry in formats.items():
            if not owns_readme(name, built):
                continue  # its host's README says it
            with open(tmp / entry.readme, "a", encoding="utf-8") as f:
                f.write(app_readmes.resize_section(FORMATS[name], measured, len(inputs.photos.names)))
        with step(ExportError, f"golden set of {inputs.run.dir}"):
            golden = golden_set.write_golden(
                tmp,
                options.golden,
                inputs.photos,
                inputs.reference,
                inputs.model,
                inputs.run.input,
                inputs.run.labels,
                formats,
                inputs.pool,
                inputs.two_output,
            )
        _log(
            f"golden set: {golden['count']} of the {len(inputs.photos.names)} test photos, {golden['bytes'] / 2**20:.1f} MiB"
            if golden
            else "no golden set (--golden 0)"
        )
        for name in formats if golden else ():
            if FORMATS[name].golden_in_package:
                shutil.copytree(tmp / "golden", tmp / FORMATS[name].platform / FORMATS[name].golden_in_package)
        write_manifest(tmp, _manifest(tmp, out, formats, golden, inputs, measured))
