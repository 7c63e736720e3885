"""Evaluation report of a run: per-class precision, recall, F1 and support (as scikit-learn's
``classification_report``), macro F1, top-1 / top-3, the most confused class pairs, and PNG
plots (training curves, test confusion matrix). Written into the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from carspotter.measure.intervals import bracket, too_small, wilson
from carspotter.measure.metrics import topk_accuracy


def evaluate(probs: np.ndarray, truth: np.ndarray, classes: list[str], top_pairs: int = 10) -> dict:
    """Metrics of ``[N, C]`` probabilities against ``[N]`` true class indices (rates 0..1).

    Precision of a class never predicted, and recall of a class with no photo, are 0
    (scikit-learn's ``zero_division=0``).

    Returns:
        ``{"count", "top1", "top3", "top1_ci", "top3_ci" ([low, high], Wilson 95 %), "too_small" (why the split cannot
        tell two models 5 points apart, or None), "macro_f1", "per_class": {name: {precision, recall, f1,
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
    pairs = [
        {"true": classes[i], "predicted": classes[j], "count": int(off[i, j])}
        for i, j in zip(*np.unravel_index(order, off.shape))
        if off[i, j] > 0
    ]
    n, top1, top3 = int(len(truth)), topk_accuracy(probs, truth, 1), topk_accuracy(probs, truth, 3)
    return {
        "count": n,
        "top1": top1,
        "top3": top3,
        "top1_ci": list(wilson(round(top1 * n), n)),
        "top3_ci": list(wilson(round(top3 * n), n)),
        "too_small": too_small(n),
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k, name in enumerate(classes)
        },
        "confused_pairs": pairs,
        "confusion": confusion.tolist(),
    }


def write_report(
    folder: Path, results: dict, history: dict, classes: list[str], confidence: dict | None = None
) -> list[str]:
    """Write ``report.json``, ``report.md``, ``curves.png`` and ``confusion_test.png`` into ``folder``,
    and with ``confidence`` also ``reliability.png`` and ``risk_coverage.png``
    (:func:`confidence_plots`) and a "Confidence" section in report.md.

    Args:
        results: ``{"val": evaluate(...), "test": evaluate(...)}``.
        history: ``{"head": keras history dict, "finetune": ...}``.
        confidence: run.json's ``confidence`` record (:func:`carspotter.train.calibrate.confidence`).

    Returns:
        The file names written.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Class names may hold emoji that matplotlib's bundled font lacks: drawn as boxes, not an error.
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")

    (folder / "report.json").write_text(
        json.dumps({"splits": results, "history": history, "confidence": confidence}, indent=2, ensure_ascii=False),
        encoding="utf-8",
    )
    lines = ["# Evaluation report", ""] + (confidence_lines(confidence) if confidence else [])
    for split, r in results.items():
        top3 = (
            f"top-3 {r['top3']:.1%}"
            if len(r["per_class"]) > 3
            else f"top-3 {r['top3']:.1%} (only {len(r['per_class'])} classes: always 100%)"
        )
        lo, hi = r["top1_ci"]
        lines += [
            f"## {split}: top-1 {r['top1']:.1%}, {top3}, macro F1 {r['macro_f1']:.3f} on {r['count']} photos",
            "",
            f"top-1 95 % interval (Wilson): {bracket(lo, hi)}" + (f"; {r['too_small']}" if r["too_small"] else ""),
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {name.replace('|', '&#124;')} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |"
            for name, m in r["per_class"].items()
        ]
        lines += ["", "Most confused (true -> predicted, photos):", ""]
        lines += [f"- {p['true']} -> {p['predicted']}: {p['count']}" for p in r["confused_pairs"]] or ["- none"]
        lines.append("")
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")

    _curves(folder / "curves.png", history, plt)
    _confusion(folder / "confusion_test.png", np.array(results["test"]["confusion"]), classes, plt)
    extra = confidence_plots(folder, confidence) if confidence else []
    return ["report.json", "report.md", "curves.png", "confusion_test.png"] + extra


def _curves(path: Path, history: dict, plt) -> None:
    """Loss and top-1 accuracy per epoch, train and val, phase after phase."""
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
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _confusion(path: Path, confusion: np.ndarray, classes: list[str], plt) -> None:
    """The test split's confusion matrix, true classes down, predicted across."""
    size = max(4, min(20, 0.35 * len(classes) + 3))
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=6)
    ax.set_yticks(range(len(classes)), classes, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("test confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pct(x) -> str:
    return "-" if x is None else f"{x:.1%}"


def confidence_lines(c: dict) -> list[str]:
    """report.md lines of a run's confidence record: calibration, threshold, non-car figures."""
    t, temp = c["splits"]["test"], c["temperature"]
    lines = [
        "## Confidence",
        "",
        f"Temperature: {temp['reason']}.",
        "",
        f"| test split ({t['count']} photos) | T = 1 | T = {temp['fitted'] or 1:.3f} |",
        "|---|---:|---:|",
        f"| NLL (nats) | {t['nll_before']:.3f} | {t['nll_after']:.3f} |",
        f"| ECE (15 bins) | {t['ece_before']:.3f} | {t['ece_after']:.3f} |",
        "",
        f"Threshold for {c['target_precision']:.0%} precision: {c['threshold_reason']}.",
    ]
    if c["selective"]:
        lines += ["", "| split | precision | coverage | shown / photos |", "|---|---:|---:|---:|"]
        lines += [
            f"| {s} | {_pct(f['precision'])} | {_pct(f['coverage'])} | {f['accepted']} / {f['count']} |"
            for s, f in c["selective"].items()
        ]
    n = c["not_car"]
    lines += [
        "",
        f"Not a car ({n['count']} images: scikit-image photos and synthetic ones): rejected {_pct(n['rejected'])}, "
        f"AUROC of the top-1 car probability against the test photos {n['auroc'] or 0:.3f} "
        f"(Hendrycks & Gimpel 2017), mean top-1 probability {n['mean_top1']:.3f}.",
        "",
        "| set | images | rejected | AUROC | mean top-1 |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {s} | {f['count']} | {_pct(f['rejected'])} | {f['auroc'] or 0:.3f} | {f['mean_top1']:.3f} |"
        for s, f in n["by_source"].items()
    ]
    if c.get("held_out_negatives"):
        h = c["held_out_negatives"]
        lines += ["", f"Test photos of --negatives: {h['count']}, rejected {_pct(h['rejected'])}."]
    return lines + [""]


def confidence_plots(folder: Path, c: dict) -> list[str]:
    """``reliability.png`` (test split, T = 1 and fitted T: accuracy against confidence per bin)
    and ``risk_coverage.png`` (precision of the shown answers against coverage, val and test,
    the threshold marked)."""
    import matplotlib.pyplot as plt

    t = c["splits"]["test"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, key, title in (
        (axes[0], "reliability_before", "T = 1"),
        (axes[1], "reliability_after", f"T = {c['temperature']['fitted'] or 1:.2f}"),
    ):
        rows = t[key]
        mids = [(r["low"] + r["high"]) / 2 for r in rows]
        ax.bar(mids, [r["accuracy"] for r in rows], width=1 / 15, edgecolor="k", alpha=0.7, label="accuracy")
        ax.plot([0, 1], [0, 1], "r--", label="perfect calibration")
        ece = t["ece_before" if key.endswith("before") else "ece_after"]
        ax.set_title(f"test, {title}: ECE {ece:.3f}")
        ax.set_xlabel("confidence (top-1 probability)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    fig.savefig(folder / "reliability.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 4))
    for split, curve in c["risk_coverage"].items():
        ax.plot(curve["coverage"], curve["precision"], label=split)
    if c["selective"]:
        for split, f in c["selective"].items():
            if f["precision"] is not None:
                ax.plot([f["coverage"]], [f["precision"]], "o", label=f"{split} at threshold {f['threshold']:.2f}")
    ax.axhline(c["target_precision"], color="grey", linestyle=":", label=f"target {c['target_precision']:.0%}")
    ax.set_xlabel("coverage (fraction of photos answered)")
    ax.set_ylabel("precision of the answers shown")
    ax.set_title("risk-coverage")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "risk_coverage.png", dpi=100)
    plt.close(fig)
    return ["reliability.png", "risk_coverage.png"]
