"""Progress of a long step: a tqdm bar on a terminal, and off a terminal (CI, nohup) a log line at
least every :data:`LOG_EVERY_S` seconds with what is done, what is left and the rate.
"""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

LOG_EVERY_S = 30.0
"""Off a terminal, seconds between two progress lines at most (one more line when the step ends)."""


def progress(
    items: Iterable[T],
    total: int,
    desc: str,
    unit: str = "photo",
    stream=None,
    every_s: float = LOG_EVERY_S,
    min_total: int = 0,
) -> Iterator[T]:
    """Yield ``items`` while showing progress on ``stream`` (default stderr).

    Args:
        items: the work, in order.
        total: how many items there are.
        desc: what is being done (``decode photos``).
        unit: what one item is, for the rate.
        stream: where to write; a terminal gets a tqdm bar, anything else log lines
            ``[desc] 1200/6114 photos done, 4914 left, 41.3 photo/s, about 119 s to go``.
        every_s: seconds between log lines off a terminal.
        min_total: no progress at all for fewer items (quick steps stay quiet).
    """
    stream = stream if stream is not None else sys.stderr
    if total < max(1, min_total):
        yield from items
        return
    if getattr(stream, "isatty", lambda: False)():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False, file=stream)
        return
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s or done == total:
            rate = done / max(now - start, 1e-9)
            left = total - done
            eta = f", about {left / rate:.0f} s to go" if left and rate > 0 else ""
            print(
                f"[{desc}] {done}/{total} {_plural(unit)} done, {left} left, {rate:.1f} {unit}/s{eta}",
                file=stream,
                flush=True,
            )
            last = now


def _plural(unit: str) -> str:
    """``photo`` -> ``photos``, ``batch`` -> ``batches``."""
    return unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")
