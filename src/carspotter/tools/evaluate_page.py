"""``evaluate.html`` beside ``evaluate.json``: the figures of ``carspotter evaluate`` as a page people read.

A summary per column (top-1 / top-3 with their 95 % intervals, NLL, ECE, precision and coverage
at the threshold, not-a-car rate), the release conditions and the baseline comparison, then
per-class precision / recall / F1 and the confusion matrix of the worst classes for the first
column (the reference when present). Self-contained (:mod:`carspotter.util.html_page`); the
figures block holds evaluate.json itself, and every number shown carries a ``data-check`` key.
"""

from __future__ import annotations

from carspotter.measure.intervals import bracket
from carspotter.util.html_page import esc, page


def interval(f: dict | None) -> str:
    """``62.2 % [47.6 %, 74.9 %]`` of a Proportion's JSON, ``-`` when absent."""
    if not f or f.get("value") is None:
        return "-"
    return f"{f['value']:.1%} {bracket(f['low'], f['high'])}"


def _cell(key: str, name: str, text: str) -> str:
    return f"<td class='num' data-check='{esc(key)}|{name}'>{esc(text)}</td>"


def _summary(doc: dict) -> str:
    head = (
        "<tr><th>column</th><th>runs on</th><th>photos</th><th>top-1 [95 % CI]</th><th>top-3 [95 % CI]</th><th>NLL</th>"
        "<th>ECE</th><th>precision at threshold</th><th>coverage</th><th>not-a-car rate</th></tr>"
    )
    rows = []
    columns = []
    for key, col in doc["columns"].items():
        columns.append((key, col))
        if col.get("two_pass"):  # its own row, the figures of two-pass recognition
            columns.append((f"{key} two-pass", {**col["two_pass"], "target": _two_pass_note(col["two_pass"])}))
    for key, c in columns:
        rows.append(
            f"<tr><td>{esc(key)}</td><td>{esc(c['target'])}</td><td class='num'>{c['photos']}</td>"
            + _cell(key, "top1", interval(c["top1"]))
            + _cell(key, "top3", interval(c["top3"]))
            + _cell(key, "nll", f"{c['nll']:.3f}")
            + _cell(key, "ece", f"{c['ece']:.3f}")
            + _cell(key, "precision", interval(c["precision"]))
            + _cell(key, "coverage", interval(c["coverage"]))
            + _cell(key, "not_car_rate", interval(c["not_car_rate"]))
            + "</tr>"
        )
    return f"<div class='wide'><table>{head}{''.join(rows)}</table></div>"


def _two_pass_note(t: dict) -> str:
    """Where a two-pass row's answers come from: how often pass 2 ran, and the box IoU when boxes were given."""
    text = f"the localizer's box, pass 2 on {t['second_pass']['count']} photos ({t['second_pass']['share']:.0%})"
    if t.get("iou"):
        text += (
            f"; box IoU with the given boxes: mean {t['iou']['mean']:.2f}, >= 0.5 on {t['iou']['at_least_0.5']:.0%} "
            f"of {t['iou']['n']}"
        )
    return text


def _conditions(doc: dict) -> str:
    if not doc["requirements"]:
        return "<p class='note'>No release condition given (--require).</p>"
    rows = "".join(
        f"<tr><td>{esc(r['condition'])}</td><td data-check='require|{esc(r['condition'])}'>"
        f"{'<span class=ok>holds</span>' if r['passed'] else '<span class=bad>FAILS</span>'}</td>"
        f"<td>{'<br>'.join(esc(f) for f in r['failures'])}</td></tr>"
        for r in doc["requirements"]
    )
    return f"<table><tr><th>condition</th><th>verdict</th><th>what failed</th></tr>{rows}</table>"


def _baseline(doc: dict) -> str:
    if not doc["baseline"]:
        return ""
    rows = []
    for fmt, b in doc["baseline"].items():
        d = b["delta_top1"]
        rows.append(
            f"<tr><td>{esc(b['column'])}</td><td>{esc(b['bundle'])} {esc(fmt)}/{esc(b['variant'])}</td>"
            f"<td class='num' data-check='baseline|{esc(fmt)}|delta'>{d['difference']:+.1%} [{d['low']:+.1%}, "
            f"{d['high']:+.1%}]</td><td class='num'>{d['discordant']['only_a']} / {d['discordant']['only_b']}</td>"
            f"<td class='num' data-check='baseline|{esc(fmt)}|p'>{d['mcnemar_exact_p']:.3g}</td></tr>"
        )
    return (
        "<h2>Against the baseline, on the same photos</h2><table><tr><th>this bundle</th><th>baseline</th>"
        "<th>top-1 difference [95 % CI, Newcombe]</th><th>right only here / only there</th>"
        "<th>McNemar exact p</th></tr>" + "".join(rows) + "</table>"
    )


def _per_class(key: str, c: dict) -> str:
    rows = sorted(c["per_class"].items(), key=lambda kv: (kv[1]["f1"], kv[0]))
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    body = "".join(
        f"<tr><td>{esc(name)}</td>"
        + "".join(
            f"<td class='num' data-check='pc|{esc(key)}|{esc(name)}|{k}'>{fmt(v[k])}</td>"
            for k in ("precision", "recall", "f1")
        )
        + f"<td class='num'>{v['support']}</td></tr>"
        for name, v in rows
    )
    return (
        f"<h2>Per class ({esc(key)}), worst F1 first</h2><table><tr><th>class</th><th>precision</th><th>recall</th>"
        f"<th>F1</th><th>photos</th></tr>{body}</table>"
    )


def _confusion(key: str, c: dict) -> str:
    m = c["confusion"]
    if not m["classes"]:
        return f"<p>{esc(key)}: no photo misclassified.</p>"
    head = (
        "<tr><th>true \\ predicted</th>"
        + "".join(f"<th>{i + 1}</th>" for i in range(len(m["classes"])))
        + "<th>other</th></tr>"
    )
    body = "".join(
        f"<tr><td>{i + 1}. {esc(name)}</td>"
        + "".join(f"<td class='num'>{n}</td>" for n in row)
        + f"<td class='num'>{other}</td></tr>"
        for i, (name, row, other) in enumerate(zip(m["classes"], m["matrix"], m["other"]))
    )
    return (
        f"<h2>Confusion of the {len(m['classes'])} classes with the most errors ({esc(key)})</h2>"
        f"<div class='wide'><table>{head}{body}</table></div>"
    )


def render(doc: dict) -> str:
    """The whole page for evaluate.json's ``doc``."""
    verdict = (
        "<span class='ok'>every condition holds</span>"
        if doc["passed"]
        else "<span class='bad'>a condition fails</span>"
    )
    first = next(iter(doc["columns"]))
    notes = "".join(f"<li>{esc(n)}</li>" for n in doc["notes"])
    skipped = (
        (
            f"<p>{len(doc['skipped'])} photos not read: "
            + "; ".join(esc(f"{n}: {r}") for n, r in doc["skipped"][:20])
            + "</p>"
        )
        if doc["skipped"]
        else ""
    )
    body = (
        f"<h1>carspotter evaluate: {esc(doc['source'])}</h1>"
        f"<p>{doc['photos']} photos: {esc(doc['data'])}; {len(doc['labels'])} classes; {esc(doc['created'])}. "
        f"Verdict: <span data-check='verdict'>{verdict}</span>. Intervals: Wilson 95 %.</p>"
        f"{skipped}<ul>{notes}</ul>{_summary(doc)}<h2>Release conditions</h2>{_conditions(doc)}{_baseline(doc)}"
        f"{_per_class(first, doc['columns'][first])}{_confusion(first, doc['columns'][first])}"
    )
    return page(f"carspotter evaluate {doc['source']}", body, doc)
