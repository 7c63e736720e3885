"""Keras callbacks of a training phase: resumable early stopping, training throughput, progress by epoch."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from carspotter.util.atomic import atomic_write
from carspotter.train.resume import ResumeFolder


class BestEpoch(keras.callbacks.Callback):
    """Early stopping on a validation metric with the best weights restored, surviving a restart.

    Like ``keras.callbacks.EarlyStopping(restore_best_weights=True)``, but the best value,
    its epoch and its weights are kept in files of the resume folder
    (:meth:`~carspotter.train.resume.ResumeFolder.best_state`, ``best_weights``), so a run killed and resumed from
    ``BackupAndRestore`` still knows its best epoch. At the end of training the best
    weights are loaded into the model.

    Args:
        folder: the run's resume folder.
        prefix: phase name.
        monitor: metric in the epoch logs, e.g. ``"val_top1"`` (higher is better).
        patience: epochs without improvement before stopping; 0 disables stopping (the
            best weights are still restored).
    """

    def __init__(self, folder: Path, prefix: str, monitor: str = "val_top1", patience: int = 3):
        super().__init__()
        self.monitor, self.patience = monitor, patience
        resume = ResumeFolder(folder)
        self.state_file, self.weights_file = resume.best_state(prefix), resume.best_weights(prefix)
        self.state = (
            json.loads(self.state_file.read_text()) if self.state_file.is_file() else {"epoch": -1, "value": None}
        )
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if self.state["value"] is None or value > self.state["value"]:
            atomic_write(self.weights_file, self.model.save_weights)
            self.state = {"epoch": int(epoch), "value": float(value)}
            atomic_write(self.state_file, json.dumps(self.state))
        elif self.patience and epoch - self.state["epoch"] >= self.patience:
            self.stopped_epoch = int(epoch)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.weights_file.is_file():
            self.model.load_weights(self.weights_file)

    @property
    def best(self) -> dict:
        """``{"epoch": 0-based best epoch, "value": best metric}`` (epoch -1 before any)."""
        return dict(self.state)


class Throughput(keras.callbacks.Callback):
    """Training images per second of each epoch, validation excluded.

    Args:
        images_per_epoch: training photos per epoch.
    """

    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images = images_per_epoch
        self.per_epoch: list[float] = []
        self._start = self._end = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self._start is not None and self._end is None:
            self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = self._end or time.perf_counter()
        if self._start is not None and end > self._start:
            self.per_epoch.append(self.images / (end - self._start))

    def summary(self) -> dict:
        """``{"images_per_s": median over epochs after the first (tracing) when there are several, "epochs": [...]}``."""
        steady = self.per_epoch[1:] or self.per_epoch
        return {
            "images_per_s": round(float(sorted(steady)[len(steady) // 2]), 2) if steady else None,
            "epochs": [round(v, 2) for v in self.per_epoch],
        }


class EpochProgress(keras.callbacks.Callback):
    """Progress of a ``fit`` run quietly (``verbose=0``), one step per epoch (:func:`carspotter.util.progress.progress`:
    a bar on a terminal, off one a line at least every 30 s with epochs done, left and the rate).

    Args:
        epochs: the ``fit`` call's epochs.
        desc: what is being fitted (``fit the mixed10 box head``).
    """

    def __init__(self, epochs: int, desc: str):
        from carspotter.util.progress import progress

        super().__init__()
        self._steps = progress(iter(range(epochs)), epochs, desc, unit="epoch")

    def on_train_begin(self, logs=None):
        next(self._steps, None)

    def on_epoch_end(self, epoch, logs=None):
        next(self._steps, None)
