"""The figures of one model on labelled photos, each proportion with its 95 % interval (:mod:`.intervals`).

:func:`column_figures` turns ``[N, C]`` probabilities and the true classes into top-1 / top-3
(Wilson intervals), per-class precision / recall / F1 with their support, the confusion matrix
of the classes with the most errors, NLL (nats) and ECE (15 equal-width bins, Guo et al. 2017)
of the probabilities as shipped (the bundle's temperature is folded into every format), the
precision and coverage of the answers shown at the bundle's threshold, and how often the
top-1 is the "(not a car)" class when the model has one.
"""

from __future__ import annotations

import numpy as np

from carspotter.measure.calibration import ece
from carspotter.measure.intervals import Proportion
from carspotter.measure.metrics import topk

WORST_CLASSES = 10
"""Classes in the confusion matrix: those with the most errors (misclassified photos of the class)."""


def per_class(pred: np.ndarray, truth: np.ndarray, labels: list[str]) -> dict:
    """``{class: {"precision", "recall", "f1", "support"}}`` for every class that occurs in ``truth`` or
    ``pred`` (precision None for a class never predicted; F1 0 when either is 0)."""
    out = {}
    for c in sorted(set(truth.tolist()) | set(pred.tolist())):
        tp = int(np.sum((pred == c) & (truth == c)))
        predicted, support = int(np.sum(pred == c)), int(np.sum(truth == c))
        precision = tp / predicted if predicted else None
        recall = tp / support if support else None
        f1 = (2 * precision * recall / (precision + recall)) if precision and recall else 0.0
        out[labels[c]] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


def confusion(pred: np.ndarray, truth: np.ndarray, labels: list[str], worst: int = WORST_CLASSES) -> dict:
    """The confusion matrix of the ``worst`` classes by errors: ``{"classes": [names], "matrix": [[count]],
    "other": [count]}``; row = true class, column = predicted class among them, ``other`` = predicted elsewhere."""
    classes = sorted(set(truth.tolist()))
    errors = {c: int(np.sum((truth == c) & (pred != c))) for c in classes}
    chosen = sorted((c for c in classes if errors[c]), key=lambda c: (-errors[c], labels[c]))[:worst]
    matrix = [[int(np.sum((truth == r) & (pred == c))) for c in chosen] for r in chosen]
    other = [int(np.sum((truth == r) & ~np.isin(pred, chosen))) for r in chosen]
    return {
        "classes": [labels[c] for c in chosen],
        "errors": [errors[c] for c in chosen],
        "matrix": matrix,
        "other": other,
    }


def column_figures(
    probs: np.ndarray,
    truth: np.ndarray,
    labels: list[str],
    threshold: float | None = None,
    negative_class: str | None = None,
) -> dict:
    """Every figure of one column (see the module docstring).

    Args:
        probs: ``[N, C]`` probabilities 0..1; truth: ``[N]`` true class indices into ``labels``.
        threshold: the bundle's "show the answer" probability (0..1), or None.
        negative_class: the "(not a car)" class name when the model has one.

    Returns:
        JSON-able dict: ``photos``, ``top1``, ``top3``, ``precision``, ``coverage``, ``not_car_rate``
        (each ``Proportion.to_json()`` or None), ``nll``, ``ece``, ``threshold``, ``per_class``, ``confusion``.
    """
    probs, truth = np.asarray(probs, np.float64), np.asarray(truth, np.int64)
    n = len(truth)
    pred = probs.argmax(axis=1)
    top = topk(probs, min(3, probs.shape[1]))
    correct = pred == truth
    p_true = probs[np.arange(n), truth]
    out = {
        "photos": n,
        "top1": Proportion.mean(correct).to_json(),
        "top3": Proportion.mean((top == truth[:, None]).any(axis=1)).to_json(),
        "nll": float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0)))),
        "ece": float(ece(probs, truth)),
        "threshold": threshold,
        "precision": None,
        "coverage": None,
        "not_car_rate": None,
        "per_class": per_class(pred, truth, labels),
        "confusion": confusion(pred, truth, labels),
    }
    if threshold is not None:
        shown = probs.max(axis=1) >= threshold
        out["coverage"] = Proportion.of(int(shown.sum()), n).to_json()
        out["precision"] = Proportion.of(int((correct & shown).sum()), int(shown.sum())).to_json()
    if negative_class is not None and negative_class in labels:
        out["not_car_rate"] = Proportion.mean(pred == labels.index(negative_class)).to_json()
    return out
