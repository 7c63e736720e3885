"""Failures of the machine at the destination: disk full, read-only, a file in the way, a mount point."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

import pytest

from carspotter.util import atomic
from carspotter.cli import main
from carspotter.util.errors import OutputError


def _disk_full(folder, *args, **kwargs):
    """Write 3 MiB into the folder being built, then fail as a full disk does."""
    (Path(folder) / "partial.bin").write_bytes(b"x" * 3 * 2**20)
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_during_export_keeps_the_old_bundle_and_says_how_much(pipeline, tmp_path, monkeypatch, capsys):
    from carspotter.export import bundle as bundle_mod

    run_dir, bundle = pipeline
    dest = tmp_path / "b"
    shutil.copytree(bundle, dest)
    before = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    monkeypatch.setattr(bundle_mod, "write_manifest", _disk_full)
    code = main(["export", str(run_dir), "--out", str(dest), "--formats", "onnx", "--golden", "0", "--no-app-paths"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("carspotter export: error: "), err
    assert not any("Traceback" in line for line in err)
    assert "the disk is full (No space left on device)" in err[-1] and re.search(
        r"ran out after writing \d+\.\d MiB", err[-1]
    )
    assert "MiB free now" in err[-1] and "previous one there takes" in err[-1]
    assert {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # temporary folder removed


def test_disk_full_during_training_leaves_no_run(tmp_path, monkeypatch, capsys):
    from carspotter.train import report
    from conftest import SAMPLE

    monkeypatch.setattr(report, "write_report", _disk_full)
    out = tmp_path / "runs" / "r"
    code = main(
        [
            "train",
            str(SAMPLE),
            "--out",
            str(out),
            "--weights",
            "none",
            "--max-classes",
            "2",
            "--image-size",
            "75",
            "--epochs-head",
            "1",
            "--epochs-finetune",
            "0",
            "--min-photos",
            "3",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "the disk is full" in err[-1], err
    assert not out.exists() and not [p for p in out.parent.iterdir() if ".tmp-" in p.name]


def test_destination_that_is_a_file_is_one_line(pipeline, tmp_path, capsys):
    run_dir, _ = pipeline
    (tmp_path / "b").write_text("not a folder")
    code = main(["export", str(run_dir), "--out", str(tmp_path / "b"), "--formats", "onnx", "--no-app-paths"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is a file, not a folder" in err[0], err
    assert (tmp_path / "b").read_text() == "not a folder"


@pytest.mark.parametrize(
    "err, words",
    [
        (errno.EROFS, "cannot write there (Read-only file system)"),
        (errno.EACCES, "cannot write there (Permission denied)"),
    ],
)
def test_read_only_destination_is_one_line(tmp_path, monkeypatch, err, words):
    # Simulated: the tests may run as root, which permission bits do not stop.
    def refuse(*a, **k):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputError, match=re.escape(words)):
        with atomic.atomic_folder(tmp_path / "out"):
            pass
    assert not (tmp_path / "out").exists()


def test_destination_on_another_file_system_is_one_line_and_the_old_folder_stays(tmp_path, monkeypatch):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    real = os.replace

    def cross_device(src, dst):
        if Path(dst) == dest.resolve() and ".tmp-" in Path(src).name:  # the new folder cannot be renamed in
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", cross_device)
    with pytest.raises(OutputError, match="mount point or on another file system"):
        with atomic.atomic_folder(dest) as tmp:
            (tmp / "new.txt").write_text("new")
    assert (dest / "old.txt").read_text() == "old" and not (dest / "new.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
