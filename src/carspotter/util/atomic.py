"""Atomic writes: a folder or a file is built beside its destination, then renamed into place.

A kill at any moment leaves the destination holding either the old result or the new
one, never a mix. Temporary names follow one scheme, ``.NAME.tmp-TOKEN`` beside the
destination (a file keeps its suffixes after the token, so ``x.weights.h5`` is written as
``.x.tmp-TOKEN.weights.h5``, which Keras accepts). Between the two renames of a folder
replacement the old folder sits under ``.NAME.old``; :func:`recover` puts it back if a
kill landed there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from carspotter.util import interrupts
from carspotter.util.errors import OutputError


def _tmp_name(dest: Path, token: str) -> Path:
    """``.NAME.tmp-TOKEN`` beside ``dest``; a file's suffixes (``.weights.h5``) stay at the end."""
    stem, dot, suffixes = dest.name.partition(".")
    if not stem:  # a hidden name such as ".env": no suffix to keep
        stem, dot, suffixes = dest.name, "", ""
    return dest.parent / f".{stem}.tmp-{token}{dot}{suffixes}"


def atomic_write(path: str | Path, content: bytes | str | Callable[[Path], None]) -> Path:
    """Write one file atomically: into a temporary file beside it, then ``os.replace``.

    Args:
        path: the file to create or replace.
        content: bytes, text (written UTF-8), or a function that writes the file at the
            temporary path it is given (e.g. ``model.save_weights``, ``np.savez``).

    Returns:
        ``path``.

    Raises:
        Whatever the write raises; the temporary file is removed and ``path`` untouched.
    """
    path = Path(path)
    tmp = _tmp_name(path, str(os.getpid()))
    try:
        if callable(content):
            content(tmp)
        elif isinstance(content, str):
            tmp.write_text(content, encoding="utf-8")
        else:
            tmp.write_bytes(content)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _old_name(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.old"


def recover(dest: Path) -> None:
    """Tidy after a killed write: restore ``dest`` from ``.NAME.old`` if a kill interrupted
    a swap, and remove temporary ``.NAME.tmp-*`` folders that a killed build left behind."""
    old = _old_name(dest)
    if old.exists() and not dest.exists():
        os.replace(old, dest)
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def atomic_folder(dest: str | Path):
    """Context manager yielding a temporary folder that becomes ``dest`` on success.

    On an exception the temporary folder is removed and ``dest`` is left untouched.

    Args:
        dest: the folder to create or replace.

    Yields:
        ``Path`` of the temporary folder (on the same file system as ``dest``).
    """
    dest = Path(dest).resolve()
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{dest}: is a file, not a folder; choose another destination or remove the file")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        recover(dest)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))  # the same scheme as _tmp_name
    except OSError as exc:
        raise _output_error(exc, dest, 0) from None
    try:
        yield tmp
        interrupts.raise_if_received()  # a signal a library swallowed: the result is not put in place
    except BaseException as exc:
        output_error = isinstance(exc, OSError) and exc.errno in _OUTPUT_ERRNOS
        written = _bytes_under(tmp) if output_error else 0
        shutil.rmtree(tmp, ignore_errors=True)
        if output_error:
            raise _output_error(exc, dest, written) from None
        raise
    old = _old_name(dest)
    try:
        if dest.exists():
            os.replace(dest, old)
        os.replace(tmp, dest)
    except OSError as exc:
        if old.exists() and not dest.exists():
            os.replace(old, dest)
        shutil.rmtree(tmp, ignore_errors=True)
        raise _output_error(exc, dest, 0) from None
    shutil.rmtree(old, ignore_errors=True)


_OUTPUT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EXDEV,
    errno.EBUSY,
    errno.ENOTDIR,
}


def _bytes_under(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _output_error(exc: OSError, dest: Path, written: int) -> OutputError:
    """One line for a failed write of ``dest``: what happened and what to do."""
    parent = dest.parent if dest.parent.exists() else next((p for p in dest.parents if p.exists()), dest.parent)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free, mib = shutil.disk_usage(parent).free, 2**20
        previous = f"; the previous one there takes {_bytes_under(dest) / mib:.1f} MiB" if dest.is_dir() else ""
        return OutputError(
            f"{dest}: the disk is full ({exc.strerror}): it ran out after writing {written / mib:.1f} MiB, "
            f"so it needs more than the {free / mib:.1f} MiB free now{previous}; the previous result, if "
            f"any, is untouched; free space and run again"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return OutputError(f"{parent}: cannot write there ({exc.strerror}); choose a writable destination")
    if exc.errno in (errno.EXDEV, errno.EBUSY):
        return OutputError(
            f"{dest}: cannot be replaced by a rename ({exc.strerror}): it is a mount point or on another "
            f"file system than {parent}; point the destination at a folder inside it"
        )
    if exc.errno == errno.ENOTDIR:
        return OutputError(
            f"{dest}: a part of this path is a file, not a folder ({exc.filename}); choose another destination"
        )
    return OutputError(f"{dest}: cannot write ({exc.strerror or exc})")
