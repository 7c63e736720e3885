"""Top-k of probability rows, and top-k accuracy against true labels."""

from __future__ import annotations

import numpy as np


def topk(probs: np.ndarray, k: int) -> np.ndarray:
    """``[N, k]`` class indices by decreasing probability (stable: an exact tie keeps index order).

    Args:
        probs: ``[N, C]`` probabilities (or logits; only the order matters).
    """
    return np.argsort(-np.asarray(probs), axis=1, kind="stable")[:, :k]


def topk_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose true label is among the k highest probabilities (0 for no rows).

    Args:
        probs: ``[N, C]`` probabilities (or logits; only the order matters).
        labels: ``[N]`` int class indices.
    """
    if len(labels) == 0:
        return 0.0
    return float(np.mean(np.any(topk(probs, k) == np.asarray(labels)[:, None], axis=1)))
