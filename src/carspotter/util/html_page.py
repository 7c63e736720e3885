"""Self-contained HTML pages: images inline as data: URIs, styles inline, no script from elsewhere,
no network request, opens from disk. Every page also carries its figures as JSON in
``<script type="application/json" id="figures">`` so a test (or a person) can check that the
numbers shown are the numbers recorded.
"""

from __future__ import annotations

import base64
import html
import io
import json

import numpy as np
from PIL import Image

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
.num{text-align:right;font-variant-numeric:tabular-nums}.photo{background:#fff;border:1px solid #ddd;
border-radius:8px;padding:12px;margin:16px 0}.imgs{display:flex;gap:12px;flex-wrap:wrap}.imgs figure{margin:0}
figcaption{font-size:12px;color:#555}.bar{background:#d0e2ff;height:14px;display:inline-block;vertical-align:middle}
.warn{color:#9a4b00}.bad{color:#b00020;font-weight:600}.ok{color:#0a7d28;font-weight:600}
.bars td{border:none;padding:1px 6px}.bars td:first-child{min-width:200px}.note{color:#555;font-size:12px}
.wide{overflow-x:auto}
"""


def esc(text) -> str:
    """HTML-escaped text."""
    return html.escape(str(text), quote=True)


def data_uri(pixels: np.ndarray | Image.Image, fmt: str = "PNG", max_side: int | None = None, quality: int = 85) -> str:
    """An image as a ``data:`` URI.

    Args:
        pixels: ``[H, W, 3]`` uint8 RGB or a Pillow image.
        fmt: ``PNG`` (exact pixels) or ``JPEG`` (photos, smaller).
        max_side: shrink (antialiased) so the longer side is at most this, pixels; None keeps the size.
        quality: JPEG quality 1..95.
    """
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(np.asarray(pixels, np.uint8))
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {"optimize": True}))
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def file_data_uri(path) -> str:
    """A PNG or JPEG file's bytes as a ``data:`` URI, unchanged."""
    from pathlib import Path

    path = Path(path)
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def figures_block(doc: dict) -> str:
    """The page's figures as an inline JSON script (``</`` escaped so it cannot end the script)."""
    text = json.dumps(doc, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="figures">{text}</script>'


def page(title: str, body: str, figures: dict) -> str:
    """A whole HTML document: ``title``, ``body`` (HTML), ``figures`` (JSON-able)."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n{figures_block(figures)}\n</body></html>\n"
    )


def bars(rows: list[tuple[str, float]], check: str | None = None, width_px: int = 180) -> str:
    """Top-K rows as a table of horizontal bars: ``(label, probability 0..1)``; with ``check``, each
    probability cell carries ``data-check="CHECK|rank"`` (rank 1-based) for the browser tests."""
    mark = (lambda r: f' data-check="{esc(check)}|{r}"') if check else (lambda r: "")
    cells = "".join(
        f'<tr><td>{esc(label)}</td><td class="num"{mark(r)}>{p:.3f}</td>'
        f'<td><span class="bar" style="width:{max(1, round(p * width_px))}px"></span></td></tr>'
        for r, (label, p) in enumerate(rows, 1)
    )
    return f'<table class="bars">{cells}</table>'
