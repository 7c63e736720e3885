"""Keep converters' chatter (Keras' endpoint listings, progress bars) and TensorFlow's start-up noise out of our console.

``--verbose`` (or ``CARSPOTTER_VERBOSE=1``) brings the start-up noise back.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import io
import logging
import os
import sys
import tempfile

VERBOSE_ENV = "CARSPOTTER_VERBOSE"
"""Environment variable: any value but empty or ``0`` lets TensorFlow's start-up log lines through."""


def verbose() -> bool:
    """Whether :data:`VERBOSE_ENV` asks for the libraries' own log lines."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


@contextlib.contextmanager
def native_stderr(keep: bool):
    """Send what C/C++ libraries write to file descriptor 2 during the block to a temporary file; write it
    to stderr afterwards when ``keep``. Python's own ``sys.stderr`` is flushed first and is unaffected
    when it is not fd 2 (pytest's capture)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (an embedded interpreter): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if keep:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of the ``tensorflow`` package under :func:`native_stderr`, then steps aside."""

    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.real
        with native_stderr(keep=verbose()):
            self.real.exec_module(module)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the other finders and hands back its spec with :class:`_QuietLoader`."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the package is being imported now
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_import() -> None:
    """Make the first import of TensorFlow, wherever it happens (``import keras`` included), quiet: TensorFlow
    2.21 prints absl's "All log messages before absl::InitializeLog()" warning and the oneDNN notice twice
    while it is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. Nothing is imported here, so a command
    that never needs TensorFlow does not pay for it. Unless :func:`verbose`; a no-op once TensorFlow is in."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose() else "2")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())


QUIET_LOGGERS = ("tensorflow", "absl")
"""Loggers :func:`quiet` always silences; a converter adds its own (its format package's ``LOGGERS``)."""


@contextlib.contextmanager
def quiet(*loggers: str):
    """Silence Python-level stdout/stderr (progress bars), TensorFlow's loggers and ``loggers`` (a converter's own,
    named by the format that calls it) below ERROR.

    Yields:
        ``io.StringIO`` holding what was printed, for error messages.
    """
    buf = io.StringIO()
    names = QUIET_LOGGERS + tuple(loggers)
    levels = {n: logging.getLogger(n).level for n in names}
    try:
        for n in names:
            logging.getLogger(n).setLevel(logging.ERROR)
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield buf
    finally:
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def import_quietly(module: str):
    """Import ``module`` with its own logger held at ERROR while it imports (a library that warns at import time about
    what is not actionable here); returns the module.

    Raises:
        ImportError: as ``importlib.import_module``.
    """
    import importlib

    logger = logging.getLogger(module)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return importlib.import_module(module)
    finally:
        logger.setLevel(level)
