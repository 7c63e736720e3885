"""The HTML page of ``carspotter predict --report DIR``: per photo, the original, the exact input,
the Grad-CAM heatmap over it, the warnings and the top-K bars of every format.

Written as ``DIR/predict.html`` (self-contained, :mod:`carspotter.util.html_page`) and
``DIR/predict.json`` (the same figures), both atomically. Only photo file names appear,
never a folder of the machine that ran it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from carspotter.measure import gradcam
from carspotter.util.atomic import atomic_write
from carspotter.util.errors import OutputError
from carspotter.util.html_page import bars, data_uri, esc, page
from carspotter.tools.predict import ASPECT_WARN, DOWNSCALE_WARN, PhotoPrediction, Source

ORIGINAL_MAX_SIDE = 480
"""The original photo is shown shrunk to at most this many pixels on its long side (JPEG)."""


def figures(source: Source, predictions: list[PhotoPrediction], skipped: list, layer: str | None, k: int) -> dict:
    """What the page shows, as JSON: source kind, formats and where they ran, every photo's answers."""
    return {
        "source": {
            "kind": source.kind,
            "name": source.path.name,
            "classes": len(source.labels),
            "input_px": source.size,
            "threshold": source.threshold,
            "target_precision": source.target_precision,
        },
        "formats": [{"format": p.format, "variant": p.variant, "target": p.target} for p in source.predictors],
        "heatmap_layer": layer,
        "top_k": k,
        "warn_limits": {"aspect": ASPECT_WARN, "downscale": DOWNSCALE_WARN},
        "photos": [p.to_json() for p in predictions],
        "skipped": [{"photo": Path(path).name, "reason": reason} for path, reason in skipped],
    }


def _with_boxes(image, p: PhotoPrediction):
    """The original with the given ROI (blue) and the two-pass ROI (red) drawn on it, and the caption's words."""
    from PIL import ImageDraw

    boxes = [(p.roi, (40, 110, 255), "ROI given (blue)")] if p.roi else []
    if p.two_pass and p.two_pass["roi"]:
        boxes.append((tuple(p.two_pass["roi"]), (230, 30, 30), "two-pass box (red)"))
    if not boxes:
        return image, ""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    width = max(2, max(image.size) // 200)
    for (x0, y0, x1, y1), colour, _ in boxes:
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=width)
    return image, "; " + ", ".join(words for _, _, words in boxes)


def _photo_html(p: PhotoPrediction, heat: np.ndarray | None, keys: list[str], targets: dict[str, str]) -> str:
    from carspotter.model.photos import decode_rgb

    original, drawn = _with_boxes(decode_rgb(p.path), p)
    imgs = [
        (data_uri(original, "JPEG", ORIGINAL_MAX_SIDE), f"original, {p.size[0]} x {p.size[1]} px{drawn}"),
        (data_uri(p.pixels), f"the exact input, {p.pixels.shape[1]} x {p.pixels.shape[0]} px"),
    ]
    if heat is not None:
        imgs.append(
            (data_uri(gradcam.overlay(p.pixels, heat), "JPEG", quality=90), f"Grad-CAM for {p.top[keys[0]][0][0]}")
        )
    figs = "".join(
        f'<figure><img src="{uri}" alt="{esc(cap)}" style="max-height:320px"><figcaption>{esc(cap)}</figcaption></figure>'
        for uri, cap in imgs
    )
    verdict = (
        '<span class="ok">formats agree on the top-1</span>'
        if p.agree
        else '<span class="bad">formats disagree on the top-1</span>'
    )
    warn = "".join(f'<li class="warn">{esc(w)}</li>' for w in p.warnings)
    cols = "".join(f"<th>{esc(k)}<br><span class='note'>{esc(targets[k])}</span></th>" for k in keys)
    cells = "".join(f"<td>{bars(p.top[k], f'{p.photo}|{k}')}</td>" for k in keys)
    return (
        f'<section class="photo" data-photo="{esc(p.photo)}"><h2>{esc(p.photo)}</h2><div class="imgs">{figs}</div>'
        f'<p>{verdict}</p>{"<ul>" + warn + "</ul>" if warn else ""}<div class="wide"><table><tr>{cols}</tr><tr>{cells}</tr></table></div></section>'
    )


def _head_html(source: Source, predictions: list[PhotoPrediction], keys: list[str], targets: dict, layer) -> str:
    """The report's title and what it shows: photos, classes, formats, agreement, heatmaps, threshold, warnings."""
    agree = sum(p.agree for p in predictions)
    return (
        f"<h1>carspotter predict: {esc(source.path.name)}</h1>"
        f"<p>{len(predictions)} photos, {len(source.labels)} classes, {source.size} x {source.size} px input; "
        f"formats: {esc(', '.join(f'{k_} ({targets[k_]})' for k_ in keys))}. "
        f"Top-1 agreement between formats: <b data-check='agree'>{agree} of {len(predictions)}</b>.</p>"
        + (
            f"<p>Heatmaps: Grad-CAM (Selvaraju et al. 2017) of the reference's top-1 class on its last convolutional "
            f"block, <code>{esc(layer)}</code>; red is where raising the activation raises that class's score most.</p>"
            if layer
            else "<p>No heatmaps: the Keras reference is not available.</p>"
        )
        + (
            f"<p>Show-the-answer threshold of the run: {source.threshold:.3f}.</p>"
            if source.threshold is not None
            else ""
        )
        + (
            f"<p class='warn'>Warnings: stretched beyond {ASPECT_WARN:g}x, downscaled beyond {DOWNSCALE_WARN:g}x, "
            f"upscaled, or below the run's threshold.</p>"
        )
    )


def write_report(
    folder: str | Path,
    source: Source,
    predictions: list[PhotoPrediction],
    skipped: list,
    heatmaps: np.ndarray | None,
    layer: str | None,
    k: int,
) -> Path:
    """Write ``predict.html`` and ``predict.json`` into ``folder`` (created); returns the HTML's path.

    Args:
        folder: the report folder.
        source, predictions, skipped: from :mod:`carspotter.tools.predict`.
        heatmaps: ``[N, S, S]`` 0..1 per prediction, or None.
        layer: the layer the heatmaps come from (``inception_v3/mixed10``), or None.
        k: answers per format.

    Raises:
        OutputError: the folder cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"{folder}: cannot create the report folder ({exc.strerror}); choose another --report"
        ) from None
    doc = figures(source, predictions, skipped, layer, k)
    keys = [p.key for p in source.predictors]
    targets = {k_: p.target for k_, p in zip(keys, source.predictors)}
    head = _head_html(source, predictions, keys, targets, layer)
    body = head + "".join(
        _photo_html(p, None if heatmaps is None else heatmaps[i], keys, targets) for i, p in enumerate(predictions)
    )
    if skipped:
        body += (
            "<h2>Photos not read</h2><ul>"
            + "".join(f"<li>{esc(Path(path).name)}: {esc(reason)}</li>" for path, reason in skipped)
            + "</ul>"
        )
    html_path = atomic_write(folder / "predict.html", page(f"carspotter predict: {source.path.name}", body, doc))
    atomic_write(folder / "predict.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return html_path
