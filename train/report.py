"""Evaluation report of a run: per-class precision, recall, F1 and support (as scikit-learn's
``classification_report``), macro F1, top-1 / top-3, the most confused class pairs, and PNG
plots (training curves, test confusion matrix). Written into the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from carspotter.metrics import topk_accuracy


def evaluate(probs: np.ndarray, truth: np.ndarray, classes: list[str], top_pairs: int = 10) -> dict:
    """Metrics of ``[N, C]`` probabilities against ``[N]`` true class indices (rates 0..1).

    Precision of a class never predicted, and recall of a class with no photo, are 0
    (scikit-learn's ``zero_division=0``).

    Returns:
        ``{"count", "top1", "top3", "macro_f1", "per_class": {name: {precision, recall, f1,
        support}}, "confused_pairs": [{"true", "predicted", "count"}], "confusion": [[int]]}``.
    """
    c = len(classes)
    pred = probs.argmax(axis=1) if len(truth) else np.zeros(0, dtype=np.int64)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (truth, pred), 1)
    tp = np.diag(confusion).astype(float)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(c), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(c), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(c), where=(precision + recall) > 0)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(-off, axis=None, kind="stable")[:top_pairs]
    pairs = [{"true": classes[i], "predicted": classes[j], "count": int(off[i, j])}
             for i, j in zip(*np.unravel_index(order, off.shape)) if off[i, j] > 0]
    return {
        "count": int(len(truth)),
        "top1": topk_accuracy(probs, truth, 1),
        "top3": topk_accuracy(probs, truth, 3),
        "macro_f1": float(f1.mean()),
        "per_class": {name: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                             "support": int(support[k])} for k, name in enumerate(classes)},
        "confused_pairs": pairs,
        "confusion": confusion.tolist(),
    }


def write_report(folder: Path, results: dict, history: dict, classes: list[str]) -> list[str]:
    """Write ``report.json``, ``report.md``, ``curves.png`` and ``confusion_test.png`` into ``folder``.

    Args:
        results: ``{"val": evaluate(...), "test": evaluate(...)}``.
        history: ``{"head": keras history dict, "finetune": ...}``.

    Returns:
        The file names written.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Class names may hold emoji that matplotlib's bundled font lacks: drawn as boxes, not an error.
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")

    (folder / "report.json").write_text(json.dumps({"splits": results, "history": history}, indent=2, ensure_ascii=False),
                                        encoding="utf-8")
    lines = ["# Evaluation report", ""]
    for split, r in results.items():
        lines += [f"## {split}: top-1 {r['top1']:.1%}, top-3 {r['top3']:.1%}, macro F1 {r['macro_f1']:.3f} on {r['count']} photos", "",
                  "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {name.replace('|', '&#124;')} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |"
                  for name, m in r["per_class"].items()]
        lines += ["", "Most confused (true -> predicted, photos):", ""]
        lines += [f"- {p['true']} -> {p['predicted']}: {p['count']}" for p in r["confused_pairs"]] or ["- none"]
        lines.append("")
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    offset = 0
    for phase, h in history.items():
        epochs = np.arange(offset + 1, offset + 1 + len(h.get("loss", [])))
        for key, ax in (("loss", axes[0]), ("top1", axes[1])):
            if key in h:
                ax.plot(epochs, h[key], marker="o", label=f"train ({phase})")
            if f"val_{key}" in h:
                ax.plot(epochs, h[f"val_{key}"], marker="s", linestyle="--", label=f"val ({phase})")
        offset += len(h.get("loss", []))
    for ax, title in zip(axes, ("loss", "top-1 accuracy")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if ax.lines:  # a 0-epoch run has no curves
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "curves.png", dpi=100)
    plt.close(fig)

    confusion = np.array(results["test"]["confusion"])
    size = max(4, min(20, 0.35 * len(classes) + 3))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
    ax.set_yticks(range(len(classes)), classes, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("test confusion matrix")
    fig.tight_layout()
    fig.savefig(folder / "confusion_test.png", dpi=100)
    plt.close(fig)
    return ["report.json", "report.md", "curves.png", "confusion_test.png"]
