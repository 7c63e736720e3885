"""What the find-the-car benchmarks share: their docs/figures record (figures_page.py reads it), its cells' text, and
issue #37's full-frame rule.

A benchmark in this folder imports it as ``from records import ...`` (Python puts the script's folder on the path).
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from pathlib import Path

RECORDS = Path(__file__).resolve().parents[2] / "docs" / "figures"

FULL_FRAME_RULE = {"min_photos": 200, "lowest_lower_bound": -0.03}
"""Issue #37, fixed before anything was measured with it: accuracy where the car fills the frame "does not drop" when
the paired difference's 95 % lower bound is no more than 3 points below zero, on at least 200 photos the run did not
train on."""


def full_frame_holds(n: int, paired: dict) -> bool:
    """:data:`FULL_FRAME_RULE` on ``n`` photos and a paired difference (``PairedDifference.to_json()``)."""
    return n >= FULL_FRAME_RULE["min_photos"] and paired["low"] >= FULL_FRAME_RULE["lowest_lower_bound"]


def top1_figures(hits) -> dict:
    """``{"top1", "ci" (Wilson 95 %), "n"}`` of ``[N]`` booleans (a photo's top-1 right or not)."""
    from carspotter.measure.intervals import wilson

    k, n = int(hits.sum()), len(hits)
    return {"top1": k / n, "ci": list(wilson(k, n)), "n": n}


def share_text(value: float, low: float, high: float) -> str:
    """``37.2% [30.5%, 44.5%]``: a share with its interval."""
    return f"{value:.1%} [{low:.1%}, {high:.1%}]"


def paired_text(d: dict) -> str:
    """``+20.0% [+11.4%, +28.3%]``: a paired difference (``PairedDifference.to_json()``) with its interval."""
    return f"{d['difference']:+.1%} [{d['low']:+.1%}, {d['high']:+.1%}]"


def write_record(id: str, order: int, title: str, command: str, photos: int, summary: str, table: dict, notes: list):
    """Write ``docs/figures/{id}.json``, dated today, on this machine's Keras reference; returns its path."""
    record = {
        "id": id,
        "order": order,
        "title": title,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'CPU'}, Keras reference",
        "command": command,
        "photos": photos,
        "summary": summary,
        "table": table,
        "notes": notes,
    }
    path = RECORDS / f"{id}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
