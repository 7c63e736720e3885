"""The parity checks of a bundle's files that run no photo through a format against the reference
(:mod:`carspotter.parity.checks` plans them): the files' sha256, each format's structure, the golden set's resize and
box vectors, each format's box output, and the phone-accelerator check of the default files."""

from __future__ import annotations

from carspotter.model.formats import FORMATS
from carspotter.parity.check_types import Check, CheckFailed, Outcome, Skip
from carspotter.parity.context import ParityContext


def check_sha256(ctx: ParityContext) -> Outcome:
    """Every file against the manifest's sha256 (verified when the context was made; a mismatch stops the run there)."""
    return Outcome(
        "sha256",
        "passed",
        f"{len(ctx.manifest.files)} files match manifest.json",
        facts={"files": len(ctx.manifest.files), "passed": True},
    )


def structure_check(fmt: str) -> Check:
    """The format's default file read without running it (:attr:`FormatSpec.structure`), against what the format
    expects of it (:attr:`FormatSpec.structure_expectations`)."""
    check_id = f"{fmt}/structure"

    def run(ctx: ParityContext) -> Outcome:
        spec = FORMATS[fmt]
        found = spec.checks.structure(ctx.path(fmt))
        for what, (got, want) in spec.checks.structure_expectations(
            found, ctx.manifest.formats[fmt], ctx.manifest
        ).items():
            if got != want:
                raise CheckFailed(f"{spec.title} {what}: {str(got)[:200]} != expected {str(want)[:200]}")
        return Outcome(
            check_id, "passed", found.get("summary", "as expected"), facts={"passed": True, **found.get("facts", {})}
        )

    return Check(check_id, run)


def check_resize_vectors(ctx: ParityContext) -> Outcome:
    """The golden set's resize vectors reproduced bit for bit by this machine's reference resize."""
    from carspotter.contracts import golden, resize_vectors
    from carspotter.model.spec import RESIZE

    version = ctx.manifest.preprocessing.get("resize", {}).get("version", 1)
    if version != RESIZE["version"]:
        raise CheckFailed(
            f"the bundle's packages resize with reference resize version {version}, this carspotter's is "
            f"{RESIZE['version']} (the box pre-reduction for photos of 2 x S or more); re-export the bundle"
        )
    results = resize_vectors.check_vectors(ctx.bundle / golden.FOLDER)
    bad = [r for r in results if r.differing]
    if bad:
        raise CheckFailed(
            "the reference resize here differs from the bundle's resize vectors: "
            + "; ".join(f"{r.name}: {r.differing} values, max {r.max_diff} levels" for r in bad)
        )
    return Outcome(
        "golden/resize-vectors",
        "passed",
        f"{len(results)} vectors bit-exact",
        facts={"passed": True, "vectors": len(results)},
    )


def check_box_vectors(ctx: ParityContext) -> Outcome:
    """The golden set's box vectors reproduced by this machine's two-pass box logic."""
    from carspotter.contracts import box_vectors, golden

    wrong = box_vectors.check_vectors(ctx.bundle / golden.FOLDER)
    if wrong:
        raise CheckFailed(
            f"the two-pass box logic here differs from the bundle's box vectors on {len(wrong)} rows, "
            f"first: {wrong[0]!r}"
        )
    entry = ctx.manifest.golden["box_vectors"]
    return Outcome(
        "golden/box-vectors",
        "passed",
        f"{entry['count']} box vectors agree",
        facts={"passed": True, "vectors": entry["count"]},
    )


BOX_TOLERANCE = 0.01
"""Largest |difference| of a box coordinate (0..1 of the input) between a format's ``box`` output and the reference's
on the golden inputs: 1 % of a side, 40 pixels of a 12 MP photo's width. Fixed before any format was measured with it."""


def box_check(fmt: str) -> Check:
    """The format's ``box`` output against the reference's on the golden inputs (:data:`BOX_TOLERANCE`), and the ROIs
    the two-pass box logic makes of both on a 4032 x 3024 photo."""

    def run(ctx: ParityContext) -> Outcome:
        import numpy as np

        from carspotter.model.roi import Roi
        from carspotter.model.two_pass import box_to_roi

        gold = ctx.golden
        want = np.array([p["box"] for p in gold.photos], np.float32)
        spec, entry = FORMATS[fmt], ctx.manifest.formats[fmt]
        session = ctx.session(spec.execution.measuring_runtime, spec.variant(entry.default_variant), ctx.path(fmt))
        got = session.box(gold.exact_inputs())
        if got is None:
            raise CheckFailed(
                f"the golden set has the reference's boxes but the {fmt} file has no box output; re-export"
            )
        worst = float(np.abs(got - want).max())
        whole = Roi(0, 0, 4032, 3024)
        same = sum(box_to_roi(g, whole) == box_to_roi(w, whole) for g, w in zip(got, want))
        text = (
            f"max |box difference| {worst:.2g} (tolerance {BOX_TOLERANCE}) on {len(want)} golden photos; the same "
            f"12 MP ROI on {same}/{len(want)}"
        )
        facts = {"passed": worst <= BOX_TOLERANCE, "max_abs_diff": worst, "photos": len(want), "same_roi": int(same)}
        if worst > BOX_TOLERANCE:
            raise CheckFailed(text)
        return Outcome(f"{fmt}/box", "passed", text, facts=facts)

    return Check(f"{fmt}/box", run)


def accelerator_check(fmt: str) -> Check:
    """The default file's phone-accelerator check run again here (ONNX Runtime's mobile usability check): it must
    pass the format's accelerator gate and take as many nodes per EP as export recorded."""

    def run(ctx: ParityContext) -> Outcome:
        spec, entry = FORMATS[fmt], ctx.manifest.formats[fmt]
        recorded = (entry.variants[entry.default_variant].accelerators or {}).get("summary")
        if recorded is None:
            raise Skip(f"the bundle was exported before carspotter checked {fmt} phone accelerators; export it again")
        report = spec.checks.accelerators(ctx.path(fmt))
        ok, text = spec.checks.accelerator_gate(report)
        if not ok:
            raise CheckFailed(f"{fmt} default file: {text}")
        if recorded != report["summary"]:
            raise CheckFailed(f"{fmt} default file: {report['summary']} here, {recorded} at export")
        return Outcome(f"accelerators/{fmt}", "passed", text, facts={"passed": True, **report})

    return Check(f"accelerators/{fmt}", run)
