"""Measuring a variant on real photos, and the accuracy gates it must pass to be shipped.

:func:`measure` turns a variant's probabilities on the run's test photos into
:class:`VariantFigures` (accuracy against the true labels, top-1 agreement and the top-3
parity rule against the Keras reference, max |dp|); :func:`apply_gate` judges them with
:class:`Gates`. Export calls both when it builds a variant; parity calls both again to
re-measure every shipped variant.

Agreement is judged as parity judges it: a photo whose top-1 differs from the reference's
only by a near-tie (the two classes' *reference* probabilities within the family's tau,
:mod:`carspotter.measure.parity_rule`) counts as agreeing, since which of two equal classes
comes first is rounding, not the model.

**No photo decides a gate.** Each gate is a bound on an interval, not on a point estimate: the
agreement's 95 % Wilson interval must lie above the limit (its lower bound at least
``*_min_agreement``), and the accuracy drop is a paired difference (variant minus reference, the
same photos) whose 95 % Newcombe interval must lie above ``-int8_max_top1_drop``, with McNemar's
exact test stated beside it (:mod:`carspotter.measure.intervals`). One flipped photo among 300 moves
the lower bound by a fraction of a point; on 45 photos no compressed variant can pass (the bound
of a perfect 45 of 45 is 92.1 %), so export judges each variant on every photo of the run but the
representative photos that variant read (``carspotter export --gate-photos``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from carspotter.model.format_spec import VariantSpec
from carspotter.measure.metrics import topk_accuracy
from carspotter.measure.parity_rule import compare_top3, tolerance


@dataclass(frozen=True)
class Gates:
    """Accuracy gates a variant must pass to be shipped, each a bound on a 95 % interval (module docstring).

    Attributes:
        fp16_min_agreement: fp16 variants: the lower bound of the top-1 agreement with the reference (near-ties
            counted as agreeing; Wilson 95 %), 0..1.
        int8_max_top1_drop: int8 and lowbit variants: the paired top-1 difference (variant minus reference,
            Newcombe 95 %) must have its lower bound above minus this, in accuracy units (0.03 = 3.0 points: with
            about 12 discordant photos among 300 the interval is about +-2.3 points wide, so a 2-point bound would
            refuse files that lose nothing measurable).
        int8_min_agreement: int8 and lowbit variants: the lower bound of the top-1 agreement (Wilson 95 %), 0..1.
    fp32 variants must pass the parity suite's top-3 rule.
    """

    fp16_min_agreement: float = 0.97
    int8_max_top1_drop: float = 0.03
    int8_min_agreement: float = 0.90

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Gates":
        return cls(**data)


@dataclass
class ParityFigures:
    """The top-3 rule's verdict on a variant: passed, near-ties counted, photos failing, tau used."""

    passed: bool
    near_ties: int
    mismatches: int
    tau: float

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class VariantFigures:
    """A variant measured on N photos (rates 0..1, probabilities 0..1).

    Attributes:
        photos: N.
        top1, top3: the variant's accuracy against the true labels.
        reference_top1, reference_top3: the Keras reference's, on the same photos.
        top1_agreement: fraction of photos whose top-1 is the reference's.
        parity: the top-3 rule against the reference.
        max_abs_diff: max |p - q| over photos and classes.
        top1_near_ties: photos whose top-1 differs from the reference's by a near-tie only.
        paired: photos right (top-1 = true class) for ``[both, only the variant, only the reference, neither]``,
            the paired table of the accuracy difference (empty in records written before carspotter kept it).
    """

    photos: int
    top1: float
    top3: float
    reference_top1: float
    reference_top3: float
    top1_agreement: float
    parity: ParityFigures
    max_abs_diff: float
    top1_near_ties: int = 0
    paired: list = field(default_factory=list)

    @property
    def gated_agreement(self) -> float:
        """Top-1 agreement counting rank-1 near-ties as agreeing (what the gates judge), 0..1."""
        return min(1.0, self.top1_agreement + self.top1_near_ties / self.photos) if self.photos else 0.0

    def intervals(self) -> dict:
        """95 % Wilson intervals (:mod:`carspotter.measure.intervals`) of top-1, top-3, top-1 agreement and
        the gated agreement on the N photos."""
        from carspotter.measure.intervals import wilson

        n = self.photos
        keys = ("top1", "top3", "top1_agreement", "gated_agreement")
        return {k: list(wilson(round(getattr(self, k) * n), n)) for k in keys}

    def to_json(self) -> dict:
        out = asdict(self)
        out["parity"] = self.parity.to_json()
        out["gated_agreement"] = self.gated_agreement
        out["intervals"] = {**self.intervals(), "interval": "Wilson 95 %"}
        return out

    @classmethod
    def from_json(cls, data: dict) -> "VariantFigures":
        p = data["parity"]
        return cls(
            photos=int(data["photos"]),
            top1=data["top1"],
            top3=data["top3"],
            reference_top1=data.get("reference_top1", 0.0),
            reference_top3=data.get("reference_top3", 0.0),
            top1_agreement=data["top1_agreement"],
            parity=ParityFigures(
                bool(p["passed"]), int(p.get("near_ties", 0)), int(p.get("mismatches", 0)), float(p.get("tau", 0.0))
            ),
            max_abs_diff=data["max_abs_diff"],
            top1_near_ties=int(data.get("top1_near_ties", 0)),
            paired=[int(v) for v in data.get("paired", [])],
        )

    def accuracy_difference(self):
        """The paired top-1 difference, variant minus reference, with Newcombe's interval and McNemar's p
        (:class:`carspotter.measure.intervals.PairedDifference`); None for a record without its paired table."""
        from carspotter.measure.intervals import paired_from_counts

        return paired_from_counts(*self.paired) if len(self.paired) == 4 and sum(self.paired) else None


@dataclass(frozen=True)
class GateVerdict:
    """A gate's decision and the one-line reason with its margin."""

    passed: bool
    text: str

    def __str__(self) -> str:
        return self.text


def measure(
    reference: np.ndarray,
    probs: np.ndarray,
    truth: np.ndarray,
    class_names: list[str],
    photo_names: list[str],
    fmt: str,
    variant: VariantSpec,
) -> VariantFigures:
    """Figures of one variant: ``[N, C]`` reference and variant probabilities, ``[N]`` true labels.

    Raises:
        ComparisonError: the two probability arrays differ in shape.
    """
    tol = tolerance(variant.family)
    parity = compare_top3(
        reference,
        probs,
        labels=class_names,
        photos=photo_names,
        tau=tol.tau,
        max_abs_diff_limit=tol.max_abs_diff,
        format=fmt,
        target=variant.name,
        precision=variant.family,
        break_rate=tol.break_rate,
    )
    mine, theirs = probs.argmax(1) == truth, reference.argmax(1) == truth
    paired = [
        int(np.sum(mine & theirs)),
        int(np.sum(mine & ~theirs)),
        int(np.sum(~mine & theirs)),
        int(np.sum(~mine & ~theirs)),
    ]
    return VariantFigures(
        photos=int(len(truth)),
        top1=topk_accuracy(probs, truth, 1),
        top3=topk_accuracy(probs, truth, 3),
        reference_top1=topk_accuracy(reference, truth, 1),
        reference_top3=topk_accuracy(reference, truth, 3),
        top1_agreement=parity.top1_agreement,
        parity=ParityFigures(bool(parity), parity.near_ties, len(parity.mismatches), parity.tau),
        max_abs_diff=parity.max_abs_diff,
        top1_near_ties=parity.top1_near_ties,
        paired=paired,
    )


def agreement_text(fig: VariantFigures) -> str:
    """``top-1 agreement 97.8% [88.4%, 99.6%] on 45 photos (1 near-tie counted)``: the gated agreement and its interval."""
    from carspotter.measure.intervals import bracket, wilson

    n = fig.photos
    k = round(fig.gated_agreement * n)
    ties = (
        f" ({fig.top1_near_ties} near-tie{'s' if fig.top1_near_ties != 1 else ''} counted, tau {fig.parity.tau:g})"
        if fig.top1_near_ties
        else ""
    )
    return f"top-1 agreement {fig.gated_agreement:.1%} {bracket(*wilson(k, n))} on {n} photos{ties}"


def photos_needed(bound: float) -> int:
    """The fewest photos on which full agreement has a 95 % Wilson lower bound of at least ``bound`` (0..1): 125 for
    97 %, 35 for 90 %."""
    from carspotter.measure.intervals import wilson

    n = 1
    while wilson(n, n)[0] < bound - 1e-12 and n < 10**6:
        n += 1
    return n


def apply_gate(variant: VariantSpec, fig: VariantFigures, gates: Gates) -> GateVerdict:
    """The gate of the variant's precision family (module docstring): fp32 the top-3 rule; fp16 the agreement's
    lower bound; int8 and lowbit the paired accuracy difference's lower bound and the agreement's."""
    from carspotter.measure.intervals import wilson

    if variant.family == "fp32":
        ok = fig.parity.passed
        return GateVerdict(
            ok,
            "top-3 parity passes"
            if ok
            else f"top-3 parity fails ({fig.parity.mismatches} photos, max |dp| {fig.max_abs_diff:.2e})",
        )
    low = wilson(round(fig.gated_agreement * fig.photos), fig.photos)[0] if fig.photos else 0.0
    need = gates.fp16_min_agreement if variant.family == "fp16" else gates.int8_min_agreement
    ok_agree = low >= need - 1e-12
    agree = f"{agreement_text(fig)}: lower bound {low:.1%} {'>=' if ok_agree else '<'} {need:.1%}{'' if ok_agree else ': FAILED'}"
    best = wilson(fig.photos, fig.photos)[0] if fig.photos else 0.0
    if best < need - 1e-12:  # no outcome on this few photos could pass: say so instead of FAILED
        takes = f"it takes {photos_needed(need)}" if need < 1 else "no number of photos reaches a bound of 100% or more"
        agree = (
            f"{agreement_text(fig)}: too few photos to judge (even {fig.photos} of {fig.photos} agreeing gives a "
            f"lower bound of {best:.1%} < {need:.1%}; {takes})"
        )
    if variant.family == "fp16":
        return GateVerdict(ok_agree, agree)
    diff = fig.accuracy_difference()
    if diff is None:  # a record from before the paired table: the point estimate, as then
        drop = fig.reference_top1 - fig.top1
        ok_drop = drop <= gates.int8_max_top1_drop + 1e-12
        accuracy = f"top-1 drop {drop * 100:.1f} points (limit {gates.int8_max_top1_drop * 100:.1f}{'' if ok_drop else ': FAILED'})"
    else:
        ok_drop = diff.low >= -gates.int8_max_top1_drop - 1e-12
        interval = f"[{diff.low * 100:+.1f}, {diff.high * 100:+.1f}]"
        accuracy = (
            f"top-1 accuracy {fig.top1:.2%} vs reference {fig.reference_top1:.2%}: difference "
            f"{diff.difference * 100:+.1f} points {interval} (Newcombe 95 %; {diff.only_a} photos right only "
            f"with the variant, {diff.only_b} only with the reference, McNemar p = {diff.p_value:.2g}), lower "
            f"bound {'>=' if ok_drop else '<'} -{gates.int8_max_top1_drop * 100:.1f}{'' if ok_drop else ': FAILED'}"
        )
    return GateVerdict(ok_drop and ok_agree, f"{accuracy}; {agree}")
