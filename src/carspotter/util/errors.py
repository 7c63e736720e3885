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
