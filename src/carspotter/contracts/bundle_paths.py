"""What a bundle's paths and files may be: relative paths that stay inside the folder, plain files, sane sizes.

Every path a manifest names (its file table, each format's model, labels and README, each variant's file) is a
bundle-relative POSIX path: not absolute, no ``..`` or ``.`` part, no backslash, no NUL, no empty part. One that
would leave the folder is refused as an **escape**, by name, before any file is opened; so is a symbolic link
anywhere in the bundle (a bundle holds plain files; a link could point anywhere) and a file above
:data:`MAX_FILE_BYTES`. ``manifest.json`` itself is read only up to :data:`MAX_MANIFEST_BYTES`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from carspotter.util.errors import BundleError

MAX_MANIFEST_BYTES = 16 * 2**20
"""Largest ``manifest.json`` read (16 MiB; a 196-class bundle with every variant writes about 0.2 MiB)."""

MAX_FILE_BYTES = 4 * 2**30
"""Largest file a bundle may hold (4 GiB; the largest model file, fp32 InceptionV3, is 87 MB)."""


def escape_reason(rel: object) -> str | None:
    """Why ``rel`` is not a bundle-relative path that stays inside the bundle, or None when it is one."""
    if not isinstance(rel, str) or not rel:
        return "not a relative path"
    if "\x00" in rel or "\\" in rel:
        return "has a NUL or a backslash"
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "is absolute"
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "leaves the bundle folder" if ".." in parts else "has an empty or '.' part"
    return None


def inside(bundle: Path, rel: object, where: str) -> Path:
    """``bundle / rel`` when ``rel`` is a safe bundle-relative path.

    Raises:
        BundleError: ``rel`` escapes (named as an escape, with where the manifest says it).
    """
    why = escape_reason(rel)
    if why is not None:
        shown = repr(rel) if not isinstance(rel, str) else rel.replace("\x00", "\\0")
        raise BundleError(
            f"{bundle / 'manifest.json'}: {where} {shown!s} {why}: a manifest path must stay inside the "
            "bundle; this is not a bundle carspotter wrote (export again)"
        )
    return Path(bundle) / PurePosixPath(rel)


def walk_plain_files(bundle: Path):
    """Yield ``(relative posix path, Path)`` for every file under ``bundle``, sorted, refusing links and huge files.

    Raises:
        BundleError: a symbolic link (file or folder), or a file over :data:`MAX_FILE_BYTES`.
    """
    for dirpath, dirnames, filenames in os.walk(bundle):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(bundle).as_posix()
            if path.is_symlink():
                raise BundleError(
                    f"{path}: a symbolic link (to {os.readlink(path)}); a bundle holds plain files only: "
                    "replace it with the file or export again"
                )
            if name in filenames:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    raise BundleError(
                        f"{path}: {size / 2**30:.1f} GiB, above the {MAX_FILE_BYTES / 2**30:.0f} GiB a "
                        "bundle file may be; remove it or export again"
                    )
                yield rel, path


def read_capped(path: Path) -> bytes:
    """``path``'s bytes, refusing one above :data:`MAX_MANIFEST_BYTES` before reading it.

    Raises:
        BundleError: too large, or a symbolic link.
    """
    if path.is_symlink():
        raise BundleError(f"{path}: a symbolic link; a bundle holds plain files only (export again)")
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise BundleError(
            f"{path}: {size / 2**20:.0f} MiB, above the {MAX_MANIFEST_BYTES // 2**20} MiB a manifest may "
            "be; this is not a manifest carspotter wrote (export again)"
        )
    return path.read_bytes()
