"""Confidence an app can act on: temperature scaling, calibration error, selective prediction.

Pure numpy/scipy on ``[N, C]`` logits or probabilities; no model here. Sources:

- Temperature scaling: Guo, Pleiss, Sun, Weinberger, "On Calibration of Modern Neural
  Networks", ICML 2017: one scalar ``T > 0`` dividing the logits, fitted to minimise the
  validation negative log-likelihood; it never changes the argmax, so accuracy is unchanged.
- Expected calibration error (ECE): the same paper, eq. 3 (after Naeini et al., AAAI 2015):
  ``sum_b |B_b|/n * |acc(B_b) - conf(B_b)|`` over 15 equal-width confidence bins.
- Selective prediction: accept an answer when its top-1 probability reaches a threshold;
  risk-coverage curve as in Geifman & El-Yaniv, "Selective Classification for Deep Neural
  Networks", NeurIPS 2017.
- Out-of-distribution baseline: AUROC of the maximum softmax probability between in- and
  out-of-distribution inputs (Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and
  Out-of-Distribution Examples", ICLR 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ECE_BINS = 15
"""Equal-width confidence bins for ECE, as in Guo et al. 2017."""

T_BOUNDS = (0.05, 20.0)
"""Search interval of the temperature (log-scale bounded search)."""

MIN_VAL_FOR_TEMPERATURE = 20
"""Fewest validation photos to fit T: below it T = 1 is kept and the reason recorded. One
parameter fitted on 20 photos is already noisy; this is a floor, not a recommendation."""

MIN_VAL_FOR_THRESHOLD = 30
"""Fewest validation photos to choose a confidence threshold (precision of the accepted
answers is estimated from them; below this no threshold is set and the reason recorded)."""

MIN_ACCEPTED = 5
"""A threshold must keep at least this many validation answers (precision of 1 or 2 photos
says nothing)."""

MIN_NLL_GAIN = 0.01
"""T is adopted only when it lowers the *cross-validated* validation NLL by at least this
fraction (1 %); otherwise T = 1 is kept and recorded as "no gain" (label smoothing may
already calibrate). In-sample, a fitted T always lowers the NLL it was fitted on."""

CV_FOLDS = 5
"""Folds of the validation split for judging T out of sample: each fold is scored with the T
fitted on the other folds (k-fold cross-validation)."""

DEFAULT_TARGET_PRECISION = 0.9


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``[N, C]`` probabilities (float64) of ``[N, C]`` logits divided by ``temperature``."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of the true labels ``[N]`` under ``softmax(logits / T)``."""
    z = np.asarray(logits, np.float64) / temperature
    m = z.max(axis=1, keepdims=True)
    log_z = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float(np.mean(log_z - z[np.arange(len(z)), np.asarray(labels)])) if len(z) else 0.0


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error (0..1) of ``[N, C]`` probabilities against ``[N]`` labels,
    ``bins`` equal-width bins of the top-1 probability (Guo et al. 2017, eq. 3)."""
    n = len(probs)
    return (
        float(sum(r["count"] / n * abs(r["accuracy"] - r["confidence"]) for r in reliability(probs, labels, bins)))
        if n
        else 0.0
    )


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Reliability-diagram rows: per non-empty bin ``{"low", "high", "count", "accuracy",
    "confidence"}`` (rates 0..1), the same bins as :func:`ece`."""
    probs = np.asarray(probs, np.float64)
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == np.asarray(labels)
    # Bin b holds confidences in (b/B, (b+1)/B]; a confidence of exactly 0 goes to bin 0.
    which = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    return [
        {
            "low": b / bins,
            "high": (b + 1) / bins,
            "count": int((which == b).sum()),
            "accuracy": float(correct[which == b].mean()),
            "confidence": float(conf[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T in :data:`T_BOUNDS` minimising :func:`nll` (bounded Brent search on log T,
    ``scipy.optimize.minimize_scalar``); the NLL is convex in 1/T, so the minimum is unique."""
    from scipy.optimize import minimize_scalar

    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    res = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(res.x))


@dataclass
class Temperature:
    """The temperature chosen for a run.

    Attributes:
        value: T folded into the model (1.0 when not adopted).
        fitted: T minimising the validation NLL, or None when the split was too small.
        adopted: whether ``value`` is ``fitted``.
        reason: one line on why (adopted, no gain, too few photos).
        val_nll_before / val_nll_after: validation NLL at T = 1 and at ``fitted`` (nats).
        cv_gain: cross-validated relative NLL gain (:func:`cross_validated_gain`), what decides.
    """

    value: float
    fitted: float | None
    adopted: bool
    reason: str
    val_nll_before: float | None = None
    val_nll_after: float | None = None
    cv_gain: float | None = None

    def to_json(self) -> dict:
        return {
            "value": self.value,
            "fitted": self.fitted,
            "adopted": self.adopted,
            "reason": self.reason,
            "val_nll_before": self.val_nll_before,
            "val_nll_after": self.val_nll_after,
            "cv_gain": self.cv_gain,
        }


def choose_temperature(val_logits: np.ndarray, val_labels: np.ndarray) -> Temperature:
    """Fit T on the validation split and adopt it when it lowers the cross-validated NLL by
    :data:`MIN_NLL_GAIN` (a T that only fits the validation photos it was fitted on is not adopted).

    Args:
        val_logits: ``[N, C]`` validation logits.
        val_labels: ``[N]`` class indices.
    """
    n = len(val_labels)
    if n < MIN_VAL_FOR_TEMPERATURE:
        return Temperature(
            1.0,
            None,
            False,
            f"validation split has {n} photos; temperature scaling needs at least "
            f"{MIN_VAL_FOR_TEMPERATURE}: T = 1 kept",
        )
    fitted = fit_temperature(val_logits, val_labels)
    before, after = nll(val_logits, val_labels), nll(val_logits, val_labels, fitted)
    gain = cross_validated_gain(val_logits, val_labels)
    how = f"fitted T = {fitted:.3f}: validation NLL {before:.3f} -> {after:.3f}, cross-validated gain {gain:.1%}"
    if not T_BOUNDS[0] * 1.01 < fitted < T_BOUNDS[1] / 1.01:  # the minimum lies beyond the search interval
        how += (
            f" (at the bound of the search interval {T_BOUNDS[0]:g}..{T_BOUNDS[1]:g}: the probabilities carry "
            "almost no information, e.g. a model at chance)"
        )
    if gain >= MIN_NLL_GAIN:
        return Temperature(fitted, fitted, True, f"{how}: adopted", before, after, gain)
    return Temperature(1.0, fitted, False, f"{how} (< {MIN_NLL_GAIN:.0%}): T = 1 kept", before, after, gain)


def cross_validated_gain(logits: np.ndarray, labels: np.ndarray, folds: int = CV_FOLDS, seed: int = 0) -> float:
    """Relative NLL gain (fraction; negative = worse) of temperature scaling out of sample: the
    photos are dealt into ``folds`` folds (seeded shuffle), each fold's NLL taken at the T fitted
    on the other folds, summed over folds and compared with the NLL at T = 1."""
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    at_one = at_fitted = 0.0
    for k in range(folds):
        held = order[k::folds]
        rest = np.setdiff1d(order, held)
        t = fit_temperature(logits[rest], labels[rest])
        at_one += nll(logits[held], labels[held]) * len(held)
        at_fitted += nll(logits[held], labels[held], t) * len(held)
    return float((at_one - at_fitted) / at_one) if at_one > 0 else 0.0


def risk_coverage(probs: np.ndarray, labels: np.ndarray) -> dict:
    """Risk-coverage curve: answers sorted by top-1 probability, highest first.

    Returns:
        ``{"threshold": [k], "coverage": [k], "precision": [k]}``, one point per distinct
        confidence: accepting every answer with top-1 probability >= threshold keeps that
        coverage (fraction 0..1 of photos) at that precision (fraction correct of those kept;
        risk = 1 - precision).
    """
    probs = np.asarray(probs, np.float64)
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == np.asarray(labels)
    order = np.argsort(-conf, kind="stable")
    conf, correct = conf[order], correct[order]
    kept = np.arange(1, len(conf) + 1)
    precision = np.cumsum(correct) / kept
    last = np.r_[conf[1:] != conf[:-1], True]  # the last photo of each run of equal confidences
    return {
        "threshold": conf[last].tolist(),
        "coverage": (kept[last] / max(1, len(conf))).tolist(),
        "precision": precision[last].tolist(),
    }


def selective_figures(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """``{"threshold", "coverage", "precision", "accepted", "count"}`` when answers with top-1
    probability >= ``threshold`` are shown (precision None when none is)."""
    probs = np.asarray(probs, np.float64)
    keep = probs.max(axis=1) >= threshold
    correct = probs.argmax(axis=1) == np.asarray(labels)
    n = int(keep.sum())
    return {
        "threshold": float(threshold),
        "coverage": float(keep.mean()) if len(keep) else 0.0,
        "precision": float(correct[keep].mean()) if n else None,
        "accepted": n,
        "count": int(len(keep)),
    }


def choose_threshold(probs: np.ndarray, labels: np.ndarray, target_precision: float) -> tuple[float | None, str]:
    """The lowest top-1 probability threshold whose accepted validation answers reach ``target_precision``
    with at least :data:`MIN_ACCEPTED` answers, and every higher threshold too (so the choice does
    not rest on one lucky prefix).

    Returns:
        ``(threshold or None, reason)``: None when the split is under :data:`MIN_VAL_FOR_THRESHOLD`
        photos or no threshold reaches the target.
    """
    n = len(labels)
    if n < MIN_VAL_FOR_THRESHOLD:
        return None, (
            f"validation split has {n} photos; a confidence threshold needs at least {MIN_VAL_FOR_THRESHOLD}: none set"
        )
    curve = risk_coverage(probs, labels)
    prec, thr = np.array(curve["precision"]), np.array(curve["threshold"])
    kept = np.round(np.array(curve["coverage"]) * n).astype(int)
    ok = (prec >= target_precision) & (kept >= MIN_ACCEPTED)
    # Points are in decreasing threshold order; the run of ok points must start where enough answers are kept.
    first = int(np.argmax(kept >= MIN_ACCEPTED)) if (kept >= MIN_ACCEPTED).any() else len(ok)
    stop = first
    while stop < len(ok) and ok[stop]:
        stop += 1
    if stop == first:
        best = float(prec[kept >= MIN_ACCEPTED].max()) if (kept >= MIN_ACCEPTED).any() else 0.0
        return None, (
            f"no threshold reaches precision {target_precision:.0%} on the validation split with at least "
            f"{MIN_ACCEPTED} answers kept (best {best:.0%}): none set"
        )
    t = float(thr[stop - 1])
    return t, f"lowest threshold keeping validation precision >= {target_precision:.0%}: {t:.3f}"


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float | None:
    """Area under the ROC curve (0..1) for telling in-distribution scores (expected higher) from
    out-of-distribution ones, ties counted half (Mann-Whitney U / (n_in * n_out)); None if either is empty."""
    a, b = np.asarray(in_scores, np.float64), np.asarray(out_scores, np.float64)
    if not len(a) or not len(b):
        return None
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[a, b])
    u = ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2
    return float(u / (len(a) * len(b)))


def check_target_precision(value: float) -> None:
    """Raise :class:`carspotter.util.errors.UsageError` unless ``0 < value < 1``."""
    from carspotter.util.errors import UsageError

    if not 0.0 < value < 1.0:
        raise UsageError(f"--target-precision {value}: must be above 0 and below 1 (e.g. 0.9 for 90 %)")
