"""``report.html`` in the run folder beside report.md: the evaluation as a page people read.

Sections: headline figures per split, the training curves and confidence plots (the PNGs of
:mod:`carspotter.train.report`, inlined), the test confusion matrix made readable at 196
classes (the classes with the most test errors, sorted by errors, as a labelled matrix, and
the most confused pairs called out), per-class precision / recall / F1 sorted by F1, and
for the worst classes a few misclassified test photos with their Grad-CAM heatmaps
(:mod:`carspotter.measure.gradcam`, for the predicted class: what pulled the model the wrong way).
Self-contained (:mod:`carspotter.util.html_page`); only photo file names appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.measure.intervals import bracket
from carspotter.util.html_page import data_uri, esc, file_data_uri, page

MATRIX_CLASSES = 20
"""The confusion matrix shows the classes with the most test errors, at most this many."""

WORST_CLASSES = 5
EXAMPLES_PER_CLASS = 3


@dataclass
class Example:
    """A misclassified test photo: name (file name only), true and predicted class, the predicted
    probability (0..1), the exact input ``[S, S, 3]`` uint8 and its heatmap ``[S, S]`` 0..1."""

    photo: str
    true: str
    predicted: str
    probability: float
    pixels: np.ndarray
    heat: np.ndarray


def worst_examples(
    model,
    store: np.ndarray,
    rows: np.ndarray,
    truth: np.ndarray,
    probs: np.ndarray,
    names: list[str],
    classes: list[str],
    per_class: dict,
) -> list[Example]:
    """Up to :data:`EXAMPLES_PER_CLASS` misclassified test photos of each of the :data:`WORST_CLASSES`
    classes with the lowest F1 (classes with test photos only), with Grad-CAM for the predicted class.

    Args:
        model: the reference.
        store: the run's decoded photos ``[M, S, S, 3]`` uint8 (RAM or the disk cache's memory map).
        rows: ``[N]`` rows of ``store`` holding the test photos; only the chosen ones are read.
        truth: ``[N]`` true classes; probs: ``[N, C]`` probabilities; names: N photo paths (only the
            file name is kept); classes: C names; per_class: the report's per-class figures.
    """
    from carspotter.measure import gradcam

    pred = probs.argmax(1)
    ranked = sorted((c for c in classes if per_class[c]["support"] > 0), key=lambda c: (per_class[c]["f1"], c))
    chosen = []
    for name in ranked[:WORST_CLASSES]:
        k = classes.index(name)
        chosen += [i for i in np.flatnonzero((truth == k) & (pred != k))[:EXAMPLES_PER_CLASS]]
    if not chosen:
        return []
    idx = np.array(chosen)
    pixels = np.stack([np.asarray(store[rows[i]]) for i in idx])
    heat = gradcam.gradcam(model, pixels, pred[idx])
    return [
        Example(Path(names[i]).name, classes[truth[i]], classes[pred[i]], float(probs[i, pred[i]]), pixels[j], heat[j])
        for j, i in enumerate(idx)
    ]


def _matrix(confusion: np.ndarray, classes: list[str]) -> str:
    errors = confusion.sum(1) - np.diag(confusion)
    order = [i for i in np.argsort(-errors, kind="stable") if errors[i] > 0][:MATRIX_CLASSES]
    if not order:
        return "<p>No test errors.</p>"
    sub = confusion[np.ix_(order, order)]
    top = max(1, sub.max())
    head = "".join(f"<th title='{esc(classes[j])}'>{n + 1}</th>" for n, j in enumerate(order))
    rows = []
    for n, i in enumerate(order):
        cells = "".join(
            f"<td class='num' style='background:rgba(30,90,200,{0.08 + 0.8 * sub[n, m] / top:.2f})'"
            f"{' data-check=' + chr(39) + 'cm|' + esc(classes[i]) + '|' + esc(classes[j]) + chr(39) if sub[n, m] else ''}>"
            f"{sub[n, m] or ''}</td>"
            for m, j in enumerate(order)
        )
        rows.append(
            f"<tr><th>{n + 1}. {esc(classes[i])} <span class='note'>({errors[i]} wrong of {confusion[i].sum()})</span>"
            f"</th>{cells}</tr>"
        )
    return (
        f"<p class='note'>The {len(order)} classes with the most test errors, most first (of {len(classes)}); rows: "
        f"true class, columns: predicted (numbered as the rows; answers of other classes are not shown here, the pairs "
        f"below list them); the diagonal is right answers.</p>"
        f"<div class='wide'><table><tr><th>true \\ predicted</th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _pairs(pairs: list[dict], confusion: np.ndarray, classes: list[str]) -> str:
    if not pairs:
        return ""
    rows = "".join(
        f"<tr><td>{esc(p['true'])}</td><td>{esc(p['predicted'])}</td>"
        f"<td class='num' data-check='pair|{esc(p['true'])}|{esc(p['predicted'])}'>{p['count']}</td>"
        f"<td class='num'>{p['count'] / max(1, confusion[classes.index(p['true'])].sum()):.0%}</td></tr>"
        for p in pairs
    )
    return (
        "<h3>Most confused pairs</h3><table><tr><th>true</th><th>predicted as</th><th>photos</th>"
        f"<th>share of the true class</th></tr>{rows}</table>"
    )


def _per_class(per_class: dict) -> str:
    rows = "".join(
        f"<tr><td>{esc(c)}</td><td class='num' data-check='pc|{esc(c)}|precision'>{v['precision']:.2f}</td>"
        f"<td class='num' data-check='pc|{esc(c)}|recall'>{v['recall']:.2f}</td>"
        f"<td class='num' data-check='pc|{esc(c)}|f1'>{v['f1']:.2f}</td><td class='num'>{v['support']}</td></tr>"
        for c, v in sorted(per_class.items(), key=lambda kv: (kv[1]["f1"], kv[0]))
    )
    return (
        "<table><tr><th>class (worst F1 first)</th><th>precision</th><th>recall</th><th>F1</th><th>test photos</th></tr>"
        f"{rows}</table>"
    )


def _examples(examples: list[Example]) -> str:
    if not examples:
        return "<p>No misclassified test photo in the worst classes.</p>"
    from carspotter.measure import gradcam

    out = []
    for e in examples:
        out.append(
            f"<div class='photo'><div class='imgs'><figure><img src='{data_uri(e.pixels, 'JPEG', quality=90)}' "
            f"alt='{esc(e.photo)}' width='224'><figcaption>{esc(e.photo)}: the input</figcaption></figure>"
            f"<figure><img src='{data_uri(gradcam.overlay(e.pixels, e.heat), 'JPEG', quality=90)}' alt='heatmap' "
            f"width='224'><figcaption>Grad-CAM for the predicted class</figcaption></figure>"
            f"<div><p>true: <b>{esc(e.true)}</b><br>predicted: <b class='bad'>{esc(e.predicted)}</b> "
            f"(p = {e.probability:.3f})</p></div></div></div>"
        )
    return "".join(out)


def _ci(r: dict) -> str:
    """The top-1 interval of a split's results, ``[47.6%, 74.9%]`` (``-`` for results made before intervals)."""
    return bracket(*r["top1_ci"]) if r.get("top1_ci") else "-"


def render(
    folder: Path, results: dict, classes: list[str], examples: list[Example], run_name: str, layer: str | None
) -> str:
    """The page. ``folder`` holds the PNGs written by :func:`carspotter.train.report.write_report`."""
    heads = "".join(
        f"<tr><td>{esc(s)}</td><td class='num' data-check='{esc(s)}|top1'>{r['top1']:.1%}</td>"
        f"<td class='num' data-check='{esc(s)}|top1_ci'>{_ci(r)}</td>"
        f"<td class='num' data-check='{esc(s)}|top3'>{r['top3']:.1%}</td>"
        f"<td class='num' data-check='{esc(s)}|macro_f1'>{r['macro_f1']:.3f}</td>"
        f"<td class='num'>{r['count']}</td></tr>"
        for s, r in results.items()
    )
    plots = "".join(
        f"<figure><img src='{file_data_uri(folder / name)}' "
        f"alt='{esc(name)}' style='max-width:100%'><figcaption>{esc(caption)}</figcaption></figure>"
        for name, caption in (
            ("curves.png", "training curves (loss and top-1 per epoch, both phases)"),
            ("reliability.png", "reliability: accuracy against confidence (test)"),
            ("risk_coverage.png", "precision of the answers shown against coverage"),
        )
        if (folder / name).is_file()
    )
    test = results["test"]
    confusion = np.array(test["confusion"])
    body = [
        f"<h1>Evaluation of run {esc(run_name)}</h1>",
        f"<table><tr><th>split</th><th>top-1</th><th>top-1 95 % interval (Wilson)</th><th>top-3</th><th>macro F1</th><th>photos</th></tr>{heads}</table>",
        f"<h2>Training and confidence</h2><div class='imgs'>{plots}</div>",
        "<h2>Test confusion matrix</h2>",
        _matrix(confusion, classes),
        _pairs(test["confused_pairs"], confusion, classes),
        "<h2>Per class (test split)</h2>",
        _per_class(test["per_class"]),
        f"<h2>Worst classes: misclassified test photos</h2><p class='note'>Up to {EXAMPLES_PER_CLASS} photos of each of "
        f"the {WORST_CLASSES} classes with the lowest F1; Grad-CAM (Selvaraju et al. 2017) on "
        f"<code>{esc(layer or '-')}</code> for the class the model chose.</p>",
        _examples(examples),
    ]
    figures = {
        "run": run_name,
        "splits": {
            s: {k: r.get(k) for k in ("top1", "top1_ci", "top3", "macro_f1", "count")} for s, r in results.items()
        },
        "per_class": test["per_class"],
        "confused_pairs": test["confused_pairs"],
        "examples": [
            {"photo": e.photo, "true": e.true, "predicted": e.predicted, "probability": round(e.probability, 6)}
            for e in examples
        ],
        "heatmap_layer": layer,
    }
    return page(f"Evaluation of run {run_name}", "\n".join(body), figures)


def write_for_run(run_dir: str | Path, data: str | Path | None = None) -> Path:
    """(Re)write ``report.html`` of an existing run: its model evaluated again on its val and test
    splits (the same photos and calibrated model as at training, so the same figures as report.json).

    Args:
        run_dir: the run folder.
        data: the run's photo folder, when it moved.

    Returns:
        The page's path.

    Raises:
        RunError: the run or its photos cannot be read. BusyError: another process writes the run.
    """
    from carspotter.util import dest_lock
    from carspotter.measure import gradcam
    from carspotter.util.atomic import atomic_write
    from carspotter.contracts.photoset import split_photoset
    from carspotter.contracts.runfolder import read_run
    from carspotter.model.runtimes import keras_probs, load_reference
    from carspotter.train import report

    run = read_run(run_dir)
    with dest_lock.hold(run.dir, "report"):
        model = load_reference(run)
        results, test = {}, None
        for split in ("val", "test"):
            ps = split_photoset(run, split, data)
            probs = keras_probs(model, ps.pixels)
            results[split] = report.evaluate(probs, ps.truth, run.labels)
            test = (ps, probs)
        ps, probs = test
        examples = worst_examples(
            model,
            ps.pixels,
            np.arange(len(ps.names)),
            ps.truth,
            probs,
            ps.names,
            run.labels,
            results["test"]["per_class"],
        )
        html = render(run.dir, results, run.labels, examples, run.dir.name, gradcam.last_conv_block(model)[1])
        return atomic_write(run.dir / "report.html", html)
