"""Errors a user can cause, each printed by the CLI as one line naming the fix."""

from __future__ import annotations


class CarspotterError(Exception):
    """Base class: an error caused by input the user controls (a path, a flag, a file).

    The CLI prints ``str(error)`` as one line and exits with :attr:`exit_code`;
    a traceback is shown only with ``--debug``.
    """

    exit_code = 2


class PhotoError(CarspotterError):
    """A photo that cannot be used: unreadable, not an image, too small, too large."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DatasetError(CarspotterError):
    """A photo folder that cannot be trained on (missing, too few classes, too few photos)."""


class WeightsError(CarspotterError):
    """Backbone weights that cannot be had or loaded (no network, wrong file)."""


class RunError(CarspotterError):
    """A run folder that is missing, incomplete or fails validation."""


class BundleError(CarspotterError):
    """A bundle folder that is missing, incomplete, or fails sha256 verification."""


class ExportError(CarspotterError):
    """A conversion to Core ML, TFLite or ONNX that failed."""


class UsageError(CarspotterError):
    """A command-line flag with a bad value, or flags that do not go together (named with the flag)."""


class ComparisonError(CarspotterError, ValueError):
    """Two outputs that cannot be compared (different shapes or class lists): a failure of the format."""


class MILExecutionError(CarspotterError):
    """A Core ML program holding something the MIL reference executor does not implement (named)."""


class OutputError(CarspotterError):
    """The destination of a run, bundle or file cannot be written: disk full, read-only,
    a file where a folder should be, a mount point that cannot be renamed over."""


class BusyError(CarspotterError):
    """Another live process is writing the same run folder or bundle (it holds the lock file).

    Exit status 75 (``EX_TEMPFAIL`` in sysexits.h: try again later), so a CI script can tell it
    from a bad input."""

    exit_code = 75


def one_line(exc: BaseException, limit: int = 200) -> str:
    """``"TypeName: first line of the message"`` (cut at ``limit`` characters), or ``"TypeName"`` when the message is
    empty or blank: the one place a library's exception becomes part of one of our lines."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0].strip()[:limit]}" if lines else type(exc).__name__


class step:
    """Context manager wrapping a library call into one of our errors: ``with step(ExportError, "golden set of RUN"):``.

    A :class:`CarspotterError` inside keeps its own text after ``what``; any other :class:`Exception` becomes
    :func:`one_line`. ``KeyboardInterrupt`` and ``SystemExit`` pass through untouched. ``what`` may be a callable
    returning the text (for a description that changes inside the block, e.g. which step of several ran last).

    Raises:
        ``error``: ``"{what}: {the cause in one line}"``, chained to the cause.
    """

    def __init__(self, error: type[CarspotterError], what):
        self.error, self.what = error, what

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, Exception):
            return False
        what = self.what() if callable(self.what) else self.what
        cause = str(exc) if isinstance(exc, CarspotterError) else one_line(exc)
        raise self.error(f"{what}: {cause}") from exc
