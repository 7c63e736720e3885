"""Termination signals received during a command, where every stage can see them.

The command line (:mod:`carspotter.cli`) records each SIGINT / SIGTERM / SIGHUP in
:data:`RECEIVED` before raising. A library can swallow the exception (a bare ``except:`` in a
converter) and let the command run on; :func:`carspotter.util.atomic.atomic_folder` asks
:func:`raise_if_received` before it puts a result in place, so an interrupted export or
training never replaces the previous bundle or run.
"""

from __future__ import annotations

RECEIVED: list[int] = []
"""Signal numbers received during the current command, in order (cleared when a command starts)."""


class Terminated(KeyboardInterrupt):
    """A termination signal received: unwound like Ctrl-C, so temporary folders are removed and
    the previous run or bundle stays as it was. ``signum`` is the signal's number."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def raise_if_received() -> None:
    """Raise :class:`Terminated` for the first signal in :data:`RECEIVED`, if any (a no-op otherwise)."""
    if RECEIVED:
        raise Terminated(RECEIVED[0])
