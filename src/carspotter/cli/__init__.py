"""The ``carspotter`` console command: train, export, parity, predict, evaluate, benchmark, report, verify.

:mod:`carspotter.cli.parser` builds the command line; :data:`carspotter.cli.commands.COMMANDS` maps each command
to the function that runs it. Errors a user can cause print one line and exit with code 2; ``--debug`` shows the
traceback. A parity failure exits with code 1; a termination signal 128 + its number.
"""

from __future__ import annotations

import os
import signal
import sys

from carspotter.cli.commands import COMMANDS
from carspotter.cli.parser import build_parser
from carspotter.util import interrupts

__all__ = ["COMMANDS", "build_parser", "main"]


def entry() -> None:
    """The console script: :func:`main`, then exit. After a termination signal it leaves at once (``os._exit``), as
    the signal itself would have: the outputs are already whole or gone, and the native libraries' teardown after an
    interrupted run (coremltools with torch beside TensorFlow) could crash the interpreter on its way out."""

    code = main()
    if interrupts.RECEIVED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``carspotter`` command; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "parity":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = [a for a in extra if a != "--"]
    from carspotter.util import quiet
    from carspotter.util.errors import CarspotterError

    if args.verbose:
        os.environ[quiet.VERBOSE_ENV] = "1"
    quiet.quiet_tensorflow_import()  # TensorFlow's start-up lines, wherever a command first imports it

    previous, previous_hook = _terminate_as_interrupt(), sys.unraisablehook
    sys.unraisablehook = _quiet_interrupts(previous_hook)
    interrupts.RECEIVED.clear()
    try:
        status = COMMANDS[args.command](args)
        if interrupts.RECEIVED:  # a library swallowed the signal and the command ran on
            return _interrupted(args.command, interrupts.RECEIVED[0])
        return status
    except KeyboardInterrupt as exc:
        return _interrupted(
            args.command,
            exc.signum
            if isinstance(exc, interrupts.Terminated)
            else (interrupts.RECEIVED[0] if interrupts.RECEIVED else signal.SIGINT),
        )
    except Exception as exc:
        if interrupts.RECEIVED and not args.debug:  # the signal surfaced inside a C extension as another error
            return _interrupted(args.command, interrupts.RECEIVED[0])
        if not isinstance(exc, CarspotterError) or args.debug:
            raise
        print(f"carspotter {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        sys.unraisablehook = previous_hook
        if previous:
            signal.setitimer(signal.ITIMER_REAL, 0)  # a deferred signal's timer, if one is pending
        for sig, handler in previous.items():
            signal.signal(sig, handler)


DEFER_S = 0.05
"""How long a termination signal that arrived during an import waits before it is raised (and again, until no import
is under way)."""


def _importing(frame) -> bool:
    """Whether ``frame`` (where a signal interrupted the program) is inside a module import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _raise_after_imports(frame) -> None:
    """Raise :class:`~carspotter.util.interrupts.Terminated` for the first recorded signal, unless a module is being
    imported: an exception raised there comes back out of a C extension's import as a ``SystemError``, which the
    library may log with its traceback; then it is raised from a timer (``SIGALRM``) :data:`DEFER_S` later."""
    if _importing(frame):
        signal.setitimer(signal.ITIMER_REAL, DEFER_S)
        return
    raise interrupts.Terminated(interrupts.RECEIVED[0])


def _quiet_interrupts(hook):
    """``sys.unraisablehook`` that stays silent about a termination signal raised where Python cannot propagate it
    (a garbage-collection callback, such as the one JAX registers, or a ``__del__``): the signal is recorded in
    :data:`carspotter.util.interrupts.RECEIVED` already and the command stops at its next check, with its one line.
    Anything else goes to ``hook``."""

    def unraisable(info):
        if not isinstance(info.exc_value, KeyboardInterrupt):  # Terminated is a KeyboardInterrupt
            hook(info)

    return unraisable


def _interrupted(command: str, signum: int) -> int:
    """One line for an interrupted command, naming the signal (the same line whether the signal surfaced as
    KeyboardInterrupt or was recorded while a library swallowed it); the exit status 128 + the signal number."""
    print(
        f"carspotter {command}: interrupted ({signal.Signals(signum).name}); nothing half-written was left behind",
        file=sys.stderr,
    )
    return 128 + int(signum)


def _terminate_as_interrupt() -> dict:
    """Turn SIGTERM and SIGHUP into :class:`~carspotter.util.interrupts.Terminated` in the main thread (a no-op
    elsewhere), and record every termination signal (Ctrl-C too) in :data:`carspotter.util.interrupts.RECEIVED`.

    Returns:
        ``{signal: previous handler}`` to restore when the command returns.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        # Recorded first: raised inside a C extension (tf2onnx, TensorFlow) the exception can come back as a
        # SystemError or be wrapped in an ExportError; main() still reports the interruption.
        interrupts.RECEIVED.append(signum)
        _raise_after_imports(frame)

    def later(signum, frame):  # SIGALRM: the deferred signal, once no import is under way
        _raise_after_imports(frame)

    def interrupt(signum, frame):  # Ctrl-C: Python's own KeyboardInterrupt, recorded the same way
        interrupts.RECEIVED.append(signum)
        raise KeyboardInterrupt

    handlers = {
        sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig is not None
    }
    handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, later)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        handlers[signal.SIGINT] = signal.signal(signal.SIGINT, interrupt)
    return handlers
