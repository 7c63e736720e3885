"""Temperature scaling, ECE, thresholds and AUROC on numbers worked out by hand or drawn from a known model."""

import numpy as np
import pytest

from carspotter.measure import calibration as cal
from carspotter.util.errors import UsageError


def _sampled(true_t: float, n: int = 4000, c: int = 10, seed: int = 0):
    """Logits whose labels are drawn from softmax(logits / true_t): the NLL-optimal temperature is true_t."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, c))
    p = cal.softmax(logits, true_t)
    labels = np.array([rng.choice(c, p=row) for row in p])
    return logits, labels


@pytest.mark.parametrize("true_t", [0.5, 2.0])
def test_fit_temperature_recovers_the_temperature_labels_were_drawn_with(true_t):
    logits, labels = _sampled(true_t)
    t = cal.fit_temperature(logits, labels)
    assert abs(t - true_t) / true_t < 0.08
    assert cal.nll(logits, labels, t) < cal.nll(logits, labels, 1.0)


def test_ece_by_hand():
    # Two bins hit: 4 photos at confidence 0.9 (3 right) and 2 at 0.6 (both wrong).
    probs = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    labels = np.array([0, 0, 0, 1, 1, 1])
    expected = 4 / 6 * abs(0.75 - 0.9) + 2 / 6 * abs(0.0 - 0.6)
    assert cal.ece(probs, labels) == pytest.approx(expected)
    rows = cal.reliability(probs, labels)
    assert [(r["count"], r["accuracy"]) for r in rows] == [(2, 0.0), (4, 0.75)]


def test_nll_matches_log_of_softmax():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = np.array([0, 2])
    p = cal.softmax(logits, 1.5)
    assert cal.nll(logits, labels, 1.5) == pytest.approx(-np.mean(np.log(p[[0, 1], labels])))


def test_choose_temperature_small_split_and_no_gain():
    logits, labels = _sampled(1.0, n=10)
    t = cal.choose_temperature(logits, labels)
    assert (t.value, t.fitted, t.adopted) == (1.0, None, False) and "at least 20" in t.reason
    logits, labels = _sampled(1.0, n=3000, seed=3)  # already calibrated: fitted T close to 1, gain under 1 %
    t = cal.choose_temperature(logits, labels)
    assert t.value == 1.0 and not t.adopted and abs(t.fitted - 1) < 0.1 and "T = 1 kept" in t.reason
    logits, labels = _sampled(3.0, n=3000, seed=4)  # overconfident logits: T adopted
    t = cal.choose_temperature(logits, labels)
    assert t.adopted and t.value == t.fitted and t.val_nll_after < t.val_nll_before


def test_risk_coverage_and_threshold():
    # 40 photos: confidences 0.99 .. 0.60; the 10 most confident right, then alternate right/wrong.
    conf = np.linspace(0.99, 0.60, 40)
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.array([0] * 10 + [0, 1] * 15)
    curve = cal.risk_coverage(probs, labels)
    assert curve["coverage"][-1] == 1.0 and curve["precision"][-1] == pytest.approx(25 / 40)
    t, why = cal.choose_threshold(probs, labels, 0.9)
    # The first 11 answers are right (labels[10] is 0 too); precision of the first k: k = 12: 11/12 = 0.917,
    # k = 13: 12/13 = 0.923, k = 14: 12/14 = 0.857 < 0.9. So 13 answers are kept, down to conf[12].
    assert t == pytest.approx(conf[12])
    f = cal.selective_figures(probs, labels, t)
    assert f["accepted"] == 13 and f["precision"] == pytest.approx(12 / 13) and f["coverage"] == pytest.approx(13 / 40)
    assert cal.choose_threshold(probs, labels, 0.999)[0] == pytest.approx(conf[10])  # precision 1.0 up to k = 11
    none, why = cal.choose_threshold(probs[:20], labels[:20], 0.9)
    assert none is None and "at least 30" in why
    wrong = np.array([1] * 40)
    none, why = cal.choose_threshold(probs, wrong, 0.9)
    assert none is None and "no threshold reaches" in why


def test_auroc():
    assert cal.auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert cal.auroc([0.1], [0.9]) == 0.0
    assert cal.auroc([0.5, 0.5], [0.5]) == 0.5
    assert cal.auroc([], [0.1]) is None


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.5, 1.5])
def test_target_precision_outside_0_1_is_refused(bad):
    with pytest.raises(UsageError, match="--target-precision"):
        cal.check_target_precision(bad)


def test_not_car_set_is_complete_and_deterministic():
    from carspotter.measure.notcar import not_car_set

    names, sources, pixels = not_car_set(96)
    again = not_car_set(96)[2]
    assert pixels.shape == (len(names), 96, 96, 3) and pixels.dtype == np.uint8
    assert sources.count("skimage") == 17 and sources.count("synthetic") == 15
    assert np.array_equal(pixels, again)
    assert len(set(names)) == len(names)


def test_temperature_at_the_search_bound_is_said():
    from carspotter.measure.calibration import T_BOUNDS, choose_temperature

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 5, (200, 10))  # confident and unrelated to the labels: T runs to the upper bound
    labels = rng.integers(0, 10, 200)
    t = choose_temperature(logits, labels)
    assert t.fitted == pytest.approx(T_BOUNDS[1], rel=1e-3)
    assert f"at the bound of the search interval {T_BOUNDS[0]:g}..{T_BOUNDS[1]:g}" in t.reason


def test_calibration_part_is_seeded_per_class_and_apart_from_early_stopping():
    from carspotter.train.calibrate import calibration_part

    labels = np.repeat(np.arange(10), 8)  # 80 val photos, 8 per class
    stop, calib, record = calibration_part(labels, 0.5, seed=3)
    assert record["disjoint"] and len(calib) == 40 and len(stop) == 40 and not set(stop) & set(calib)
    assert np.bincount(labels[calib], minlength=10).tolist() == [4] * 10  # half of every class
    again, _, _ = calibration_part(labels, 0.5, seed=3)
    other, _, _ = calibration_part(labels, 0.5, seed=4)
    assert np.array_equal(again, stop) and not np.array_equal(other, stop)  # seeded
    small = np.repeat(np.arange(5), 6)  # 30 photos: two parts of 15, under the 20 temperature scaling needs
    stop, calib, record = calibration_part(small, 0.5, seed=0)
    assert not record["disjoint"] and len(stop) == len(calib) == 30 and "too small for two parts" in record["reason"]
    stop, calib, record = calibration_part(labels, 0.0, seed=0)
    assert not record["disjoint"] and "--calibration-fraction 0" in record["reason"]
