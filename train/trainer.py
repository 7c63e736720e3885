"""``carspotter train``: fine-tune InceptionV3 on a photo dataset, write a run folder.

Two phases (Keras transfer-learning guide, "Fine-tuning"):
1. base frozen, train the head (Adam, ``lr_head``): by default on cached bottleneck
   features (:mod:`carspotter.train.features`), or ``--head-mode naive`` through the
   frozen base every epoch;
2. top 50 layers of the base unfrozen, BatchNormalization frozen and in inference mode,
   lower learning rate (Adam, ``lr_finetune``).
Each phase stops early when val top-1 has not improved for ``patience`` epochs and keeps
its best epoch's weights. Loss: categorical cross-entropy with label smoothing (0.1 by
default, as in Szegedy et al. 2016, "Rethinking the Inception Architecture", the
InceptionV3 paper). Classes are balanced with class weights ``n / (C * n_c)`` (as
scikit-learn's "balanced"), or by balanced sampling.
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
from carspotter.train import augment as augment_mod
from carspotter.train import dataset as ds
from carspotter.train import features, pipeline, report
from carspotter.train import model as mdl
from carspotter.train import store as store_mod
from carspotter.train.distribute import STRATEGIES, make_distribution, set_mixed_precision
from carspotter.train.weights import make_base


@dataclass
class TrainConfig:
    """Hyperparameters and inputs of one training run.

    Attributes:
        data_dir: class-folder tree, ``.csv`` manifest or Stanford Cars devkit folder.
        out: run folder to write (replaced atomically if it exists).
        weights: ``"imagenet"``, ``"none"`` or a Keras weights file path.
        input_range: pixel range of the weights (``"-1,1"`` or ``"0,1"``); None = default.
        weights_fallback_none: on a failed ImageNet download, train from random init.
        max_classes: keep the first N classes by name; None for all.
        min_photos: minimum usable photos per class (smaller classes are dropped).
        data_format: reader: ``auto``, ``folders``, ``csv``, ``devkit``.
        mapping: mapping file renaming or merging classes, or None.
        crop_to_box: crop photos to their bounding boxes (devkit).
        epochs_head: phase-1 epochs at most (base frozen).
        epochs_finetune: phase-2 epochs at most (top 50 base layers trainable).
        batch_size: photos per step and replica.
        image_size: input side in pixels (InceptionV3 native: 299; minimum 75).
        lr_head: phase-1 Adam learning rate (for one replica).
        lr_finetune: phase-2 Adam learning rate (for one replica).
        head_mode: ``cached`` (bottleneck features computed once) or ``naive``.
        head_views: augmented copies of each training photo in the feature cache.
        augment: augmentation spec (:mod:`carspotter.train.augment`), training only.
        sampling: ``class-weights``, ``balanced`` or ``none``.
        label_smoothing: label-smoothing factor, 0 <= x < 1.
        patience: early-stopping patience in epochs on val top-1 (0 = no early stop).
        cache: decoded-photo cache: ``auto``, ``memory`` or ``disk``.
        strategy: ``auto``, ``default``, ``mirrored``, ``multiworker``.
        mixed_precision: train with the ``mixed_float16`` policy.
        seed: seeds the split, shuffling, augmentation and initialization.
        workers: photo-decoding and hashing threads.
    """

    data_dir: str
    out: str
    weights: str = "imagenet"
    input_range: str | None = None
    weights_fallback_none: bool = False
    max_classes: int | None = None
    min_photos: int = 5
    data_format: str = "auto"
    mapping: str | None = None
    crop_to_box: bool = False
    epochs_head: int = 20
    epochs_finetune: int = 5
    batch_size: int = 16
    image_size: int = 299
    lr_head: float = 1e-3
    lr_finetune: float = 1e-4
    head_mode: str = "cached"
    head_views: int = 1
    augment: str = augment_mod.DEFAULT_SPEC
    sampling: str = "class-weights"
    label_smoothing: float = 0.1
    patience: int = 3
    cache: str = "auto"
    strategy: str = "auto"
    mixed_precision: bool = False
    seed: int = 1337
    workers: int = 4


HEAD_MODES = ("cached", "naive")

NOT_IN_FINGERPRINT = ("workers", "cache")
"""Settings that do not change the result, so a resumed run may change them."""


def check_config(cfg: TrainConfig) -> augment_mod.AugmentConfig:
    """Validate the settings a user can get wrong; returns the parsed augmentation.

    Raises:
        DatasetError: the first bad setting, named with its command-line flag.
    """
    mdl.check_image_size(cfg.image_size)
    for name in ("epochs_head", "epochs_finetune", "head_views", "patience"):
        if getattr(cfg, name) < 0:
            raise DatasetError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be 0 or more")
    if cfg.batch_size < 1:
        raise DatasetError(f"--batch-size {cfg.batch_size}: must be at least 1")
    if cfg.workers < 1:
        raise DatasetError(f"workers {cfg.workers}: must be at least 1")
    if cfg.input_range is not None and cfg.input_range not in mdl.INPUT_RANGES:
        raise DatasetError(f"--input-range {cfg.input_range}: must be one of {', '.join(mdl.INPUT_RANGES)}")
    if cfg.head_mode not in HEAD_MODES:
        raise DatasetError(f"--head-mode {cfg.head_mode}: must be one of {', '.join(HEAD_MODES)}")
    if cfg.sampling not in pipeline.SAMPLINGS:
        raise DatasetError(f"--sampling {cfg.sampling}: must be one of {', '.join(pipeline.SAMPLINGS)}")
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise DatasetError(f"--label-smoothing {cfg.label_smoothing}: must be at least 0 and below 1")
    for name in ("lr_head", "lr_finetune"):
        if not getattr(cfg, name) > 0:
            raise DatasetError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be above 0")
    if cfg.cache not in store_mod.CACHES:
        raise DatasetError(f"--cache {cfg.cache}: must be one of {', '.join(store_mod.CACHES)}")
    if cfg.strategy not in STRATEGIES:
        raise DatasetError(f"--strategy {cfg.strategy}: must be one of {', '.join(STRATEGIES)}")
    return augment_mod.parse(cfg.augment)


def _resume_folder(cfg: TrainConfig, parts: dict) -> tuple[Path, bool]:
    """``.NAME.resume`` beside the run folder: checkpoints of an unfinished run of the same configuration.

    A folder left by a different configuration or data split is discarded (said on the console).

    Returns:
        ``(folder, True if it holds an unfinished run of this configuration)``.
    """
    out = Path(cfg.out).resolve()
    folder = out.parent / f".{out.name}.resume"
    key = {k: v for k, v in asdict(cfg).items() if k not in NOT_IN_FINGERPRINT}
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


def _verbosity() -> int:
    """Keras fit/predict verbosity: a progress bar on a terminal, one line per epoch otherwise."""
    return 1 if sys.stderr.isatty() else 2


def train(cfg: TrainConfig, devices: list[str] | None = None) -> Path:
    """Run both phases and write the run folder atomically.

    Args:
        cfg: the run's settings.
        devices: explicit devices for ``--strategy mirrored`` (tests use logical CPUs).

    Returns:
        The run folder path.

    Raises:
        DatasetError: unusable data or arguments.
        WeightsError: weights cannot be had or loaded.
    """
    t_start = time.time()
    aug_cfg = check_config(cfg)
    dist = make_distribution(cfg.strategy, devices)  # before any work: a missing GPU is a setup error

    data = ds.scan(cfg.data_dir, cfg.max_classes, cfg.min_photos, cfg.data_format, cfg.mapping, cfg.crop_to_box, cfg.workers)
    _log(f"{len(data.classes)} classes, {len(data.photos)} photos in {data.root} (layout: {data.format})")
    for a, b in sorted(data.renamed.items()):
        _log(f"class {a!r} trained as {b!r} (mapping file)")
    for c, reason in sorted(data.dropped_classes.items()):
        _log(f"dropped class {c!r}: {reason}")
    for rel, reason in data.ignored_files[:20]:
        _log(f"ignored {rel}: {reason}")
    if len(data.ignored_files) > 20:
        _log(f"... and {len(data.ignored_files) - 20} more ignored files (all listed in run.json)")
    for h, paths in data.conflicts.items():
        _log(f"labelling conflict, left out of every split: identical photo filed as {', '.join(paths)}")
    for h, paths in data.leaks.items():
        _log(f"identical photo in two fixed splits, kept only in the first: {', '.join(paths)}")
    parts = ds.split(data, cfg.seed)
    resume, resumed = _resume_folder(cfg, parts)
    c = len(data.classes)

    # Decode every photo once (parallel threads), into RAM or a disk cache.
    t0 = time.time()
    order = [p for s in ds.SPLITS for p in parts[s]]
    store = store_mod.decode([data.root / p.path for p in order], [p.box for p in order], cfg.image_size,
                             cfg.workers, cfg.cache, resume)
    rows, labels, kept, skipped, start = {}, {}, {}, [], 0
    for name in ds.SPLITS:
        idx = np.arange(start, start + len(parts[name]))
        start += len(parts[name])
        good = idx[store.ok[idx]]
        rows[name] = good
        labels[name] = np.array([order[i].label for i in good], dtype=np.int64)
        kept[name] = [order[i] for i in good]
        skipped += [(order[i].path, store.skipped[i]) for i in idx if not store.ok[i]]
    for rel, reason in skipped:
        _log(f"skipped photo {rel}: {reason}")
    counts = np.bincount(np.concatenate([labels[s] for s in ds.SPLITS]), minlength=c)
    short = [f"{data.classes[i]!r} ({n})" for i, n in enumerate(counts) if n < cfg.min_photos]
    if short:
        raise DatasetError(f"{data.root}: after skipping unreadable photos, classes below the minimum of {cfg.min_photos}: {', '.join(short)}; fix or add photos, or lower --min-photos")
    train_counts = np.bincount(labels["train"], minlength=c)
    if (train_counts == 0).any():
        missing = [data.classes[i] for i in np.flatnonzero(train_counts == 0)]
        raise DatasetError(f"{data.root}: no training photo for {', '.join(map(repr, missing[:5]))} after the split; add photos")
    t_decode = time.time() - t0
    _log(f"decoded {int(store.ok.sum())} photos in {t_decode:.1f} s into {store.where} "
         f"({store.nbytes / 2**20:.0f} MiB); skipped {len(skipped)}")

    import keras

    keras.utils.set_random_seed(cfg.seed)
    policy = set_mixed_precision(cfg.mixed_precision)
    batch, lr_head = dist.scale(cfg.batch_size, cfg.lr_head)
    _, lr_finetune = dist.scale(cfg.batch_size, cfg.lr_finetune)
    if dist.replicas > 1:
        _log(f"{dist.name} strategy, {dist.replicas} replicas: global batch {batch}, learning rates x{dist.replicas}")
    try:
        with dist.strategy.scope():
            base, weights_used = make_base(cfg.image_size, cfg.weights, cfg.input_range, cfg.weights_fallback_none)
            model = mdl.build(c, cfg.image_size, weights_used.input_range, base)
    except BaseException:
        set_mixed_precision(False)
        raise

    n = len(labels["train"])
    class_weight = ({i: float(n / (c * max(1, train_counts[i]))) for i in range(c)}
                    if cfg.sampling == "class-weights" else None)
    balanced = cfg.sampling == "balanced"
    augmenter = augment_mod.make_augmenter(aug_cfg, cfg.image_size, cfg.seed)
    photo_ds = {
        "train": pipeline.batches(store.pixels, rows["train"], labels["train"], c, batch, training=True, seed=cfg.seed,
                                  augment=augmenter, balanced=balanced),
        "val": pipeline.batches(store.pixels, rows["val"], labels["val"], c, batch, training=False, seed=cfg.seed),
    }
    history, phases = {}, {}

    def done_file(name: str) -> Path:
        """Weights left by a finished phase (its presence marks the phase finished)."""
        return resume / f"{name}_done.weights.h5"

    def phase(name: str, fit_model, train_ds, val_ds, epochs: int, lr: float, what: str, images: int) -> dict:
        """Compile ``fit_model`` with Adam(lr) and fit up to ``epochs``, resumable; returns figures.

        Each finished epoch is checkpointed (``keras.callbacks.BackupAndRestore``) and
        logged (``CSVLogger``) in the resume folder; a finished phase leaves its weights
        there, so a killed run started again with the same command goes on from the last
        finished epoch. Early stopping keeps the best val top-1 epoch (:class:`BestEpoch`).
        """
        from carspotter.train.callbacks import BestEpoch, Throughput

        t0 = time.time()
        done, log_csv = done_file(name), resume / f"{name}_history.csv"
        info: dict = {"epochs_max": epochs, "learning_rate": lr}
        if epochs and done.is_file():
            fit_model.load_weights(done)
            _log(f"{what}: finished before the interruption, weights restored from {done}")
            summary = resume / f"{name}_summary.json"
            if summary.is_file():
                info.update(json.loads(summary.read_text()))
        elif epochs:
            backup = resume / name
            if backup.is_dir() and any(backup.iterdir()):
                _log(f"{what}: resuming from the last finished epoch (checkpoint in {backup})")
            _log(f"{what}, up to {epochs} epochs, lr {lr:g}, batch {batch}")
            with dist.strategy.scope():
                metrics = [keras.metrics.CategoricalAccuracy(name="top1"), keras.metrics.TopKCategoricalAccuracy(k=3, name="top3")]
                fit_model.compile(keras.optimizers.Adam(lr), keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                                  metrics=metrics)
            best = BestEpoch(resume, name, "val_top1", cfg.patience)
            speed = Throughput(images)
            callbacks = [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True),
                         keras.callbacks.CSVLogger(str(log_csv), append=True), best, speed]
            fit_model.fit(train_ds, validation_data=val_ds, epochs=epochs, class_weight=class_weight, shuffle=False,
                          verbose=_verbosity(), callbacks=callbacks)
            info.update({"best_epoch": best.best["epoch"] + 1, "best_val_top1": best.best["value"],
                         "stopped_early_at_epoch": best.stopped_epoch + 1 if best.stopped_epoch is not None else None,
                         "train_images_per_s": speed.summary()["images_per_s"]})
            if best.stopped_epoch is not None:
                _log(f"{what}: stopped early after epoch {best.stopped_epoch + 1}: val top-1 best at epoch "
                     f"{info['best_epoch']} ({info['best_val_top1']:.3f}), its weights restored")
            (resume / f"{name}_summary.json").write_text(json.dumps(info))
            tmp_done = done.with_name("tmp_" + done.name)
            fit_model.save_weights(tmp_done)
            os.replace(tmp_done, done)
        if log_csv.is_file():
            history[name] = _read_history(log_csv)
        info["seconds"] = round(time.time() - t0, 2)
        return info

    mdl.freeze_base(model)
    head_what = "phase 1: head only"
    if cfg.head_mode == "cached" and cfg.epochs_head:
        t0 = time.time()
        with dist.strategy.scope():
            head = mdl.build_head(c, model.get_layer("avg_pool").output.shape[-1])
        feats_file = resume / "features.npz"
        feats = None  # a finished phase 1 needs none: its weights are restored from the resume folder
        if not done_file("head").is_file():
            feats = features.load(feats_file)
            if feats is None:
                _log(f"phase 1: computing bottleneck features once ({len(rows['train'])} training photos x "
                     f"{1 + cfg.head_views} views, {len(rows['val'])} val photos)")
                extractor = mdl.feature_extractor(model)
                xt, yt = features.extract(extractor, store.pixels, rows["train"], labels["train"], c, batch, cfg.head_views,
                                          augmenter if aug_cfg.active else None, cfg.seed, "features train")
                xv, yv = features.extract(extractor, store.pixels, rows["val"], labels["val"], c, batch, label="features val")
                features.save(feats_file, xt=xt, yt=yt, xv=xv, yv=yv)
                feats = {"xt": xt, "yt": yt, "xv": xv, "yv": yv}
        t_features = time.time() - t0
        feat_train = feat_val = None
        if feats is not None:
            feat_train = pipeline.batches(feats["xt"], np.arange(len(feats["yt"])), feats["yt"], c, batch, training=True,
                                          seed=cfg.seed, balanced=balanced)
            feat_val = pipeline.batches(feats["xv"], np.arange(len(feats["yv"])), feats["yv"], c, batch, training=False,
                                        seed=cfg.seed)
        phases["head"] = phase("head", head, feat_train, feat_val, cfg.epochs_head, lr_head,
                               head_what + " on cached bottleneck features", len(feats["yt"]) if feats else 0)
        phases["head"].update({"mode": "cached", "views": cfg.head_views, "feature_seconds": round(t_features, 2)})
        phases["head"]["seconds"] = round(phases["head"]["seconds"] + t_features, 2)
        mdl.copy_head(head, model)
    else:
        phases["head"] = phase("head", model, photo_ds["train"], photo_ds["val"], cfg.epochs_head, lr_head,
                               head_what + " through the frozen base", n)
        phases["head"]["mode"] = "naive"
    n_trainable = mdl.unfreeze_top(model)
    phases["finetune"] = phase("finetune", model, photo_ds["train"], photo_ds["val"], cfg.epochs_finetune, lr_finetune,
                               f"phase 2: top {mdl.FINETUNE_LAYERS} base layers ({n_trainable} trainable, "
                               "BatchNormalization frozen)", n)
    if phases["finetune"].get("train_images_per_s"):
        _log(f"phase 2 throughput: {phases['finetune']['train_images_per_s']:.1f} training images/s "
             f"({dist.replicas} replica(s), {policy})")

    if cfg.mixed_precision:
        # The reference model is float32: same weights, float32 compute.
        weights = model.get_weights()
        set_mixed_precision(False)
        base32, _ = make_base(cfg.image_size, "none", weights_used.input_range)
        model = mdl.build(c, cfg.image_size, weights_used.input_range, base32)
        model.set_weights(weights)

    t0 = time.time()
    results, evaluation = {}, {}
    for name in ("val", "test"):
        y = labels[name]
        if len(y):
            d = pipeline.batches(store.pixels, rows[name], y, c, batch, training=False, seed=cfg.seed, with_labels=False)
            probs = model.predict(d, verbose=_verbosity())
        else:
            probs = np.zeros((0, c))
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
        "classes": {"names": data.classes, "counts": {s: np.bincount(labels[s], minlength=c).tolist() for s in ds.SPLITS},
                    "dropped": data.dropped_classes, "renamed": data.renamed},
        "data": {"dir": str(data.root), "format": data.format, "fixed_split": data.fixed_split,
                 "cropped_to_box": cfg.crop_to_box, "ignored_files": data.ignored_files, "skipped_photos": skipped,
                 "conflicts": data.conflicts, "split_leaks": data.leaks,
                 "pixel_cache": "memory" if store.where == "memory" else "disk"},
        "weights": weights_used.to_json(),
        "splits": {s: f"split_{s}.csv" for s in ds.SPLITS},
        "metrics": results,
        "history": history,
        "phases": phases,
        "training": {"augment": aug_cfg.spec(), "sampling": cfg.sampling, "label_smoothing": cfg.label_smoothing,
                     "patience": cfg.patience, "global_batch": batch, "dtype_policy": policy, **dist.to_json()},
        "config": asdict(cfg),
        "seed": cfg.seed,
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                     "numpy": np.__version__, "pillow": PIL.__version__},
        "timing_s": {"decode": round(t_decode, 2), "head": phases["head"]["seconds"], "finetune": phases["finetune"]["seconds"],
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
    del store
    shutil.rmtree(resume, ignore_errors=True)
    _log(f"run written to {cfg.out} in {time.time() - t_start:.0f} s" + (" (resumed after an interruption)" if resumed else ""))
    return Path(cfg.out)
