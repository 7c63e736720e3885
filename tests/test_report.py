"""The evaluation report's numbers on a hand-made confusion."""

from __future__ import annotations

import numpy as np
import pytest

from carspotter.train.report import evaluate, topk_accuracy, write_report

CLASSES = ["a", "b", "c"]


def onehot(pred, c=3):
    p = np.full((len(pred), c), 0.1)
    p[np.arange(len(pred)), pred] = 0.8
    return p


def test_per_class_precision_recall_f1_and_confused_pairs():
    truth = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 1, 1])  # class c never predicted
    r = evaluate(onehot(pred), truth, CLASSES)
    assert r["top1"] == pytest.approx(4 / 6)
    a, b, c = (r["per_class"][k] for k in CLASSES)
    assert (a["precision"], a["recall"], a["support"]) == (1.0, pytest.approx(2 / 3), 3)
    assert (b["precision"], b["recall"]) == (pytest.approx(2 / 4), 1.0)
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)
    assert a["f1"] == pytest.approx(0.8) and b["f1"] == pytest.approx(2 / 3)
    assert r["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0) / 3)
    assert r["confused_pairs"] == [
        {"true": "a", "predicted": "b", "count": 1},
        {"true": "c", "predicted": "b", "count": 1},
    ]
    assert r["confusion"] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]


def test_topk_accuracy():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert topk_accuracy(probs, np.array([1, 1]), 1) == 0.0
    assert topk_accuracy(probs, np.array([1, 1]), 2) == 1.0
    assert topk_accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int), 3) == 0.0


def test_report_files(tmp_path):
    truth = np.array([0, 1, 2, 2])
    r = evaluate(onehot(np.array([0, 1, 2, 0])), truth, CLASSES)
    history = {
        "head": {"loss": [2.0, 1.5], "val_loss": [2.1, 1.7], "top1": [0.3, 0.5], "val_top1": [0.2, 0.4]},
        "finetune": {"loss": [1.2], "val_loss": [1.4], "top1": [0.6], "val_top1": [0.5]},
    }
    names = write_report(tmp_path, {"val": r, "test": r}, history, CLASSES)
    for name in names:
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    assert "## test: top-1 75.0%, top-3 100.0% (only 3 classes: always 100%), macro F1" in md and "- c -> a: 1" in md
