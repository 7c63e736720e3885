"""The top-3 parity rule with near-ties, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.measure.parity_rule import compare_top3

LABELS = ["a", "b", "c", "d", "e"]


def run(p, q, tau=1e-3, limit=0.05):
    return compare_top3(np.array(p), np.array(q), labels=LABELS, photos=[f"p{i}.jpg" for i in range(len(p))],
                        tau=tau, max_abs_diff_limit=limit, format="fmt", target="cpu", precision="fp32")


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
    r = compare_top3(np.zeros((0, 5)), np.zeros((0, 5)), labels=LABELS, photos=[], tau=1e-3,
                     max_abs_diff_limit=0.05, format="f", target="t", precision="fp32")
    assert not r and "no photos" in str(r)


def test_logits_instead_of_probabilities_keep_the_order_but_fail_the_bound():
    p = np.array([[0.5, 0.2, 0.15, 0.1, 0.05]])
    logits = np.log(p) + 3.0
    r = run(p, logits)
    assert not r.mismatches and r.near_ties == 0  # same top-3 order
    assert not r and "above the limit 0.05" in str(r)
