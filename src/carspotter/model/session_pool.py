"""Sessions shared by one command: each model file loaded into each runtime once, whoever asks for it.

Export's measuring (each variant, then the golden set and the app paths on the same files), parity's checks, the app
paths beside them and the tools (predict, evaluate, benchmark) all resolve "this variant's file on that runtime"
here: :meth:`SessionPool.session` loads it on first use and hands the same session back after (a session its user
closed is loaded again), :meth:`SessionPool.tool_session` picks the runtime a tool runs a format on
(:func:`tool_runtime`), and :meth:`SessionPool.close` closes every one. A runtime that runs each variant as one of
its format's fixed runtimes (:attr:`carspotter.model.runtimes.Runtime.by_variant`) is the same session as that one.
"""

from __future__ import annotations

from pathlib import Path

from carspotter.model import runtimes


def tool_runtime(spec) -> runtimes.Runtime:
    """The runtime predict, evaluate and benchmark run a format on here (``spec``: its
    :class:`~carspotter.model.format_spec.FormatSpec`): the first of ``spec.execution.tool_runtimes`` available on this machine
    (Core ML: ``MLModel.predict`` on macOS, else the MIL execution), else its measuring runtime."""
    return next((r for r in spec.execution.tool_runtimes if r.unavailable() is None), spec.execution.measuring_runtime)


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
        """The runtime that actually runs ``variant`` (:meth:`Runtime.resolve`)."""
        return runtime.resolve(variant)

    def session(self, runtime: runtimes.Runtime, variant, path: Path) -> runtimes.Session:
        """``path`` (a file of ``variant``, a :class:`~carspotter.model.format_spec.VariantSpec`) loaded into ``runtime``
        once for the whole command.

        Raises:
            whatever the runtime raises for a file it cannot load.
        """
        runtime = self.resolve(runtime, variant)
        key = (str(path), runtime.check)
        if key not in self._sessions or self._sessions[key].closed:
            self._sessions[key] = runtime.load(path, self.labels, variant, self.threads)
        return self._sessions[key]

    def tool_session(self, spec, variant, path: Path) -> tuple[runtimes.Runtime, runtimes.Session]:
        """``(runtime, session)``: ``path`` (a file of ``variant`` of format ``spec``) on the runtime the tools use
        here (:func:`tool_runtime`), loaded once."""
        runtime = tool_runtime(spec)
        return runtime, self.session(runtime, variant, path)

    def adopt(self, key: str, make) -> runtimes.Session:
        """A session the pool did not load through a runtime (the Keras reference on a loaded model, a file's
        intermediate tensors for drift): ``make()`` on first use (or after its user closed it), kept under ``key`` and
        closed with the others (an object without ``close`` is just forgotten)."""
        slot = (key, "adopted")
        if slot not in self._sessions or getattr(self._sessions[slot], "closed", False):
            self._sessions[slot] = make()
        return self._sessions[slot]

    def drop(self, key: str) -> None:
        """Close and forget the session adopted under ``key`` (no error when there is none)."""
        session = self._sessions.pop((key, "adopted"), None)
        if session is not None and not getattr(session, "closed", True):
            session.close()

    def release(self, path: Path) -> None:
        """Close and forget every session of the file ``path`` (a variant left out and deleted, or done with)."""
        for key in [k for k in self._sessions if k[0] == str(path)]:
            session = self._sessions.pop(key)
            if not session.closed:
                session.close()

    def moved(self, old: Path, new: Path) -> None:
        """The file at ``old`` was renamed ``new`` (export names the default variant's file last): its sessions,
        already loaded, now answer for ``new``."""
        for key in [k for k in self._sessions if k[0] == str(old)]:
            self._sessions[(str(new), key[1])] = self._sessions.pop(key)

    def close(self) -> None:
        """Close every session the pool loaded."""
        for session in self._sessions.values():
            if not getattr(session, "closed", True):
                session.close()
        self._sessions.clear()

    def __enter__(self) -> "SessionPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
