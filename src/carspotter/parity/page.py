"""``parity.html`` beside ``parity.json`` in a bundle: the verdicts as a page people read.

A summary table per photo set, format and runtime (top-1 agreement, near-ties, max |dp| against
its limit, the verdict), the app paths with their gate, the checks that failed or were skipped,
then every photo with a mismatch or a near-tie: its exact input as a thumbnail and the
reference's and the format's top-3 side by side. Self-contained (:mod:`carspotter.util.html_page`);
the figures block holds parity.json itself.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from carspotter.measure.intervals import bracket, wilson
from carspotter.util.html_page import bars, data_uri, esc, page

THUMB_PX = 160
"""Thumbnails of flagged photos: the exact input shrunk to this side."""

Thumbnail = Callable[[str, str], "np.ndarray | None"]
"""``(photo_set, photo name) -> [S, S, 3] uint8 exact input``, or None when not at hand."""


def _key(r: dict) -> str:
    return f"{r['photo_set']}|{r['format']}|{r['target']}"


def _ci(rate: float, n: int) -> str:
    """The 95 % Wilson interval of a rate measured on ``n`` photos, ``[96.0%, 100.0%]``."""
    return bracket(*wilson(round(rate * n), n))


def _summary(results: list[dict]) -> str:
    head = (
        "<tr><th>photo set</th><th>format</th><th>runtime</th><th>precision</th><th>photos</th><th>top-1 agreement</th>"
        "<th>95 % interval (Wilson)</th><th>near-ties</th><th>max |&Delta;p| (limit)</th><th>verdict</th></tr>"
    )
    rows = []
    for r in results:
        k = esc(_key(r))
        verdict = '<span class="ok">pass</span>' if r["passed"] else '<span class="bad">FAIL</span>'
        rows.append(
            f"<tr><td>{esc(r['photo_set'])}</td><td>{esc(r['format'])}</td><td>{esc(r['target'])}</td>"
            f"<td>{esc(r['precision'])}</td><td class='num'>{r['photos']}</td>"
            f"<td class='num' data-check='{k}|agreement'>{r['top1_agreement']:.2%}</td>"
            f"<td class='num' data-check='{k}|agreement_ci'>{_ci(r['top1_agreement'], r['photos'])}</td>"
            f"<td class='num' data-check='{k}|near_ties'>{r['near_ties']}</td>"
            f"<td class='num' data-check='{k}|max_abs_diff'>{r['max_abs_diff']:.2e}</td>"
            f"<td>{verdict} ({r['max_abs_diff_limit']:g})</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _app_paths(paths: list[dict]) -> str:
    if not paths:
        return ""
    head = (
        "<tr><th>photo set</th><th>app path</th><th>photos</th><th>top-1 agreement</th><th>top-3 agreement</th>"
        "<th>max |&Delta;p|</th><th>gate</th></tr>"
    )
    rows = "".join(
        f"<tr><td>{esc(a['photo_set'])}</td><td>{esc(a['path'])}</td><td class='num'>{a['photos']}</td>"
        f"<td class='num' data-check='app|{esc(a['photo_set'])}|{esc(a['path'])}|agreement'>{a['top1_agreement']:.1%}</td>"
        f"<td class='num'>{a['top3_agreement']:.1%}</td><td class='num'>{a['max_abs_diff']:.3f}</td>"
        f"<td>{'ok' if a['gate_passed'] else '<span class=warn>missed</span>'}: {esc(a['gate'])}</td></tr>"
        for a in paths
    )
    return (
        "<h2>App paths</h2><p class='note'>The photo decoded and resized as an app does it (a gate separate from the "
        f"rule above).</p><table>{head}{rows}</table>"
    )


def _flagged(results: list[dict], thumbnail: Thumbnail | None) -> str:
    out = []
    for r in results:
        if not r.get("flagged"):
            continue
        out.append(
            f"<h3>{esc(r['photo_set'])}: {esc(r['format'])} on {esc(r['target'])} ({r['precision']}): "
            f"{len(r['flagged'])} photo(s) with a mismatch or near-tie</h3>"
        )
        for f in r["flagged"]:
            pixels = thumbnail(r["photo_set"], f["photo"]) if thumbnail else None
            img = (
                f'<img src="{data_uri(pixels, "JPEG", THUMB_PX, 90)}" alt="{esc(f["photo"])}" width="{THUMB_PX}">'
                if pixels is not None
                else "<span class='note'>(photo not at hand)</span>"
            )
            cls = "bad" if f["kind"] == "mismatch" else "warn"
            key = f"{_key(r)}|{f['photo']}"
            out.append(
                f"<div class='photo'><div class='imgs'><figure>{img}<figcaption>{esc(f['photo'])}: "
                f"<span class='{cls}'>{esc(f['kind'])}</span></figcaption></figure>"
                f"<div><b>reference</b>{bars([(a, p) for a, p in f['reference']], key + '|reference')}</div>"
                f"<div><b>{esc(r['format'])}</b>{bars([(a, p) for a, p in f['format']], key + '|format')}</div>"
                f"</div></div>"
            )
    return "<h2>Photos with a mismatch or a near-tie</h2>" + ("".join(out) or "<p>None.</p>")


def _variants(variants: list[dict]) -> str:
    if not variants:
        return ""
    rows = "".join(
        f"<tr><td>{esc(v['format'])}</td><td>{esc(v['variant'])}</td><td>{'yes' if v['shipped'] else 'no'}</td>"
        f"<td class='num'>{v['mib']:.1f}</td><td class='num' data-check='variant|{esc(v['format'])}|{esc(v['variant'])}|agreement'>"
        f"{v['top1_agreement']:.2%}</td><td>{'<span class=ok>passed</span>' if v['gate_passed'] else '<span class=bad>missed</span>'}"
        f"{'' if v['gate_enforced'] else ' (recorded only)'}: {esc(v['gate'])}</td></tr>"
        for v in variants
    )
    return (
        "<h2>Variants and their gates (measured at export on the test photos)</h2><table><tr><th>format</th>"
        f"<th>variant</th><th>shipped</th><th>MiB</th><th>top-1 agreement</th><th>gate</th></tr>{rows}</table>"
    )


def render(doc: dict, bundle_name: str, thumbnail: Thumbnail | None = None, variants: list[dict] | None = None) -> str:
    """The page for a parity.json document ``doc`` of bundle ``bundle_name``.

    Args:
        doc: :meth:`carspotter.parity.report.ParityReport.to_json`.
        bundle_name: the bundle folder's name (no path of the machine goes into the page).
        thumbnail: the exact inputs of flagged photos, or None for a page without them.
        variants: every variant the manifest lists, ``{"format", "variant", "shipped", "mib",
            "top1_agreement", "gate", "gate_passed", "gate_enforced"}``, for the gate table.
    """
    verdict = '<span class="ok">PASSED</span>' if doc["passed"] else '<span class="bad">FAILED</span>'
    body = [
        f"<h1>Parity of {esc(bundle_name)}: <span data-check='verdict'>{verdict}</span></h1>",
        f"<p>{doc['photos']} photos ({esc(doc['photo_source'])}); checked {esc(doc['created'])}.</p>",
        f"<p class='note'>Rule: {esc(doc['rule'])}.</p>",
        "<h2>Formats and runtimes</h2>",
        _summary(doc["results"]),
        _variants(variants or []),
        _app_paths(doc.get("app_paths", [])),
    ]
    if doc.get("failed_checks"):
        body.append(
            "<h2>Failed checks</h2><ul>"
            + "".join(f"<li class='bad'>{esc(c['check'])}: {esc(c['reason'])}</li>" for c in doc["failed_checks"])
            + "</ul>"
        )
    if doc.get("skipped_checks"):
        body.append(
            "<h2>Skipped checks</h2><ul>"
            + "".join(f"<li>{esc(c['check'])}: {esc(c['reason'])}</li>" for c in doc["skipped_checks"])
            + "</ul>"
        )
    body.append(_flagged(doc["results"], thumbnail))
    return page(f"Parity of {bundle_name}", "\n".join(body), doc)
