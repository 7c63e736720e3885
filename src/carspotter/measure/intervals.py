"""Intervals for the figures a release is gated on: proportions, paired differences, McNemar's test.

- :func:`wilson`: the Wilson score interval of a proportion (Wilson 1927; recommended over the
  normal approximation by Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial
  Proportion"), 95 % by default. It stays inside [0, 1] and behaves at 0 % and 100 %.
- :func:`paired_difference`: the difference of two accuracies measured on the same photos, with
  Newcombe's hybrid score interval for paired proportions (Newcombe 1998, "Improved confidence
  intervals for the difference between binomial proportions based on paired data", method 10).
- :func:`mcnemar_exact`: McNemar's test on the discordant pairs, exact (two-sided binomial with
  p = 1/2, McNemar 1947; the exact form as in Fagerland, Lydersen & Laake 2013).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95 % interval."""


def bracket(low: float, high: float) -> str:
    """An interval as every page and table shows it: ``[47.6%, 74.9%]``."""
    return f"[{low:.1%}, {high:.1%}]"


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials: ``(low, high)``, both 0..1; ``(0, 1)`` when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Proportion:
    """A proportion with its 95 % Wilson interval (all 0..1) and its count.

    Attributes:
        k: successes; n: photos (the count every figure carries); value: k / n (None when n = 0).
        low, high: the interval's bounds.
    """

    k: int
    n: int
    value: float | None
    low: float
    high: float

    @classmethod
    def of(cls, k: int, n: int) -> "Proportion":
        low, high = wilson(int(k), int(n))
        return cls(int(k), int(n), (k / n) if n else None, low, high)

    @classmethod
    def mean(cls, hits) -> "Proportion":
        """From a boolean array of per-photo outcomes."""
        hits = np.asarray(hits, dtype=bool)
        return cls.of(int(hits.sum()), hits.size)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def to_json(self) -> dict:
        return {
            "value": self.value,
            "k": self.k,
            "n": self.n,
            "low": self.low,
            "high": self.high,
            "interval": "Wilson 95 %",
        }

    def __str__(self) -> str:
        if self.value is None:
            return "- (0 photos)"
        return f"{self.value:.1%} {bracket(self.low, self.high)} (n={self.n})"


def too_small(n: int, difference: float = 0.05) -> str | None:
    """Why ``n`` photos cannot tell apart two models whose accuracies differ by ``difference`` (0..1), or None.

    The yardstick: the 95 % Wilson interval of an accuracy near 50 % (its widest) on ``n`` photos;
    when its half-width exceeds ``difference``, two such figures overlap even if the models differ by that much.
    """
    low, high = wilson(n // 2, n)
    half = (high - low) / 2
    if half > difference:
        return (
            f"{n} photos: a figure's 95 % interval is up to +/-{half:.1%} wide, too wide to tell apart two models "
            f"{difference:.0%} apart; compare them on the same photos (carspotter evaluate --baseline) or use more"
        )
    return None


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of model A minus model B on the same n photos, with Newcombe's 95 % interval and McNemar's exact p.

    Attributes:
        difference: p_A - p_B (-1..1); low, high: its interval.
        both, only_a, only_b, neither: counts of photos right for both, only A, only B, neither.
        p_value: McNemar's exact two-sided p on (only_a, only_b).
    """

    difference: float
    low: float
    high: float
    both: int
    only_a: int
    only_b: int
    neither: int
    p_value: float

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    def to_json(self) -> dict:
        return {
            "difference": self.difference,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "interval": "Newcombe 1998 (method 10), 95 %",
            "discordant": {"only_a": self.only_a, "only_b": self.only_b},
            "concordant": {"both": self.both, "neither": self.neither},
            "mcnemar_exact_p": self.p_value,
        }

    def __str__(self) -> str:
        return (
            f"{self.difference:+.1%} [{self.low:+.1%}, {self.high:+.1%}] on {self.n} photos "
            f"({self.only_a} right only for A, {self.only_b} only for B; McNemar exact p = {self.p_value:.3g})"
        )


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs (1.0 when there are none)."""
    from scipy.stats import binom

    m = b + c
    if m == 0:
        return 1.0
    return float(min(1.0, 2 * binom.cdf(min(b, c), m, 0.5)))


def paired_difference(correct_a, correct_b) -> PairedDifference:
    """Accuracy of A minus accuracy of B from per-photo booleans on the same photos (``[N]`` each).

    Raises:
        ValueError: the arrays differ in length or are empty.
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired figures need the same photos: {a.size} and {b.size} answers")
    return paired_from_counts(int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b)), int(np.sum(~a & ~b)))


def paired_from_counts(both: int, only_a: int, only_b: int, neither: int) -> PairedDifference:
    """:func:`paired_difference` from the four counts of a paired 2 x 2 table (photos right for both, only A, only B,
    neither): Newcombe's interval (method 10) and McNemar's exact p.

    Raises:
        ValueError: no photo.
    """
    n = both + only_a + only_b + neither
    if n == 0:
        raise ValueError("paired figures need at least one photo")
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson(both + only_a, n)
    l2, u2 = wilson(both + only_b, n)
    denom = math.sqrt((both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither))
    phi = (both * neither - only_a * only_b) / denom if denom else 0.0
    diff = p1 - p2
    low = diff - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = diff + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return PairedDifference(
        diff, max(-1.0, low), min(1.0, high), both, only_a, only_b, neither, mcnemar_exact(only_a, only_b)
    )
