"""Sessions shared by one command: each model file loaded into each runtime once, whoever asks for it.

Parity's checks, the app paths beside them and the tools all resolve "this variant's file on that runtime" here:
:meth:`SessionPool.session` loads it on first use and hands the same session back after, and
:meth:`SessionPool.close` closes every one. The MIL execution that follows the variant's own mode
(:data:`carspotter.model.runtimes.MIL_BY_VARIANT`) is the same session as the fixed-mode runtime of that mode.
"""

from __future__ import annotations

from pathlib import Path

from carspotter.model import runtimes


class SessionPool:
    """Sessions of one command, by ``(file, runtime)``.

    Args:
        labels: the C class names every model must have (:meth:`Runtime.load` checks them).
        threads: CPU threads per session (None: :func:`carspotter.model.runtimes.default_threads`).
    """

    def __init__(self, labels: list[str], threads: int | None = None):
        self.labels, self.threads = list(labels), threads
        self._sessions: dict = {}

    def resolve(self, runtime: runtimes.Runtime, variant) -> runtimes.Runtime:
        """The runtime that actually runs ``variant``: MIL_BY_VARIANT becomes MIL_FP32 or MIL_FP16."""
        if runtime is runtimes.MIL_BY_VARIANT:
            return runtimes.MIL_FP32 if variant.mil_mode == "fp32" else runtimes.MIL_FP16
        return runtime

    def session(self, runtime: runtimes.Runtime, variant, path: Path) -> runtimes.Session:
        """``path`` (a file of ``variant``, a :class:`~carspotter.model.formats.VariantSpec`) loaded into ``runtime``
        once for the whole command.

        Raises:
            whatever the runtime raises for a file it cannot load.
        """
        runtime = self.resolve(runtime, variant)
        key = (str(path), runtime.check)
        if key not in self._sessions:
            self._sessions[key] = runtime.load(path, self.labels, variant, self.threads)
        return self._sessions[key]

    def close(self) -> None:
        """Close every session the pool loaded."""
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def __enter__(self) -> "SessionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
