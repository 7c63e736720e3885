"""One format of ``carspotter export`` (:mod:`carspotter.export.bundle`): every variant built by the format's export
module, timed, measured on the run's test photos (and the gate photos) against the Keras reference, gated; the
default chosen. ``inputs`` is export's record of the run (:class:`carspotter.export.context.ExportContext`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from carspotter.util.errors import ExportError, step
from carspotter.export import defaults
from carspotter.export.drift_record import left_out_drift
from carspotter.export.platform_write import Built
from carspotter.export.build import Build
from carspotter.model.format_spec import FormatSpec, VariantSpec
from carspotter.measure.gates import apply_gate, measure
from carspotter.contracts.manifest_entries import FormatEntry, VariantRecord
from carspotter.contracts.photoset import without_rows
from carspotter.contracts.runfolder import write_labels


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _build_variant(fmt: FormatSpec, variant: VariantSpec, target: Path, inputs) -> tuple[VariantRecord, dict]:
    """Build one variant file at ``target``, measure it and apply its gate.

    Raises:
        ExportError: the conversion or the measurement failed (one line naming format, variant and step).
    """
    state = {"step": "conversion"}
    calibrated = variant.calibration and inputs.representative is not None
    representative = inputs.representative[: variant.calibration_limit] if calibrated else None  # None limit: all
    read_rows = (
        inputs.representative_rows[: variant.calibration_limit] if calibrated else []
    )  # its gate leaves them out
    with step(ExportError, lambda: f"{fmt.name} {variant.name} {state['step']} of {inputs.run.dir}/model.keras failed"):
        build = Build(
            inputs.model,
            inputs.run.labels,
            inputs.run.input,
            inputs.info,
            variant,
            representative,
            inputs.options.converter_options,
            inputs.conversions,
            inputs.run.dir / "model.keras",
            inputs.two_output if fmt.conversion.carries_box else None,
        )
        t0 = time.time()
        facts = fmt.conversion.convert(build, target)
        seconds = time.time() - t0
        fig, gate_fig, ms = _measure_variant(fmt, variant, target, inputs, read_rows, state)
        state["step"] = "accelerator check"
        accel = fmt.checks.accelerators(target) if fmt.checks.accelerators is not None else None
    verdict = apply_gate(variant, gate_fig or fig, inputs.options.gates)
    shipped = verdict.passed or not inputs.enforce
    record = VariantRecord(
        family=variant.family,
        precision=variant.family,
        bytes=_size(target),
        export_s=round(seconds, 2),
        figures=fig,
        gate=verdict.text,
        gate_passed=verdict.passed,
        gate_enforced=inputs.enforce,
        shipped=shipped,
        ms_per_photo=round(ms, 2) if ms is not None else None,
        accelerators=accel,
        use=variant.use,
        gate_figures=gate_fig,
        plan=facts.get("plan"),
    )
    return record, facts


def _measure_variant(fmt: FormatSpec, variant: VariantSpec, target: Path, inputs, read_rows: list, state: dict):
    """The variant's figures on the test photos, on the gate photos (without ``read_rows``, the representative photos it
    read; None without gate photos), and its ms per photo (None where its runtime is not timed); ``state["step"]``
    says which measurement runs."""
    state["step"] = "measurement on the test photos"
    session = inputs.pool.session(fmt.execution.measuring_runtime, variant, target)
    t0 = time.perf_counter()
    probs = session.infer(inputs.photos.pixels)
    ms = (time.perf_counter() - t0) * 1000 / len(probs) if session.timed else None
    fig = measure(
        inputs.reference, probs, inputs.photos.truth, inputs.run.labels, inputs.photos.names, fmt.name, variant
    )
    state["step"] = "measurement on the gate photos"
    gate_fig = None
    if inputs.gate is not None:  # every gate photo but the representative ones this variant read
        gate, keep = without_rows(inputs.gate, read_rows)
        gate_fig = measure(
            inputs.gate_reference[keep],
            session.infer(gate.pixels),
            gate.truth,
            inputs.run.labels,
            gate.names,
            fmt.name,
            variant,
        )
    return fig, gate_fig, ms


def export_format(
    fmt: FormatSpec, variants: list[VariantSpec], folder: Path, inputs, log: Callable[[str], None]
) -> Built:
    """Build, measure and gate every variant of one format into its platform folder; pick the default. The package
    and README around them are written afterwards (:mod:`carspotter.export.platform_write`).

    Raises:
        ExportError: a variant failed to build or measure, or none passed its gate.
    """
    bundle = inputs.bundle_name
    models = folder / fmt.shipping.models_dir(bundle)
    models.mkdir(parents=True, exist_ok=bool(fmt.joins))  # a joining format's folder is its host's
    records, facts_of = {}, {}
    for v in variants:
        target = models / fmt.file_name(v.name, default=False)
        log(f"{fmt.name} {v.name}: converting ...")
        records[v.name], facts_of[v.name] = _build_variant(fmt, v, target, inputs)
        r = records[v.name]
        accel = f"; {r.accelerators['summary']}" if r.accelerators else ""
        fate = (
            (
                "shipped"
                if r.gate_passed
                else "shipped: without --variants a baseline ships ungated, its gate is recorded"
            )
            if r.shipped
            else "LEFT OUT"
        )
        log(f"{fmt.name} {v.name}: {r.bytes / 2**20:.1f} MiB in {r.export_s:.1f} s; {r.gate}{accel}; {fate}")
        if not r.shipped:
            r.drift = left_out_drift(fmt, v, target, inputs, log)  # left out: its gate failed
            inputs.pool.release(target)
            shutil.rmtree(target) if target.is_dir() else target.unlink()
            for extra in facts_of[v.name].get("extra_files", ()):
                (models / extra).unlink(missing_ok=True)
    default, reason = defaults.choose_default(fmt, records)
    log(f"{fmt.name} default: {default}: {reason}")
    (models / fmt.file_name(default, default=False)).rename(models / fmt.filename)
    inputs.pool.moved(models / fmt.file_name(default, default=False), models / fmt.filename)
    for n, r in records.items():
        if r.shipped:
            r.path = fmt.bundle_path(fmt.file_name(n, default=n == default), bundle)
    write_labels(models / "labels.txt", inputs.run.labels)
    d = records[default]
    entry = FormatEntry(
        platform=fmt.platform,
        path=fmt.bundle_path(fmt.filename, bundle),
        labels=fmt.bundle_path("labels.txt", bundle),
        readme=f"{fmt.platform}/README.md",
        precision=d.precision,
        bytes=d.bytes,
        export_s=d.export_s,
        default_variant=default,
        default_reason=reason,
        variants=records,
        facts=facts_of[default],
    )
    return Built(fmt, entry, facts_of)
