"""The two training phases, each resumable after a kill (Keras transfer-learning guide, "Fine-tuning").

1. :func:`head_phase`: base frozen, train the head (Adam, ``lr_head``), by default on cached
   bottleneck features (:mod:`carspotter.train.features`), or through the frozen base;
2. :func:`finetune_phase`: top 50 layers of the base unfrozen, BatchNormalization frozen and in
   inference mode, lower learning rate (Adam, ``lr_finetune``).

Both go through :func:`run_phase`: compile, fit with a checkpoint per finished epoch, early
stopping on val top-1 with the best weights kept, training images/s measured.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carspotter.util.atomic import atomic_write
from carspotter.train import features, pipeline
from carspotter.train import model as mdl
from carspotter.train.resume import ResumeFolder


def log(msg: str) -> None:
    print(f"[train] {msg}", file=sys.stderr, flush=True)


def verbosity() -> int:
    """Keras fit/predict verbosity: a progress bar on a terminal, one line per epoch otherwise."""
    return 1 if sys.stderr.isatty() else 2


def read_history(path: Path) -> dict:
    """Per-epoch metrics from a Keras CSVLogger file: ``{metric: [value per epoch]}``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else []) if k != "epoch"}


@dataclass
class PhaseSetup:
    """What every phase of one run shares.

    Attributes:
        resume: the run's resume folder.
        strategy: the ``tf.distribute`` strategy models are compiled under.
        batch: global batch size.
        label_smoothing: cross-entropy label smoothing, 0 <= x < 1.
        patience: early-stopping patience in epochs (0: never stop).
        class_weight: ``{class: weight}`` or None.
        history: ``{phase: {metric: [value per epoch]}}``, filled as phases finish.
    """

    resume: ResumeFolder
    strategy: object
    batch: int
    label_smoothing: float
    patience: int
    class_weight: dict | None
    history: dict = field(default_factory=dict)


def _fit(setup: PhaseSetup, name: str, fit_model, train_ds, val_ds, epochs: int, lr: float, images: int) -> dict:
    """Compile ``fit_model`` with Adam(lr) and fit up to ``epochs`` with the resume callbacks; returns figures."""
    import keras

    from carspotter.train.callbacks import BestEpoch, Throughput

    with setup.strategy.scope():
        metrics = [
            keras.metrics.CategoricalAccuracy(name="top1"),
            keras.metrics.TopKCategoricalAccuracy(k=3, name="top3"),
        ]
        fit_model.compile(
            keras.optimizers.Adam(lr),
            keras.losses.CategoricalCrossentropy(label_smoothing=setup.label_smoothing),
            metrics=metrics,
        )
    best = BestEpoch(setup.resume.path, name, "val_top1", setup.patience)
    speed = Throughput(images)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(setup.resume.checkpoints(name)), double_checkpoint=True),
        keras.callbacks.CSVLogger(str(setup.resume.history(name)), append=True),
        best,
        speed,
    ]
    fit_model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        class_weight=setup.class_weight,
        shuffle=False,
        verbose=verbosity(),
        callbacks=callbacks,
    )
    return {
        "best_epoch": best.best["epoch"] + 1,
        "best_val_top1": best.best["value"],
        "stopped_early_at_epoch": best.stopped_epoch + 1 if best.stopped_epoch is not None else None,
        "train_images_per_s": speed.summary()["images_per_s"],
    }


def run_phase(
    setup: PhaseSetup, name: str, fit_model, train_ds, val_ds, epochs: int, lr: float, what: str, images: int
) -> dict:
    """Fit one phase, resumable; returns its figures for run.json ``phases``.

    Each finished epoch is checkpointed (``keras.callbacks.BackupAndRestore``) and logged
    (``CSVLogger``) in the resume folder; a finished phase leaves its weights there, so a
    killed run started again with the same command goes on from the last finished epoch.
    Early stopping keeps the best val top-1 epoch (:class:`~carspotter.train.callbacks.BestEpoch`).

    Args:
        name: ``head`` or ``finetune`` (file names in the resume folder).
        fit_model: the model to train; train_ds / val_ds its batches.
        epochs: at most this many (0 skips the phase); lr: Adam learning rate.
        what: for the log; images: training photos per epoch (for images/s).
    """
    t0 = time.time()
    resume = setup.resume
    done = resume.done(name)
    info: dict = {"epochs_max": epochs, "learning_rate": lr}
    if epochs and done.is_file():
        fit_model.load_weights(done)
        log(f"{what}: finished before the interruption, weights restored from {done}")
        if resume.summary(name).is_file():
            info.update(json.loads(resume.summary(name).read_text()))
    elif epochs:
        backup = resume.checkpoints(name)
        if backup.is_dir() and any(backup.iterdir()):
            log(f"{what}: resuming from the last finished epoch (checkpoint in {backup})")
        log(f"{what}, up to {epochs} epochs, lr {lr:g}, batch {setup.batch}")
        info.update(_fit(setup, name, fit_model, train_ds, val_ds, epochs, lr, images))
        if info["stopped_early_at_epoch"] is not None:
            log(
                f"{what}: stopped early after epoch {info['stopped_early_at_epoch']}: val top-1 best at epoch "
                f"{info['best_epoch']} ({info['best_val_top1']:.3f}), its weights restored"
            )
        atomic_write(
            resume.summary(name),
            json.dumps({k: v for k, v in info.items() if k not in ("epochs_max", "learning_rate")}),
        )
        atomic_write(done, fit_model.save_weights)
    if resume.history(name).is_file():
        setup.history[name] = read_history(resume.history(name))
    info["seconds"] = round(time.time() - t0, 2)
    return info


@dataclass
class Photos:
    """The decoded photos of a run and how they split.

    Attributes:
        pixels: ``[N, S, S, 3]`` uint8 store (RAM or memmap).
        rows: ``{split: [n] rows of pixels}``; labels: ``{split: [n] class indices}``.
        num_classes: C.
    """

    pixels: np.ndarray
    rows: dict
    labels: dict
    num_classes: int


def _uint8_fed(setup: PhaseSetup, model):
    """The model fed uint8 batches (:func:`carspotter.train.model.uint8_fed`), built under the distribution strategy."""
    with setup.strategy.scope():
        return mdl.uint8_fed(model)


def _cached_features(setup: PhaseSetup, model, photos: Photos, cfg, augmenter) -> dict | None:
    """Phase 1's bottleneck features (``xt``, ``yt``, ``xv``, ``yv``): from the resume folder, else computed once
    (``augmenter``: for the ``cfg.head_views`` augmented copies, or None) and kept there; None when phase 1 is done."""
    c = photos.num_classes
    feats = None  # a finished phase 1 needs none: its weights are restored from the resume folder
    if not setup.resume.done("head").is_file():
        feats = features.load(setup.resume.features)
        if feats is None:
            log(
                f"phase 1: computing bottleneck features once ({len(photos.rows['train'])} training photos x "
                f"{1 + cfg.head_views} views, {len(photos.rows['val'])} val photos)"
            )
            extractor = mdl.feature_extractor(model)
            xt, yt = features.extract(
                extractor,
                photos.pixels,
                photos.rows["train"],
                photos.labels["train"],
                c,
                setup.batch,
                cfg.head_views,
                augmenter,
                cfg.seed,
                "features train",
            )
            xv, yv = features.extract(
                extractor, photos.pixels, photos.rows["val"], photos.labels["val"], c, setup.batch, label="features val"
            )
            feats = {"xt": xt, "yt": yt, "xv": xv, "yv": yv}
            features.save(setup.resume.features, **feats)
    return feats


def _feature_batches(setup: PhaseSetup, feats: dict | None, c: int, cfg) -> tuple:
    """The training and validation batches of the cached features (None, None without features)."""
    train_ds = val_ds = None
    if feats is not None:
        train_ds = pipeline.batches(
            feats["xt"],
            np.arange(len(feats["yt"])),
            feats["yt"],
            c,
            setup.batch,
            training=True,
            seed=cfg.seed,
            balanced=cfg.sampling == "balanced",
        )
        val_ds = pipeline.batches(
            feats["xv"], np.arange(len(feats["yv"])), feats["yv"], c, setup.batch, training=False, seed=cfg.seed
        )
    return train_ds, val_ds


def head_phase(
    setup: PhaseSetup, model, photos: Photos, photo_ds: dict, cfg, augmenter, augment_active: bool, lr: float
) -> dict:
    """Phase 1, base frozen: on cached bottleneck features (``cfg.head_mode == "cached"``) or through the base.

    The cached head is trained on pooled features of the training photos (plus
    ``cfg.head_views`` augmented copies) and the val photos, computed once and kept in the
    resume folder, then copied into ``model``.
    """
    mdl.freeze_base(model)
    what = "phase 1: head only"
    if cfg.head_mode != "cached" or not cfg.epochs_head:
        info = run_phase(
            setup,
            "head",
            _uint8_fed(setup, model),
            photo_ds["train"],
            photo_ds["val"],
            cfg.epochs_head,
            lr,
            what + " through the frozen base",
            len(photos.labels["train"]),
        )
        return {**info, "mode": "naive"}
    t0 = time.time()
    c = photos.num_classes
    with setup.strategy.scope():
        head = mdl.build_head(c, model.get_layer("avg_pool").output.shape[-1])
    feats = _cached_features(setup, model, photos, cfg, augmenter if augment_active else None)
    t_features = time.time() - t0
    train_ds, val_ds = _feature_batches(setup, feats, c, cfg)
    info = run_phase(
        setup,
        "head",
        head,
        train_ds,
        val_ds,
        cfg.epochs_head,
        lr,
        what + " on cached bottleneck features",
        len(feats["yt"]) if feats else 0,
    )
    mdl.copy_head(head, model)
    info.update({"mode": "cached", "views": cfg.head_views, "feature_seconds": round(t_features, 2)})
    info["seconds"] = round(info["seconds"] + t_features, 2)
    return info


def finetune_phase(setup: PhaseSetup, model, photo_ds: dict, epochs: int, lr: float, images: int) -> dict:
    """Phase 2: the top :data:`~carspotter.train.model.FINETUNE_LAYERS` layers of the base unfrozen
    (BatchNormalization excepted, and kept in inference mode)."""
    n_trainable = mdl.unfreeze_top(model)
    return run_phase(
        setup,
        "finetune",
        _uint8_fed(setup, model),
        photo_ds["train"],
        photo_ds["val"],
        epochs,
        lr,
        f"phase 2: top {mdl.FINETUNE_LAYERS} base layers ({n_trainable} trainable, BatchNormalization frozen)",
        images,
    )
