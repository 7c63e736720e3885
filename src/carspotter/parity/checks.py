"""The parity checks of a bundle, as code: ``carspotter parity`` runs them and ``parity_tests/`` parametrizes over them.

:func:`plan` lists the checks a bundle gets from its manifest, the format registry and what
is at hand (:class:`~carspotter.parity.context.ParityContext`):

- always: the files' sha256, the Core ML program's structure, and the default ONNX file's phone-EP coverage
  (``accelerators/onnx``: ONNX Runtime's mobile usability check again, every node on NNAPI and CoreML);
  with a golden set, its resize vectors
  reproduced bit for bit by this machine's reference resize (``golden/resize-vectors``: an OpenCV that
  rounds otherwise shows here first);
- with a golden set (the bundle alone is enough): every format's default variant on each of
  its runtimes against ``expected.json`` (``golden:...``), the same on the golden JPEGs
  decoded by our decoder (``golden-jpeg:...``), and every shipped variant re-measured on the
  golden set against the figures recorded at export (``golden:variant/...``);
- with the run folder: the same runtime checks against the Keras reference run now on the
  test split or ``--images`` (ids without a prefix), the Keras reference itself on other backends and
  devices (``reference/jax-cpu``, ``reference/tensorflow-gpu``, ``reference/jax-gpu``, ...:
  :mod:`carspotter.model.backends`, each in a process of its own, against the canonical TensorFlow CPU
  one; GPU rows skip where no GPU is visible), and every shipped variant against the figures in the
  manifest (``variant/...``);
- Core ML predict against the MIL execution (macOS).

Each check returns an :class:`Outcome`: passed, failed (with the reason) or skipped (with the
reason, where this machine lacks a GPU, macOS or a library), never silently passed. The checks of the bundle's files
that run no photo (sha256, structure, vectors, box output, accelerators) are in :mod:`carspotter.parity.bundle_checks`;
:class:`Check` and :class:`Outcome` in :mod:`carspotter.parity.check_types`.
"""

from __future__ import annotations

import numpy as np

from carspotter.measure import app_paths
from carspotter.model import backends, runtimes
from carspotter.util import interrupts
from carspotter.util.errors import CarspotterError, ComparisonError, MILExecutionError, one_line
from carspotter.model.formats import FORMATS
from carspotter.model.format_spec import VariantSpec
from carspotter.measure.gates import VariantFigures, apply_gate, measure
from carspotter.parity.bundle_checks import (
    accelerator_check,
    box_check,
    check_box_vectors,
    check_resize_vectors,
    check_sha256,
    structure_check,
)
from carspotter.parity.check_types import Check, CheckFailed, Outcome, Skip
from carspotter.parity.context import GOLDEN, GOLDEN_JPEG, LIVE, ParityContext
from carspotter.measure.parity_rule import ParityResult, precision_for


def _prefix(basis: str) -> str:
    return "" if basis == LIVE else f"{basis}:"


def _verdict(check_id: str, result: ParityResult, facts: dict | None = None) -> Outcome:
    return Outcome(check_id, "passed" if result else "failed", str(result), result=result, facts=facts or {})


def _default_variant(ctx: ParityContext, fmt: str) -> VariantSpec:
    return FORMATS[fmt].variant(ctx.manifest.formats[fmt].default_variant)


def _runtime_check(basis: str, fmt: str, runtime: runtimes.Runtime) -> Check:
    check_id = _prefix(basis) + runtime.check

    def run(ctx: ParityContext) -> Outcome:
        why = runtime.unavailable()
        if why:
            raise Skip(why + (f"; {runtime.skip_note}" if runtime.skip_note else ""))
        variant = _default_variant(ctx, fmt)
        probs = ctx.probs(basis, runtime, variant, ctx.path(fmt))
        precision = precision_for(ctx.manifest.formats[fmt].precision, runtime.mode)
        return _verdict(check_id, ctx.compare(basis, probs, fmt=fmt, target=runtime.target, precision=precision))

    return Check(check_id, run)


def _decoder_check(fmt: str) -> Check:
    """Our decoder on the golden JPEGs: pixels against the exact inputs, and the format on them against expected.json."""
    check_id = f"{GOLDEN_JPEG}:{fmt}"

    def run(ctx: ParityContext) -> Outcome:
        exact, decoded = ctx.basis(GOLDEN).photos.pixels, ctx.basis(GOLDEN_JPEG).photos.pixels
        diff = np.abs(exact.astype(np.int16) - decoded.astype(np.int16))
        facts = {
            "pixel_drift_mean": float(diff.mean()),
            "pixel_drift_max": int(diff.max()),
            "identical_photos": int(sum(not d.any() for d in diff)),
        }
        spec = FORMATS[fmt]
        probs = ctx.probs(GOLDEN_JPEG, spec.execution.measuring_runtime, _default_variant(ctx, fmt), ctx.path(fmt))
        precision = precision_for(ctx.manifest.formats[fmt].precision, spec.execution.measuring_runtime.mode)
        target = f"{spec.execution.measuring_runtime.target}, JPEG decoded"
        return _verdict(check_id, ctx.compare(GOLDEN_JPEG, probs, fmt=fmt, target=target, precision=precision), facts)

    return Check(check_id, run)


def _reference_check(backend: backends.ReferenceBackend) -> Check:
    """The run's Keras reference on another backend, device or matmul precision (:mod:`carspotter.model.backends`)
    against the canonical one (TensorFlow, CPU), on the live photos, by the top-3 rule at its tolerance row."""
    check_id = f"reference/{backend.name}"

    def run(ctx: ParityContext) -> Outcome:
        try:
            probs, facts = backends.run(backend, ctx.run.dir / "model.keras", ctx.basis(LIVE).photos.pixels)
        except backends.BackendUnavailable as exc:
            raise Skip(str(exc)) from None
        versions = ", ".join(f"{k} {facts[k]}" for k in ("keras", "jax", "jaxlib", "tensorflow") if k in facts)
        target = f"{facts['backend']} on {facts['device']} ({facts['device_name']}), matmul {facts['matmul_precision']}"
        result = ctx.compare(LIVE, probs, fmt="keras", target=target, precision=backend.tolerance_row)
        return _verdict(
            check_id,
            result,
            facts={
                **facts,
                "versions": versions,
                "tolerance_row": backend.tolerance_row,
                "against": f"{backends.CANONICAL.name} (canonical, this process)",
            },
        )

    return Check(check_id, run)


def _cross_check(basis: str, fmt: str, cross) -> Check:
    """Two runtimes of one format against each other on a photo set (:class:`carspotter.model.format_spec.CrossCheck`)."""
    check_id = f"{_prefix(basis)}{fmt}/{cross.id}"

    def run(ctx: ParityContext) -> Outcome:
        why = cross.runtime.unavailable() or cross.against.unavailable()
        if why:
            raise Skip(why)
        variant, path = _default_variant(ctx, fmt), ctx.path(fmt)
        reference = ctx.probs(basis, cross.against, variant, path)
        probs = ctx.probs(basis, cross.runtime, variant, path)
        return _verdict(
            check_id,
            ctx.compare(
                basis,
                probs,
                fmt=fmt,
                target=f"{cross.runtime.target} vs {cross.against.target}",
                precision=cross.precision,
                reference=reference,
            ),
        )

    return Check(check_id, run)


_FIGURE_KEYS = ("photos", "top1", "top3", "reference_top1", "top1_agreement")


def _same_figures(check_id: str, fig: VariantFigures, want: VariantFigures, diff_rtol: float) -> None:
    for key in _FIGURE_KEYS:
        if abs(getattr(fig, key) - getattr(want, key)) > 1e-9:
            raise CheckFailed(f"{check_id}: {key} {getattr(fig, key)} != recorded {getattr(want, key)}")
    if fig.parity != want.parity:
        raise CheckFailed(f"{check_id}: parity {fig.parity} != recorded {want.parity}")
    if not np.isclose(fig.max_abs_diff, want.max_abs_diff, rtol=diff_rtol, atol=1e-6):
        raise CheckFailed(f"{check_id}: max |dp| {fig.max_abs_diff:.3e} != recorded {want.max_abs_diff:.3e}")


def _variant_check(basis: str, fmt: str, name: str) -> Check:
    check_id = f"{_prefix(basis)}variant/{fmt}/{name}"

    def run(ctx: ParityContext) -> Outcome:
        """Re-measure a shipped variant: the figures recorded at export (manifest or expected.json) and its gate must hold."""
        b = ctx.basis(basis)
        record, variant = ctx.manifest.formats[fmt].variants[name], FORMATS[fmt].variant(name)
        if basis == LIVE and (b.photos.truth is None or len(b.photos.names) != ctx.manifest.variants.evaluation_photos):
            raise Skip(
                "variant figures were measured on the run's whole test split; --images or --limit changes the photos"
            )
        probs = ctx.probs(basis, FORMATS[fmt].execution.measuring_runtime, variant, ctx.path(fmt, name))
        fig = measure(b.reference, probs, b.photos.truth, ctx.manifest.labels, b.photos.names, fmt, variant)
        if basis == LIVE:
            _same_figures(check_id, fig, record.figures, 1e-3)
            # the test photos measure as recorded; the gate is judged on what it judged at export (the gate photos)
            verdict = apply_gate(variant, record.judged, ctx.manifest.variants.gates)
            if record.gate_enforced and not verdict.passed:
                raise CheckFailed(f"{check_id}: shipped but now fails its gate: {verdict}")
            text = verdict.text
        else:  # golden: figures recorded when the golden set was made; kernels of another CPU may round differently
            want = ctx.golden.doc.get("variants", {}).get(f"{fmt}/{name}")
            if want is None:
                raise CheckFailed(f"{check_id}: golden/expected.json records no figures for this variant; export again")
            _same_figures(check_id, fig, VariantFigures.from_json(want), 0.05)
            if variant.family == "fp32" and not fig.parity.passed:
                raise CheckFailed(f"{check_id}: an fp32 variant fails the top-3 rule on the golden set")
            text = (
                f"top-1 agreement {fig.top1_agreement:.2%}, top-3 rule {'passes' if fig.parity.passed else 'fails'}, "
                f"max |dp| {fig.max_abs_diff:.2e}: as recorded at export"
            )
        return Outcome(
            check_id,
            "passed",
            text,
            facts={
                "passed": True,
                "gate": text,
                "top1_agreement": fig.top1_agreement,
                "top1": fig.top1,
                "bytes": record.bytes,
            },
        )

    return Check(check_id, run)


def _app_check(basis: str, name: str) -> Check:
    check_id = f"app:{basis}:{name}"

    def run(ctx: ParityContext) -> Outcome:
        """An app's own decoding and resizing of the original photo, against the reference (see :mod:`carspotter.measure.app_paths`)."""
        b = ctx.basis(basis)
        files, boxes = ctx.app_files(basis)
        try:
            fig = app_paths.measure_path(
                app_paths.PATHS[name],
                files,
                boxes,
                ctx.manifest.spec.size,
                ctx.manifest.labels,
                b.reference,
                b.photos.truth,
                b.photos.names,
                b.photos.pixels,
                ctx.upscaled(basis),
                ctx.app_models(),
            )
        except app_paths.PathUnavailable as exc:
            raise Skip(str(exc)) from None
        ok, verdict = ctx.app_gate.judge(fig, golden=basis == GOLDEN)
        status = "passed" if ok else ("failed" if ctx.enforce_app_gate else "missed")
        return Outcome(
            check_id,
            status,
            f"{name} on {basis} photos: {verdict}",
            facts={"app_path": fig.to_json(), "photo_set": basis, "gate": verdict, "gate_passed": ok},
        )

    return Check(check_id, run)


def _basis_checks(ctx: ParityContext, basis: str) -> list[Check]:
    checks = []
    for fmt in ctx.manifest.formats:
        checks += [_runtime_check(basis, fmt, rt) for rt in FORMATS[fmt].execution.runtimes]
        if basis == GOLDEN:
            checks.append(_decoder_check(fmt))
    if basis == LIVE:
        checks += [_reference_check(b) for b in ctx.references]
    checks += [
        _variant_check(basis, fmt, name) for fmt, entry in ctx.manifest.formats.items() for name in entry.shipped()
    ]
    if ctx.app_paths:
        checks += [_app_check(basis, name) for name in app_paths.PATHS]
    return checks


def plan(ctx: ParityContext) -> list[Check]:
    """Every check this bundle gets here, in the order they run (see the module docstring)."""
    checks = [Check("sha256", check_sha256)]
    checks += [structure_check(fmt) for fmt in ctx.manifest.formats if FORMATS[fmt].checks.structure is not None]
    if (ctx.manifest.golden or {}).get("resize_vectors"):
        checks.append(Check("golden/resize-vectors", check_resize_vectors))
    if (ctx.manifest.golden or {}).get("box_vectors"):
        checks.append(Check("golden/box-vectors", check_box_vectors))
    if (ctx.manifest.golden or {}).get("boxes"):
        checks += [box_check(fmt) for fmt in ctx.manifest.formats if FORMATS[fmt].conversion.carries_box]
    checks += [
        accelerator_check(fmt)
        for fmt in ctx.manifest.formats
        if FORMATS[fmt].checks.accelerator_gate is not None and FORMATS[fmt].checks.accelerators is not None
    ]
    for basis in (b for b in ctx.bases if b != GOLDEN_JPEG):
        checks += _basis_checks(ctx, basis)
    basis = LIVE if LIVE in ctx.bases else GOLDEN
    checks += [
        _cross_check(basis, fmt, cross) for fmt in ctx.manifest.formats for cross in FORMATS[fmt].checks.cross_checks
    ]
    return checks


def run_check(ctx: ParityContext, check: Check) -> Outcome:
    """Run one check; a skip or a failure becomes an :class:`Outcome` with its reason.

    A format that cannot be compared (an output of the wrong shape, labels that differ, a
    MIL op the reference executor does not know) fails its check. Errors about the bundle
    itself (:class:`BundleError`, :class:`RunError`) propagate: the whole run cannot go on.
    """
    try:
        return check.run(ctx)
    except Skip as exc:
        return Outcome(check.id, "skipped", str(exc))
    except (CheckFailed, ComparisonError, MILExecutionError) as exc:
        return Outcome(check.id, "failed", str(exc))
    except CarspotterError:
        raise
    except Exception as exc:  # a runtime's own error (LiteRT, ONNX Runtime, MediaPipe): the format fails here
        interrupts.raise_if_received()  # ... unless it is a termination signal that surfaced as another error
        return Outcome(check.id, "failed", one_line(exc, 300))


__all__ = ["Check", "CheckFailed", "Outcome", "ParityContext", "Skip", "plan", "run_check"]
