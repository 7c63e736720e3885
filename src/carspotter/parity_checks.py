"""The parity checks of a bundle, as code: ``carspotter parity`` runs them and ``parity_tests/`` parametrizes over them.

:func:`plan` lists the checks a bundle gets from its manifest and the format registry:
the files' sha256; every format's default variant on each of its runtimes (LiteRT and
MediaPipe for TFLite, ONNX Runtime per execution provider, the MIL reference execution in
both modes and Core ML predict for Core ML); the Keras reference on a GPU; the Core ML
program's structure; Core ML predict against the MIL reference execution; and every shipped
variant re-measured against the figures and gate recorded at export. Each check returns an
:class:`Outcome`: passed, failed (with the reason) or skipped (with the reason, where this
machine lacks a GPU, macOS or a library), never silently passed.

Every check sees the same decoded photos (:class:`ParityContext`), and the reference's
probabilities on them are computed once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter import runtimes
from carspotter.errors import BundleError, CarspotterError, ComparisonError, MILExecutionError
from carspotter.formats import FORMATS, VariantSpec
from carspotter.gates import apply_gate, measure
from carspotter.hashing import sha256_file
from carspotter.manifest import Manifest, read_manifest, verify_bundle
from carspotter.mil_reference import SUPPORTED_OPS
from carspotter.parity_rule import ParityResult, compare_top3, precision_for, tolerance
from carspotter.photoset import PhotoSet, folder_photoset, split_photoset
from carspotter.runfolder import read_run


class Skip(Exception):
    """A check that cannot run on this machine; the message says why."""


class CheckFailed(Exception):
    """A check whose condition does not hold; the message says which and by how much."""


@dataclass
class Outcome:
    """What one check found.

    Attributes:
        check: the check's id.
        status: ``passed``, ``failed`` or ``skipped``.
        message: the verdict for people (the reason, for a failure or a skip).
        result: the top-3 comparison, for checks that compare probabilities.
        facts: what a structure or variant check recorded.
    """

    check: str
    status: str
    message: str = ""
    result: ParityResult | None = None
    facts: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Check:
    """One check: an id (``format/runtime``, ``variant/format/name``, ...) and the function running it."""

    id: str
    run: Callable[["ParityContext"], Outcome]

    def __str__(self) -> str:
        return self.id


class ParityContext:
    """One bundle under check: its manifest, the photos, the reference's answers on them (each made once).

    Args:
        bundle: the bundle folder.
        images: a folder of photos to check instead of the run's test split.
        limit: check at most N photos.

    Raises:
        BundleError: the bundle folder or its manifest is missing or invalid.
    """

    def __init__(self, bundle: str | Path, images: str | Path | None = None, limit: int | None = None):
        self.bundle = Path(bundle)
        self.manifest: Manifest = read_manifest(self.bundle)
        self.images, self.limit = images, limit
        self._probs: dict = {}

    @functools.cached_property
    def run(self):
        """The run the bundle came from, after checking its model is the exact file the bundle was built from.

        Raises:
            BundleError: the run folder or its model is gone, or the model changed.
        """
        run_dir = Path(self.manifest.source_run["dir"])
        path = run_dir / "model.keras"
        if not path.is_file():
            raise BundleError(f"{path}: the reference model is gone; parity needs the run folder")
        if sha256_file(path) != self.manifest.source_run["model_sha256"]:
            raise BundleError(f"{path}: changed since this bundle was exported (sha256 differs); export again")
        return read_run(run_dir)

    @functools.cached_property
    def photoset(self) -> PhotoSet:
        """The photos every check sees: ``--images`` or the run's test split, decoded once.

        Raises:
            BundleError: no photo decodes.
        """
        if self.images is not None:
            ps = folder_photoset(self.images, self.manifest.spec.size, self.limit)
        else:
            ps = split_photoset(self.run, "test", limit=self.limit)
        if len(ps.names) == 0:
            raise BundleError(f"no photo decoded from {ps.source} ({len(ps.skipped)} skipped)")
        return ps

    @functools.cached_property
    def reference_model(self):
        return runtimes.load_reference(self.run)

    @functools.cached_property
    def reference(self) -> np.ndarray:
        """``[N, C]`` reference probabilities, Keras on CPU."""
        return runtimes.keras_probs(self.reference_model, self.photoset.pixels)

    def path(self, fmt: str, variant: str | None = None) -> Path:
        """The file of ``fmt``'s default variant, or of a shipped ``variant``."""
        entry = self.manifest.formats[fmt]
        return self.bundle / (entry.variants[variant].path if variant else entry.path)

    def probs(self, fmt: str, runtime: runtimes.Runtime, variant: VariantSpec, path: Path) -> np.ndarray:
        """``[N, C]`` probabilities of ``path`` on ``runtime`` (computed once per file and runtime)."""
        key = (str(path), runtime.check, variant.mil_mode if runtime is runtimes.MIL_BY_VARIANT else None)
        if key not in self._probs:
            self._probs[key] = np.asarray(runtime.run(path, self.photoset.pixels, self.manifest.labels, variant))
        return self._probs[key]

    def compare(self, reference: np.ndarray, probs: np.ndarray, *, fmt: str, target: str, precision: str) -> ParityResult:
        tol = tolerance(precision)
        return compare_top3(reference, probs, labels=self.manifest.labels, photos=self.photoset.names, tau=tol.tau,
                            max_abs_diff_limit=tol.max_abs_diff, format=fmt, target=target, precision=precision)


def _verdict(check_id: str, result: ParityResult) -> Outcome:
    return Outcome(check_id, "passed" if result else "failed", str(result), result=result)


def _default_variant(ctx: ParityContext, fmt: str) -> VariantSpec:
    return FORMATS[fmt].variant(ctx.manifest.formats[fmt].default_variant)


def _runtime_check(fmt: str, runtime: runtimes.Runtime) -> Check:
    def run(ctx: ParityContext) -> Outcome:
        why = runtime.unavailable()
        if why:
            raise Skip(why + ("; MIL reference execution checked instead" if runtime is runtimes.COREML_PREDICT else ""))
        variant = _default_variant(ctx, fmt)
        probs = ctx.probs(fmt, runtime, variant, ctx.path(fmt))
        precision = precision_for(ctx.manifest.formats[fmt].precision, runtime.mode)
        return _verdict(runtime.check, ctx.compare(ctx.reference, probs, fmt=fmt, target=runtime.target, precision=precision))

    return Check(runtime.check, run)


def _sha256(ctx: ParityContext) -> Outcome:
    manifest = verify_bundle(ctx.bundle)
    return Outcome("sha256", "passed", f"{len(manifest.files)} files match manifest.json",
                   facts={"files": len(manifest.files), "passed": True})


def _keras_gpu(ctx: ParityContext) -> Outcome:
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        raise Skip("TensorFlow sees no GPU here (tensorflow-cpu, or no device)")
    probs = runtimes.keras_probs(ctx.reference_model, ctx.photoset.pixels, device="/GPU:0")
    return _verdict("keras/gpu", ctx.compare(ctx.reference, probs, fmt="keras", target="GPU:0", precision="fp32-gpu"))


def _coreml_structure(ctx: ParityContext) -> Outcome:
    entry = ctx.manifest.formats["coreml"]
    s = runtimes.coreml_structure(ctx.path("coreml"))
    spec = ctx.manifest.spec
    expected = {
        "model type": (s["model_type"], "mlProgram"),
        "input": (s["input"], {"name": spec.name, "kind": "imageType", "width": spec.size, "height": spec.size, "color": "RGB"}),
        "outputs": (set(s["outputs"]), {"classLabel", "classLabel_probs"}),
        "classifier outputs": ((s["predicted_feature"], s["probabilities_output"]), ("classLabel", "classLabel_probs")),
        "classifier labels (against the manifest)": (s["labels"], ctx.manifest.labels),
        "op counts (against those recorded at export)": (s["ops"], entry.facts.get("ops")),
    }
    for what, (got, want) in expected.items():
        if got != want:
            raise CheckFailed(f"Core ML {what}: {str(got)[:200]} != expected {str(want)[:200]}")
    unknown = set(s["ops"]) - SUPPORTED_OPS
    if unknown:
        raise CheckFailed(f"Core ML program uses MIL ops the reference executor does not run: {sorted(unknown)}")
    return Outcome("coreml/structure", "passed", f"{sum(s['ops'].values())} MIL ops, {len(s['labels'])} labels",
                   facts={"passed": True, "ops": s["ops"], "labels": len(s["labels"]), "spec_version": s["spec_version"]})


def _coreml_predict_vs_mil(ctx: ParityContext) -> Outcome:
    why = runtimes.coreml_predict_unavailable()
    if why:
        raise Skip(why)
    variant = _default_variant(ctx, "coreml")
    path = ctx.path("coreml")
    mil = ctx.probs("coreml", runtimes.MIL_FP16, variant, path)
    probs = ctx.probs("coreml", runtimes.COREML_PREDICT, variant, path)
    return _verdict("coreml/predict-vs-mil-reference",
                    ctx.compare(mil, probs, fmt="coreml", target="Core ML predict vs MIL reference execution", precision="fp16"))


_FIGURE_KEYS = ("photos", "top1", "top3", "reference_top1", "top1_agreement")


def _variant_check(fmt: str, name: str) -> Check:
    check_id = f"variant/{fmt}/{name}"

    def run(ctx: ParityContext) -> Outcome:
        """Re-measure a shipped variant on the run's test photos: the manifest's figures and gate must hold."""
        ps, info = ctx.photoset, ctx.manifest.variants
        if ps.truth is None or len(ps.names) != info.evaluation_photos:
            raise Skip("variant figures were measured on the run's whole test split; --images or --limit changes the photos")
        record = ctx.manifest.formats[fmt].variants[name]
        variant = FORMATS[fmt].variant(name)
        probs = ctx.probs(fmt, FORMATS[fmt].measuring_runtime, variant, ctx.path(fmt, name))
        fig = measure(ctx.reference, probs, ps.truth, ctx.manifest.labels, ps.names, fmt, variant)
        want = record.figures
        for key in _FIGURE_KEYS:
            if abs(getattr(fig, key) - getattr(want, key)) > 1e-9:
                raise CheckFailed(f"{check_id}: {key} {getattr(fig, key)} != manifest {getattr(want, key)}")
        if fig.parity != want.parity:
            raise CheckFailed(f"{check_id}: parity {fig.parity} != manifest {want.parity}")
        if not np.isclose(fig.max_abs_diff, want.max_abs_diff, rtol=1e-3, atol=1e-7):
            raise CheckFailed(f"{check_id}: max |dp| {fig.max_abs_diff:.3e} != manifest {want.max_abs_diff:.3e}")
        verdict = apply_gate(variant, fig, info.gates)
        if record.gate_enforced and not verdict.passed:
            raise CheckFailed(f"{check_id}: shipped but now fails its gate: {verdict}")
        return Outcome(check_id, "passed", verdict.text,
                       facts={"passed": True, "gate": verdict.text, "top1_agreement": fig.top1_agreement, "top1": fig.top1,
                              "bytes": record.bytes})

    return Check(check_id, run)


def plan(manifest: Manifest) -> list[Check]:
    """Every check a bundle gets, in the order they run (see the module docstring)."""
    checks = [Check("sha256", _sha256)]
    for fmt in manifest.formats:
        checks += [_runtime_check(fmt, rt) for rt in FORMATS[fmt].runtimes]
        if fmt == "coreml":
            checks += [Check("coreml/structure", _coreml_structure),
                       Check("coreml/predict-vs-mil-reference", _coreml_predict_vs_mil)]
    checks.append(Check("keras/gpu", _keras_gpu))
    checks += [_variant_check(fmt, name) for fmt, entry in manifest.formats.items() for name in entry.shipped()]
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
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        return Outcome(check.id, "failed", f"{type(exc).__name__}: {first}")
