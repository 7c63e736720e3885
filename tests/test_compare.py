"""The top-3 parity rule with near-ties, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.measure.parity_rule import compare_top3

LABELS = ["a", "b", "c", "d", "e"]


def run(p, q, tau=1e-3, limit=0.05):
    return compare_top3(
        np.array(p),
        np.array(q),
        labels=LABELS,
        photos=[f"p{i}.jpg" for i in range(len(p))],
        tau=tau,
        max_abs_diff_limit=limit,
        format="fmt",
        target="cpu",
        precision="fp32",
    )


def test_identical_passes_with_zero_diff():
    p = [[0.5, 0.2, 0.15, 0.1, 0.05]]
    r = run(p, p)
    assert r and r.near_ties == 0 and r.max_abs_diff == 0 and r.top1_agreement == 1.0


def test_swap_within_tau_is_a_counted_near_tie():
    p = [[0.40, 0.3995, 0.1, 0.06, 0.0405]]
    q = [[0.3995, 0.40, 0.1, 0.06, 0.0405]]
    r = run(p, q, tau=1e-3)
    assert r
    assert (r.near_ties, r.top1_near_ties) == (2, 1)  # ranks 1 and 2 both swapped
    assert r.top1_agreement == 0.0
    assert r.max_abs_diff == pytest.approx(5e-4)


def test_swap_beyond_tau_fails_naming_photo_rank_and_classes():
    p = [[0.5, 0.2, 0.15, 0.1, 0.05], [0.6, 0.1, 0.1, 0.1, 0.1]]
    q = [[0.5, 0.15, 0.2, 0.1, 0.05], [0.6, 0.1, 0.1, 0.1, 0.1]]
    r = run(p, q)
    assert not r
    assert len(r.mismatches) == 1
    text = str(r)
    assert "FAIL" in text and "p0.jpg: rank 2" in text and "'b'" in text and "'c'" in text


def test_third_place_near_tie_with_fourth_class_passes():
    p = [[0.5, 0.2, 0.1002, 0.1, 0.0998]]
    q = [[0.5, 0.2, 0.0999, 0.1003, 0.0998]]
    r = run(p, q, tau=1e-3)
    assert r and r.near_ties == 1 and r.top1_near_ties == 0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        run([[0.5, 0.5, 0, 0, 0]], [[0.5, 0.5, 0, 0]])


def test_no_photos_is_not_a_pass():
    r = compare_top3(
        np.zeros((0, 5)),
        np.zeros((0, 5)),
        labels=LABELS,
        photos=[],
        tau=1e-3,
        max_abs_diff_limit=0.05,
        format="f",
        target="t",
        precision="fp32",
    )
    assert not r and "no photos" in str(r)


def test_logits_instead_of_probabilities_keep_the_order_but_fail_the_bound():
    p = np.array([[0.5, 0.2, 0.15, 0.1, 0.05]])
    logits = np.log(p) + 3.0
    r = run(p, logits)
    assert not r.mismatches and r.near_ties == 0  # same top-3 order
    assert not r and "above the limit 0.05" in str(r)


def test_compressed_rows_judge_the_share_of_photos_that_break_the_rule():
    from carspotter.measure.parity_rule import tolerance

    good = [0.5, 0.2, 0.15, 0.1, 0.05]
    swapped = [0.5, 0.15, 0.2, 0.1, 0.05]  # ranks 2 and 3 traded, 0.05 apart: beyond tau 0.03

    def judged(breaking: int, photos: int, precision: str):
        tol = tolerance(precision)
        p = [good] * photos
        q = [swapped] * breaking + [good] * (photos - breaking)
        return compare_top3(
            np.array(p),
            np.array(q),
            labels=LABELS,
            photos=[f"p{i}.jpg" for i in range(photos)],
            tau=tol.tau,
            max_abs_diff_limit=tol.max_abs_diff,
            format="f",
            target="t",
            precision=precision,
            break_rate=tol.break_rate,
        )

    assert tolerance("int8").break_rate == tolerance("lowbit").break_rate == 0.05
    assert tolerance("fp32").break_rate == tolerance("fp16").break_rate == 0.0
    # fp16 is judged per photo: one break in 45 fails; a compressed row passes it (Wilson 95 % of 1/45: 0.4-11.6 %)
    assert not judged(1, 45, "fp16") and judged(1, 45, "lowbit")
    one = judged(1, 45, "lowbit")
    assert one.breaks() == pytest.approx((0.0039, 0.1157), abs=1e-4)
    assert "1 of 45 photos break the rule, 2.2% [0.4%, 11.6%] (Wilson 95 %): lower bound <= 5%" in str(one)
    # it fails once the photos show more than 5 % break it: 5 of 45 (lower bound 4.8 %) passes, 6 (6.2 %) fails,
    # and on 300 photos 23 (5.2 % lower) already fail: more photos, a sharper verdict
    assert judged(5, 45, "int8") and not judged(6, 45, "int8")
    assert judged(22, 300, "lowbit") and not judged(23, 300, "lowbit")
    assert "lower bound > 5%" in str(judged(6, 45, "int8"))
    # max |dp| still bounds every row
    tol = tolerance("lowbit")
    far = compare_top3(
        np.array([good]),
        np.array([[0.1, 0.2, 0.15, 0.5, 0.05]]),
        labels=LABELS,
        photos=["p.jpg"],
        tau=tol.tau,
        max_abs_diff_limit=tol.max_abs_diff,
        format="f",
        target="t",
        precision="lowbit",
        break_rate=tol.break_rate,
    )
    assert not far and far.max_abs_diff == pytest.approx(0.4)
