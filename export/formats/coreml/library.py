"""coremltools, imported and run quietly: its loggers and its import."""

from __future__ import annotations

from carspotter.util.quiet import import_quietly

LOGGERS = ("coremltools",)
"""coremltools' loggers, silenced while it converts (:func:`carspotter.util.quiet.quiet`)."""


def import_coremltools():
    """Import coremltools without its expected import-time warnings.

    Off macOS it warns that its native runtime (``libcoremlpython``) is missing, and it warns about TensorFlow versions
    newer than it was tested with; neither is actionable here (conversion works; prediction is macOS-only and reported
    by the parity suite).
    """
    return import_quietly("coremltools")
