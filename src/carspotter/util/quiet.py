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


def import_coremltools():
    """Import coremltools without its expected import-time warnings.

    Off macOS it warns that its native runtime (``libcoremlpython``) is missing, and it
    warns about TensorFlow versions newer than it was tested with; neither is actionable
    here (conversion works; prediction is macOS-only and reported by the parity suite).
    """
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import coremltools
    finally:
        logger.setLevel(level)
    return coremltools
