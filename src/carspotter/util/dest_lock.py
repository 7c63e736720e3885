"""One writer per destination: a lock file beside a run folder or bundle while it is built.

Two trainings (or two exports, or an export and a parity check writing ``parity.json``) aimed
at the same folder would otherwise build side by side and the last rename would win, or
worse, share one resume folder. The first process takes an exclusive ``flock`` on
``.NAME.lock`` beside the destination; a second one is refused at once with a message naming
the holder (pid, host, command, since when). The kernel drops a ``flock`` when its process
dies, so a ``kill -9`` never leaves a stale lock: the next run takes it over. Re-entering the
same destination in the same process (export, then parity writing into the new bundle) is
allowed.

``flock`` is advisory and works on local file systems and on NFS v4 (Linux emulates it with
POSIX locks there); it is not taken on Windows, where carspotter does not run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from carspotter.util.errors import BusyError, OutputError

_HELD: dict[Path, int] = {}
"""Destinations this process holds: resolved path -> nesting depth."""


def lock_path(dest: str | Path) -> Path:
    """``.NAME.lock`` beside ``dest`` (hidden, so photo and bundle listings skip it)."""
    dest = Path(dest).resolve()
    return dest.parent / f".{dest.name}.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    since = time.strftime("%H:%M:%S", time.localtime(info["since"])) if "since" in info else "?"
    return (
        f"carspotter {info.get('action', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}, since {since})"
    )


@contextlib.contextmanager
def hold(dest: str | Path, action: str):
    """Hold the destination's lock for the ``with`` block.

    Args:
        dest: the run folder or bundle folder about to be written (need not exist yet).
        action: what this process does there (``train``, ``export``, ``parity``), shown to a
            second process.

    Raises:
        BusyError: another live process holds the lock (named in the message).
        OutputError: the lock file cannot be created (read-only or missing parent).
    """
    dest = Path(dest).resolve()
    if dest in _HELD:
        _HELD[dest] += 1
        try:
            yield
        finally:
            _HELD[dest] -= 1
        return
    path = lock_path(dest)
    fd = _acquire(path, dest, action)
    _HELD[dest] = 1
    try:
        yield
    finally:
        del _HELD[dest]
        with contextlib.suppress(OSError):
            path.unlink()  # while still holding it: a waiter that opened the old file sees it replaced and retries
        os.close(fd)


def _acquire(path: Path, dest: Path, action: str) -> int:
    """Open and lock ``path``; returns the file descriptor (kept open while held)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{dest}: cannot create its folder ({exc.strerror}); choose a writable destination") from None
    for _ in range(5):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(
                f"{path.parent}: cannot write the lock file there ({exc.strerror}); choose a writable destination"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputError(f"{path}: cannot lock ({exc.strerror})") from None
            raise BusyError(
                f"{dest}: {_holder(path)} is writing there; wait for it to finish or stop it, "
                f"or choose another destination"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed the file between our open and our lock: lock the new one
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(
            fd,
            json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "action": action, "since": time.time()}
            ).encode(),
        )
        return fd
    raise BusyError(f"{dest}: its lock file {path} keeps being replaced; another process is starting there, try again")
