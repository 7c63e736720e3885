"""Two writers at one destination: the second is refused with the first named; kill -9 frees the lock."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from carspotter.util import dest_lock
from carspotter.cli import main
from carspotter.util.errors import BusyError, OutputError

_HOLDER = r"""
import sys, time
from carspotter.util import dest_lock
with dest_lock.hold(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    time.sleep(300)
"""


def _holder(dest: Path, action: str = "train") -> subprocess.Popen:
    """Another process holding ``dest``'s lock (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(dest), action], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_first_and_kill_9_frees_the_lock(tmp_path):
    dest = tmp_path / "runs" / "r1"
    proc = _holder(dest)
    try:
        with pytest.raises(BusyError) as info:
            with dest_lock.hold(dest, "export"):
                pass
        message = str(info.value)
        assert message.startswith(f"{dest.resolve()}: carspotter train (pid {proc.pid} on ")
        assert message.endswith("is writing there; wait for it to finish or stop it, or choose another destination")
        assert info.value.exit_code == 75
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert dest_lock.lock_path(dest).exists()  # kill -9 ran no cleanup: the file is stale, the flock is gone
    with dest_lock.hold(dest, "export"):
        assert "export" in dest_lock.lock_path(dest).read_text()
    assert not dest_lock.lock_path(dest).exists()  # released: removed


def test_same_process_may_reenter_and_the_lock_is_released_on_an_error(tmp_path):
    dest = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with dest_lock.hold(dest, "export"):
            with dest_lock.hold(dest, "parity"):  # export, then parity writing into the new bundle
                assert dest_lock.lock_path(dest).exists()
            raise RuntimeError("conversion failed")
    assert not dest_lock.lock_path(dest).exists()
    proc = _holder(dest)  # another process can take it now
    proc.kill()
    proc.wait()


def test_lock_in_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    def read_only(path, flags, mode=0o777):  # as a read-only mount answers (root ignores chmod, so injected)
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(dest_lock.os, "open", read_only)
    with pytest.raises(OutputError) as info:
        with dest_lock.hold(tmp_path / "b", "export"):
            pass
    assert (
        str(info.value) == f"{tmp_path.resolve()}: cannot write the lock file there (Read-only file system); "
        f"choose a writable destination"
    )


@pytest.mark.parametrize(
    "argv", [["train", "DATA", "--out", "DEST"], ["export", "RUN", "--out", "DEST"]], ids=["train", "export"]
)
def test_cli_refuses_a_busy_destination_with_exit_75(tmp_path, capsys, argv):
    dest = tmp_path / "dest"
    data = tmp_path / "photos"
    data.mkdir()
    proc = _holder(dest, "export")
    try:
        code = main(
            [
                a.replace("DEST", str(dest)).replace("DATA", str(data)).replace("RUN", str(tmp_path / "run"))
                for a in argv
            ]
        )
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 75
    assert len(err) == 1 and f"carspotter export (pid {proc.pid} on" in err[0] and "Traceback" not in err[0]


def test_concurrent_export_is_refused_and_a_killed_one_leaves_the_next_free(pipeline, tmp_path):
    run_dir, _ = pipeline
    dest = tmp_path / "bundles" / "b"
    exe = str(Path(sys.executable).with_name("carspotter"))
    cmd = [exe, "export", str(run_dir), "--out", str(dest), "--formats", "onnx", "--no-app-paths"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in first.stdout:  # the lock is taken before the first [export] line
            if "[export]" in line:
                break
        second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert second.returncode == 75, second.stderr[-2000:]
        assert f"carspotter export (pid {first.pid} on" in second.stderr.strip().splitlines()[-1]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert not dest.exists()  # killed mid-export: no bundle, never half of one
    third = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert third.returncode == 0, third.stderr[-2000:]
    assert main(["verify", str(dest)]) == 0
    assert sorted(p.name for p in dest.parent.iterdir()) == ["b"]  # stale lock and temporary folder gone
