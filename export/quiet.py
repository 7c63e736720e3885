"""Keep converters' chatter (Keras' endpoint listings, progress bars) out of our console."""

from __future__ import annotations

import contextlib
import io
import logging


@contextlib.contextmanager
def quiet():
    """Silence Python-level stdout/stderr (progress bars) and the converters' loggers.

    Yields:
        ``io.StringIO`` holding what was printed, for error messages.
    """
    buf = io.StringIO()
    names = ("tensorflow", "tf2onnx", "coremltools", "absl")
    levels = {n: logging.getLogger(n).level for n in names}
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.ERROR)
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield buf
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)
