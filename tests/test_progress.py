"""Progress off a terminal: a line at least every N seconds with done, left and rate; a bar on a terminal."""

from __future__ import annotations

import io
import time

from carspotter.util.progress import progress


def test_off_a_terminal_logs_done_left_rate_and_a_final_line():
    out = io.StringIO()

    def slow():
        for i in range(5):
            time.sleep(0.06)
            yield i

    assert list(progress(slow(), 5, "decode photos", stream=out, every_s=0.1)) == [0, 1, 2, 3, 4]
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 4  # every ~0.1 s over 0.3 s, plus the last
    assert lines[-1].startswith("[decode photos] 5/5 photos done, 0 left, ") and lines[-1].endswith("photo/s")
    first = lines[0]
    assert first.startswith("[decode photos] ") and " left, " in first and "s to go" in first


def test_small_steps_stay_quiet_and_a_terminal_gets_a_bar():
    out = io.StringIO()
    assert list(progress(range(10), 10, "hash photos", stream=out, min_total=2000)) == list(range(10))
    assert out.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    assert list(progress(range(3), 3, "hash photos", stream=term)) == [0, 1, 2]
    assert "\rhash photos:   0%|" in term.getvalue()  # tqdm's bar, cleared when done (leave=False)
