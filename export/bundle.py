"""``carspotter export``: run folder -> bundle folder, written atomically.

A pipeline of small steps (:data:`STEPS`) over a frozen context (:class:`carspotter.export.context.ExportContext`:
the run, its reference and photos, read once), each adding to the bundle being written (:class:`Draft`): the formats
built (their variants from the registry, :data:`carspotter.model.formats.FORMATS`: converted, timed, measured on the
run's test photos against the Keras reference and gated, one format at a time: :mod:`carspotter.export.format_build`),
the platform packages, the app paths measured, each README written once, the golden set, the manifest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from carspotter import __version__
from carspotter.contracts.manifest import Manifest, file_table, write_manifest
from carspotter.contracts.manifest_entries import FormatEntry, VariantsInfo
from carspotter.contracts.runfolder import read_run
from carspotter.export import app_path_rows, golden_set, platform_write
from carspotter.export.context import ExportContext, log, prepare
from carspotter.export.format_build import export_format
from carspotter.measure import app_paths
from carspotter.measure.gates import Gates
from carspotter.model.formats import FORMATS, baseline_overrides, parse_formats, select
from carspotter.model.format_spec import VariantSpec
from carspotter.model.session_pool import SessionPool
from carspotter.util import dest_lock
from carspotter.util.atomic import atomic_folder
from carspotter.util.errors import ExportError, UsageError, step
from carspotter.util.hashing import sha256_file


@dataclass(frozen=True)
class ExportOptions:
    """Options of ``carspotter export``.

    Attributes:
        formats: names in :data:`~carspotter.model.formats.FORMATS`, in build order (None: every registered format).
        format_options: the formats' own options by dest (:class:`~carspotter.model.format_spec.FormatOption`:
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
        missing = {
            f: FORMATS[f].conversion.unavailable() for f in formats if FORMATS[f].conversion.unavailable is not None
        }
        missing = {f: why for f, why in missing.items() if why}
        if missing and self.formats is not None:
            raise UsageError(f"--formats {next(iter(missing))}: {next(iter(missing.values()))}")
        for name, why in missing.items():  # every format was asked for: the ones this machine cannot build are said
            log(f"{name} left out: {why}")
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
        return {
            o.dest: self.format_options.get(o.dest, o.default) for f in FORMATS.values() for o in f.conversion.options
        }


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
    inputs: ExportContext,
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
    calibrate = any(v.calibration for vs in chosen.values() for v in vs)
    with dest_lock.hold(out, "export"):
        run = read_run(run_dir)
        with SessionPool(run.labels) as pool:
            ctx = prepare(run, out, options, calibrate, pool)
            with atomic_folder(out) as tmp:
                draft = Draft(tmp, out, chosen)
                for write in STEPS:
                    write(ctx, draft)
    return out


@dataclass
class Draft:
    """The bundle being written in its temporary folder ``tmp`` (renamed to ``out`` when every step is done): what
    the steps have made so far."""

    tmp: Path
    out: Path
    chosen: dict[str, list[VariantSpec]]
    built: dict = field(default_factory=dict)
    measured: list[dict] | None = None
    golden: dict | None = None

    @property
    def formats(self) -> dict[str, FormatEntry]:
        """Each built format's manifest entry."""
        return {name: b.entry for name, b in self.built.items()}


def build_formats(ctx: ExportContext, draft: Draft) -> None:
    """Convert, measure and gate every chosen variant, one format at a time (:mod:`carspotter.export.format_build`)."""
    for name, variants in draft.chosen.items():
        spec = FORMATS[name]
        draft.built[name] = export_format(spec, variants, draft.tmp / spec.platform, ctx, log)


def write_packages(ctx: ExportContext, draft: Draft) -> None:
    """The platform packages around the model files (the app paths run the npm one)."""
    platform_write.write_packages(draft.tmp, draft.built, ctx)


def measure_app_paths(ctx: ExportContext, draft: Draft) -> None:
    """Every app path on the run's test photo files, gated: the manifest's ``app_paths``, the READMEs' tables."""
    with step(ExportError, f"app paths of {ctx.run.dir}"):
        draft.measured = app_path_rows.measure(draft.tmp, draft.formats, ctx, log)


def write_readmes(ctx: ExportContext, draft: Draft) -> None:
    """Each platform folder's README, once, now that the app paths are measured."""
    platform_write.write_readmes(draft.tmp, draft.built, ctx, draft.measured)


def write_golden(ctx: ExportContext, draft: Draft) -> None:
    """The golden set (photos, exact inputs, the reference's answers), and the copies the packages' tests need."""
    with step(ExportError, f"golden set of {ctx.run.dir}"):
        draft.golden = golden_set.write_golden(
            draft.tmp,
            ctx.options.golden,
            ctx.photos,
            ctx.reference,
            ctx.model,
            ctx.run.input,
            ctx.run.labels,
            draft.formats,
            ctx.pool,
            ctx.two_output,
        )
    golden = draft.golden
    count = len(ctx.photos.names)
    log(
        f"golden set: {golden['count']} of the {count} test photos, {golden['bytes'] / 2**20:.1f} MiB"
        if golden
        else "no golden set (--golden 0)"
    )
    for name in draft.formats if golden else ():
        spec = FORMATS[name]
        if spec.shipping.golden_in_package:
            shutil.copytree(draft.tmp / "golden", draft.tmp / spec.platform / spec.shipping.golden_in_package)


def write_bundle_manifest(ctx: ExportContext, draft: Draft) -> None:
    """``manifest.json``: every file's digest, last."""
    write_manifest(draft.tmp, _manifest(draft.tmp, draft.out, draft.formats, draft.golden, ctx, draft.measured))


STEPS = (build_formats, write_packages, measure_app_paths, write_readmes, write_golden, write_bundle_manifest)
"""Export's steps, in order, each ``(context, draft) -> None``: what one step makes the next reads from the draft."""
