"""Killing training (kill -9) and running the same command again continues from the last finished epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from images import write_photos


def test_kill_9_then_same_command_resumes_from_last_finished_epoch(tmp_path):
    for i, name in enumerate(("a", "b", "c")):
        write_photos(tmp_path / "data" / name, 6, seed=i, size=(80, 80))
    out = tmp_path / "runs" / "r"
    cmd = [
        str(Path(sys.executable).with_name("carspotter")),
        "train",
        str(tmp_path / "data"),
        "--out",
        str(out),
        "--weights",
        "none",
        "--image-size",
        "75",
        "--epochs-head",
        "1",
        "--epochs-finetune",
        "4",
        "--batch-size",
        "4",
        "--min-photos",
        "3",
        "--patience",
        "0",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen, in_phase2 = [], False
    for line in first.stdout:
        seen.append(line)
        in_phase2 = in_phase2 or "phase 2" in line
        if in_phase2 and line.startswith("Epoch 3/4"):  # epochs 1 and 2 of phase 2 are checkpointed
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=60)
    assert first.returncode == -9, "".join(seen[-20:])
    assert not out.exists()
    assert (out.parent / ".r.resume" / "head_done.weights.h5").is_file()

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    log = second.stdout + second.stderr
    assert "found an unfinished run of this configuration" in log
    assert "phase 1: head only on cached bottleneck features: finished before the interruption" in log
    assert "computing bottleneck features" not in log  # phase 1 is not redone
    assert "resuming from the last finished epoch" in log
    epochs = [line.split()[1] for line in log.splitlines() if line.startswith("Epoch ")]
    assert epochs and epochs[0] in ("3/4", "4/4"), epochs  # not from 1/4
    run = json.loads((out / "run.json").read_text())
    assert run["resumed"] is True
    assert len(run["history"]["finetune"]["loss"]) == 4  # the whole phase, across both processes
    assert not (out.parent / ".r.resume").exists()
