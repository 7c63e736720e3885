"""Intervals: Wilson against scipy's own, McNemar against the exact binomial test, Newcombe's paired interval's behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from carspotter.measure.intervals import Proportion, mcnemar_exact, paired_difference, too_small, wilson


@pytest.mark.parametrize("k, n", [(28, 45), (0, 10), (10, 10), (1, 3), (930, 1000), (29, 95)])
def test_wilson_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_the_issue_figures():
    """62.2 % on 45 test photos is about +/-14 points; 30.5 % on 95 unseen photos about +/-9."""
    p = Proportion.of(28, 45)
    assert p.value == pytest.approx(0.6222, abs=1e-4) and 0.13 < p.half_width < 0.15
    assert str(p) == "62.2% [47.6%, 74.9%] (n=45)"
    assert 0.08 < Proportion.of(29, 95).half_width < 0.10
    assert "too wide" in too_small(45) and too_small(2000) is None
    assert Proportion.of(0, 0).value is None and str(Proportion.of(0, 0)) == "- (0 photos)"


@pytest.mark.parametrize("b, c", [(0, 0), (3, 0), (5, 9), (12, 2), (40, 55)])
def test_mcnemar_exact_is_the_binomial_test_on_discordant_pairs(b, c):
    want = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-9)


def test_paired_difference():
    rng = np.random.default_rng(0)
    a = rng.random(200) < 0.7
    same = paired_difference(a, a)
    assert same.difference == 0 and same.only_a == same.only_b == 0 and same.p_value == 1.0
    assert (
        same.low <= 0 <= same.high and same.high - same.low < 0.1
    )  # identical answers: no difference, a narrow interval
    b = a.copy()
    b[np.flatnonzero(a)[:30]] = False  # B loses 30 photos A gets right
    d = paired_difference(a, b)
    assert d.difference == pytest.approx(30 / 200) and d.only_a == 30 and d.only_b == 0
    assert 0 < d.low < d.difference < d.high < 1 and d.p_value < 1e-8  # a decision: A is better
    assert paired_difference(b, a).low == pytest.approx(-d.high) and paired_difference(b, a).high == pytest.approx(
        -d.low
    )
    # the same photos correlate the answers: narrower than Newcombe's interval for independent samples (phi = 0)
    pa, pb = a.mean(), b.mean()
    (la, ua), (lb, ub) = wilson(int(a.sum()), 200), wilson(int(b.sum()), 200)
    unpaired = np.hypot(pa - la, ub - pb) + np.hypot(ua - pa, pb - lb)
    assert d.high - d.low < 0.8 * unpaired
    with pytest.raises(ValueError, match="same photos"):
        paired_difference(a, a[:10])


def test_column_figures_with_a_threshold_and_a_not_a_car_class():
    from carspotter.measure.evaluation import column_figures

    labels = ["a", "b", "(not a car)"]
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.45, 0.05]])
    truth = np.array([0, 1, 1, 2, 1])
    f = column_figures(probs, truth, labels, threshold=0.65, negative_class="(not a car)")
    assert f["top1"]["k"] == 3 and f["top1"]["n"] == 5  # photos 0, 2, 3 right
    assert (f["coverage"]["k"], f["coverage"]["n"]) == (3, 5)  # 0.9, 0.7, 0.7 shown
    assert (f["precision"]["k"], f["precision"]["n"]) == (3, 3)  # all three shown are right
    assert (f["not_car_rate"]["k"], f["not_car_rate"]["n"]) == (1, 5)
    assert f["per_class"]["b"] == {"precision": 1.0, "recall": 1 / 3, "f1": 0.5, "support": 3}
    assert f["confusion"]["classes"] == ["b"] and f["confusion"]["errors"] == [2] and f["confusion"]["matrix"] == [[1]]
    assert f["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.3, 0.7, 0.7, 0.45])))
    none = column_figures(probs, truth, labels)
    assert none["precision"] is None and none["coverage"] is None and none["not_car_rate"] is None
