"""``carspotter train``: fine-tune InceptionV3 on a class-folder dataset, write a run folder.

Two phases (Keras transfer-learning guide, "Fine-tuning"):
1. base frozen, train the head (Adam, ``lr_head``);
2. top 50 layers of the base unfrozen, BatchNormalization frozen and in inference mode,
   lower learning rate (Adam, ``lr_finetune``).
Classes are balanced with class weights ``n / (C * n_c)`` (as scikit-learn's "balanced").
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from carspotter import __version__, photos
from carspotter.atomic import atomic_folder
from carspotter.errors import DatasetError
from carspotter.runfolder import RUN_SCHEMA_VERSION, write_labels
from carspotter.train import dataset as ds
from carspotter.train import model as mdl
from carspotter.train import report
from carspotter.train.weights import make_base


@dataclass
class TrainConfig:
    """Hyperparameters and inputs of one training run.

    Attributes:
        data_dir: folder with one subfolder of photos per class.
        out: run folder to write (replaced atomically if it exists).
        weights: ``"imagenet"``, ``"none"`` or a Keras weights file path.
        input_range: pixel range of the weights (``"-1,1"`` or ``"0,1"``); None = default.
        weights_fallback_none: on a failed ImageNet download, train from random init.
        max_classes: keep the first N classes by name; None for all.
        min_photos: minimum usable photos per class (smaller classes are dropped).
        epochs_head: phase-1 epochs (base frozen).
        epochs_finetune: phase-2 epochs (top 50 base layers trainable).
        batch_size: photos per step.
        image_size: input side in pixels (InceptionV3 native: 299; minimum 75).
        lr_head: phase-1 Adam learning rate.
        lr_finetune: phase-2 Adam learning rate.
        seed: seeds the split, shuffling, augmentation and initialization.
        workers: photo-decoding threads.
    """

    data_dir: str
    out: str
    weights: str = "imagenet"
    input_range: str | None = None
    weights_fallback_none: bool = False
    max_classes: int | None = None
    min_photos: int = 5
    epochs_head: int = 5
    epochs_finetune: int = 5
    batch_size: int = 16
    image_size: int = 299
    lr_head: float = 1e-3
    lr_finetune: float = 1e-4
    seed: int = 1337
    workers: int = 4


def _resume_folder(cfg: TrainConfig, parts: dict) -> tuple[Path, bool]:
    """``.NAME.resume`` beside the run folder: checkpoints of an unfinished run of the same configuration.

    A folder left by a different configuration or data split is discarded (said on the console).

    Returns:
        ``(folder, True if it holds an unfinished run of this configuration)``.
    """
    out = Path(cfg.out).resolve()
    folder = out.parent / f".{out.name}.resume"
    key = {k: v for k, v in asdict(cfg).items() if k != "workers"}
    key["split"] = {s: [p.path for p in v] for s, v in parts.items()}
    fingerprint = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    stamp = folder / "fingerprint.txt"
    if folder.is_dir():
        if stamp.is_file() and stamp.read_text() == fingerprint:
            _log(f"found an unfinished run of this configuration in {folder}: resuming")
            return folder, True
        _log(f"discarding {folder}: left by a different configuration or data")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    stamp.write_text(fingerprint)
    return folder, False


def _read_history(path: Path) -> dict:
    """Per-epoch metrics from a Keras CSVLogger file: ``{metric: [value per epoch]}``."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else []) if k != "epoch"}


def _log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


def _load_split(dataset: ds.Dataset, items: list[ds.Photo], size: int, workers: int, name: str):
    loaded = photos.load_photos([dataset.root / p.path for p in items], size, workers, progress=f"decode {name}")
    label_of = {str(dataset.root / p.path): p.label for p in items}
    labels = np.array([label_of[str(p)] for p in loaded.paths], dtype=np.int64)
    loaded_set = {str(x) for x in loaded.paths}
    kept = [p for p in items if str(dataset.root / p.path) in loaded_set]
    skipped = [(str(Path(p).relative_to(dataset.root)), reason) for p, reason in loaded.skipped]
    return loaded.pixels, labels, kept, skipped


def _tf_dataset(x, y, batch_size, seed, training):
    import tensorflow as tf

    d = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        d = d.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    d = d.batch(batch_size)

    def prep(img, label):
        img = tf.cast(img, tf.float32)
        if training:
            img = tf.image.random_flip_left_right(img, seed=seed)
        return img, label

    return d.map(prep, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train(cfg: TrainConfig) -> Path:
    """Run both phases and write the run folder atomically.

    Returns:
        The run folder path.

    Raises:
        DatasetError: unusable data folder or arguments.
        WeightsError: weights cannot be had or loaded.
    """
    t_start = time.time()
    mdl.check_image_size(cfg.image_size)
    for name in ("epochs_head", "epochs_finetune"):
        if getattr(cfg, name) < 0:
            raise DatasetError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be 0 or more")
    if cfg.batch_size < 1:
        raise DatasetError(f"--batch-size {cfg.batch_size}: must be at least 1")
    if cfg.input_range is not None and cfg.input_range not in mdl.INPUT_RANGES:
        raise DatasetError(f"--input-range {cfg.input_range}: must be one of {', '.join(mdl.INPUT_RANGES)}")

    data = ds.scan(cfg.data_dir, cfg.max_classes, cfg.min_photos)
    _log(f"{len(data.classes)} classes, {len(data.photos)} photos in {data.root}")
    for c, reason in sorted(data.dropped_classes.items()):
        _log(f"dropped class {c!r}: {reason}")
    for rel, reason in data.ignored_files[:20]:
        _log(f"ignored {rel}: {reason}")
    for h, paths in data.conflicts.items():
        _log(f"labelling conflict, left out of every split: identical photo filed as {', '.join(paths)}")
    parts = ds.split(data, cfg.seed)

    t0 = time.time()
    arrays, kept, skipped = {}, {}, []
    for name in ds.SPLITS:
        x, y, k, s = _load_split(data, parts[name], cfg.image_size, cfg.workers, name)
        arrays[name], kept[name] = (x, y), k
        skipped += s
    for rel, reason in skipped:
        _log(f"skipped photo {rel}: {reason}")
    counts = np.bincount(np.concatenate([arrays[s][1] for s in ds.SPLITS]), minlength=len(data.classes))
    short = [f"{data.classes[i]!r} ({n})" for i, n in enumerate(counts) if n < cfg.min_photos]
    if short:
        raise DatasetError(f"{data.root}: after skipping unreadable photos, classes below the minimum of {cfg.min_photos}: {', '.join(short)}; fix or add photos, or lower --min-photos")
    train_counts = np.bincount(arrays["train"][1], minlength=len(data.classes))
    if (train_counts == 0).any():
        raise DatasetError(f"{data.root}: a class has no training photo after the split; add photos")
    t_decode = time.time() - t0
    _log(f"decoded {sum(len(arrays[s][1]) for s in ds.SPLITS)} photos in {t_decode:.1f} s; skipped {len(skipped)}")

    import keras

    keras.utils.set_random_seed(cfg.seed)
    base, weights_used = make_base(cfg.image_size, cfg.weights, cfg.input_range, cfg.weights_fallback_none)
    model = mdl.build(len(data.classes), cfg.image_size, weights_used.input_range, base)

    n, c = len(arrays["train"][1]), len(data.classes)
    class_weight = {i: float(n / (c * max(1, train_counts[i]))) for i in range(c)}
    train_ds = _tf_dataset(*arrays["train"], cfg.batch_size, cfg.seed, training=True)
    val_ds = _tf_dataset(*arrays["val"], cfg.batch_size, cfg.seed, training=False)
    history = {}
    resume, resumed = _resume_folder(cfg, parts)

    def phase(name: str, epochs: int, lr: float, what: str) -> float:
        """Compile with Adam(lr) and fit ``epochs``, resumable; returns seconds taken.

        Each finished epoch is checkpointed (``keras.callbacks.BackupAndRestore``) and
        logged (``CSVLogger``) in the resume folder; a finished phase leaves its weights
        there, so a killed run started again with the same command goes on from the last
        finished epoch.
        """
        t0 = time.time()
        done, log_csv = resume / f"{name}_done.weights.h5", resume / f"{name}_history.csv"
        if epochs and done.is_file():
            model.load_weights(done)
            _log(f"{what}: finished before the interruption, weights restored from {done}")
        elif epochs:
            backup = resume / name
            if backup.is_dir() and any(backup.iterdir()):
                _log(f"{what}: resuming from the last finished epoch (checkpoint in {backup})")
            _log(f"{what}, {epochs} epochs, lr {lr}")
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="top1"), keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3")]
            model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=metrics)
            callbacks = [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
                         keras.callbacks.CSVLogger(str(log_csv), append=True)]
            model.fit(train_ds, validation_data=val_ds, epochs=epochs, class_weight=class_weight, shuffle=False,
                      verbose=2, callbacks=callbacks)
            tmp_done = done.with_name("tmp_" + done.name)
            model.save_weights(tmp_done)
            os.replace(tmp_done, done)
        if log_csv.is_file():
            history[name] = _read_history(log_csv)
        return time.time() - t0

    mdl.freeze_base(model)
    t_head = phase("head", cfg.epochs_head, cfg.lr_head, "phase 1: head only")
    n_trainable = mdl.unfreeze_top(model)
    t_finetune = phase("finetune", cfg.epochs_finetune, cfg.lr_finetune,
                       f"phase 2: top {mdl.FINETUNE_LAYERS} base layers ({n_trainable} trainable, BatchNormalization frozen)")

    t0 = time.time()
    results, evaluation = {}, {}
    for name in ("val", "test"):
        x, y = arrays[name]
        probs = model.predict(x.astype(np.float32), batch_size=cfg.batch_size, verbose=0) if len(y) else np.zeros((0, c))
        evaluation[name] = report.evaluate(probs, y, data.classes)
        results[name] = {k: evaluation[name][k] for k in ("top1", "top3", "count", "macro_f1")}
        _log(f"{name}: top-1 {results[name]['top1']:.3f}, top-3 {results[name]['top3']:.3f}, "
             f"macro F1 {results[name]['macro_f1']:.3f} on {len(y)} photos")
    t_eval = time.time() - t0

    import tensorflow as tf
    import PIL

    run = {
        "schema_version": RUN_SCHEMA_VERSION,
        "carspotter_version": __version__,
        "input": {"name": "image", "shape": [None, cfg.image_size, cfg.image_size, 3], "dtype": "float32",
                  "layout": "NHWC", "color": "RGB", "pixel_range": [0, 255],
                  "model_input_range": weights_used.input_range,
                  "rescaling": dict(zip(("scale", "offset"), mdl.INPUT_RANGES[weights_used.input_range]))},
        "output": {"name": "probabilities", "shape": [None, c], "kind": "softmax probabilities"},
        "preprocessing": photos.PREPROCESSING,
        "classes": {"names": data.classes, "counts": {s: np.bincount(arrays[s][1], minlength=c).tolist() for s in ds.SPLITS},
                    "dropped": data.dropped_classes},
        "data": {"dir": str(data.root), "ignored_files": data.ignored_files, "skipped_photos": skipped,
                 "conflicts": data.conflicts},
        "weights": weights_used.to_json(),
        "splits": {s: f"split_{s}.csv" for s in ds.SPLITS},
        "metrics": results,
        "history": history,
        "config": asdict(cfg),
        "seed": cfg.seed,
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "pillow": PIL.__version__},
        "timing_s": {"decode": round(t_decode, 2), "head": round(t_head, 2), "finetune": round(t_finetune, 2),
                     "evaluate": round(t_eval, 2), "total": round(time.time() - t_start, 2)},
    }
    run["resumed"] = resumed
    with atomic_folder(cfg.out) as tmp:
        model.save(tmp / "model.keras")
        write_labels(tmp / "labels.txt", data.classes)
        for s in ds.SPLITS:
            ds.write_split(tmp / f"split_{s}.csv", kept[s], data.classes)
        report.write_report(tmp, evaluation, history, data.classes)
        (tmp / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(resume, ignore_errors=True)
    _log(f"run written to {cfg.out} in {time.time() - t_start:.0f} s" + (" (resumed after an interruption)" if resumed else ""))
    return Path(cfg.out)
