"""The resume folder of an unfinished run: every file name it holds, in one place.

``runs/.NAME.resume/`` sits beside the run folder while training. It holds the run's
configuration fingerprint, each phase's per-epoch checkpoint (``keras.callbacks.
BackupAndRestore``), history (``CSVLogger``), early-stopping state and best weights, the
weights of a finished phase with its summary, the cached bottleneck features and the disk
pixel cache. A killed run started again with the same command finds it and goes on; a
finished run deletes it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from carspotter.util.atomic import atomic_write


def fingerprint(settings: dict, split: dict[str, list[str]]) -> str:
    """sha256 of the settings that change the result and of the split (photo paths per split)."""
    return hashlib.sha256(json.dumps({**settings, "split": split}, sort_keys=True).encode()).hexdigest()


class ResumeFolder:
    """File names inside one resume folder (nothing is created by naming a file).

    Args:
        path: the folder, ``.NAME.resume`` beside ``runs/NAME``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def beside(cls, run_dir: str | Path) -> "ResumeFolder":
        """The resume folder of the run folder ``run_dir``."""
        out = Path(run_dir).resolve()
        return cls(out.parent / f".{out.name}.resume")

    def open(self, key: str, log=print) -> bool:
        """Use the folder for a run whose :func:`fingerprint` is ``key``.

        A folder left by a different configuration or data split is discarded (said through ``log``).

        Returns:
            True if it holds an unfinished run of this configuration (resume), False if it was made anew.
        """
        stamp = self.path / "fingerprint.txt"
        if self.path.is_dir():
            if stamp.is_file() and stamp.read_text() == key:
                log(f"found an unfinished run of this configuration in {self.path}: resuming")
                return True
            log(f"discarding {self.path}: left by a different configuration or data")
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        atomic_write(stamp, key)
        return False

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def checkpoints(self, phase: str) -> Path:
        """Folder of ``BackupAndRestore``'s per-epoch checkpoint."""
        return self.path / phase

    def history(self, phase: str) -> Path:
        """``CSVLogger`` file: one row per finished epoch."""
        return self.path / f"{phase}_history.csv"

    def summary(self, phase: str) -> Path:
        """Figures of a finished phase (best epoch, early stop, images/s), JSON."""
        return self.path / f"{phase}_summary.json"

    def done(self, phase: str) -> Path:
        """Weights left by a finished phase (its presence marks the phase finished)."""
        return self.path / f"{phase}_done.weights.h5"

    def best_state(self, phase: str) -> Path:
        """Early stopping: best epoch and value, JSON."""
        return self.path / f"{phase}_best.json"

    def best_weights(self, phase: str) -> Path:
        """Early stopping: the best epoch's weights."""
        return self.path / f"{phase}_best.weights.h5"

    @property
    def features(self) -> Path:
        """Cached bottleneck features of the head phase (``.npz``)."""
        return self.path / "features.npz"

    def pixels(self, size: int) -> tuple[Path, Path]:
        """Disk pixel cache: ``(.npy memmap, .json marking it finished with its key)``."""
        return self.path / f"pixels_{size}.npy", self.path / f"pixels_{size}.json"
