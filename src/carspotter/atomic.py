"""Write a folder atomically: build it beside its destination, then rename it into place.

A kill at any moment leaves the destination holding either the old result or the new
one, never a mix. Between the two renames of a replacement the old folder sits under a
hidden name next to the destination; :func:`recover` puts it back if a kill landed there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    recover(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _old_name(dest)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
