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
scikit-learn's "balanced"), or by balanced sampling. The photos are scanned and decoded once
(:mod:`carspotter.train.prepare`); the run folder is written by :mod:`carspotter.train.run_writer`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from carspotter.util import dest_lock
from carspotter.measure.calibration import DEFAULT_TARGET_PRECISION, check_target_precision
from carspotter.util.errors import UsageError
from carspotter.model.spec import BACKBONE, INPUT_RANGES
from carspotter.train import augment as augment_mod
from carspotter.train import dataset as ds
from carspotter.train import calibrate, pipeline, report
from carspotter.train import distribute as dist_mod
from carspotter.train import model as mdl
from carspotter.train import store as store_mod
from carspotter.train.distribute import STRATEGIES, make_distribution, set_mixed_precision
from carspotter.train.phases import Photos, PhaseSetup, finetune_phase, head_phase, log
from carspotter.train.prepare import Decoded, decode_all, scan_and_split
from carspotter.train.run_writer import run_record, write_run
from carspotter.train.resume import ResumeFolder, fingerprint
from carspotter.train import weights as weights_mod


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
        calibration_fraction: share of the val split (0..1, exclusive) kept apart from early stopping to fit the
            temperature and the threshold (:func:`carspotter.train.calibrate.calibration_part`); 0: no part kept apart.
        target_precision: wanted precision (0..1, exclusive) of the answers an app shows above
            the confidence threshold chosen on the validation split.
        negatives: folder of photos that are none of the classes (trained as the class
            ``(not a car)``), or None.
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
    image_size: int = BACKBONE.native_size
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
    target_precision: float = DEFAULT_TARGET_PRECISION
    calibration_fraction: float = calibrate.DEFAULT_CALIBRATION_FRACTION
    negatives: str | None = None


HEAD_MODES = ("cached", "naive")

NOT_IN_FINGERPRINT = ("workers", "cache")
"""Settings that do not change the result, so a resumed run may change them."""


def check_config(cfg: TrainConfig) -> augment_mod.AugmentConfig:
    """Validate the settings a user can get wrong; returns the parsed augmentation.

    Raises:
        UsageError: the first bad setting, named with its command-line flag.
    """
    mdl.check_image_size(cfg.image_size)
    for name in ("epochs_head", "epochs_finetune", "head_views", "patience"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be 0 or more")
    if cfg.batch_size < 1:
        raise UsageError(f"--batch-size {cfg.batch_size}: must be at least 1")
    if cfg.workers < 1:
        raise UsageError(f"workers {cfg.workers}: must be at least 1")
    if cfg.input_range is not None and cfg.input_range not in INPUT_RANGES:
        raise UsageError(f"--input-range {cfg.input_range}: must be one of {', '.join(INPUT_RANGES)}")
    if cfg.head_mode not in HEAD_MODES:
        raise UsageError(f"--head-mode {cfg.head_mode}: must be one of {', '.join(HEAD_MODES)}")
    if cfg.sampling not in pipeline.SAMPLINGS:
        raise UsageError(f"--sampling {cfg.sampling}: must be one of {', '.join(pipeline.SAMPLINGS)}")
    if not 0.0 <= cfg.label_smoothing < 1.0:
        raise UsageError(f"--label-smoothing {cfg.label_smoothing}: must be at least 0 and below 1")
    for name in ("lr_head", "lr_finetune"):
        if not getattr(cfg, name) > 0:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: must be above 0")
    if cfg.cache not in store_mod.CACHES:
        raise UsageError(f"--cache {cfg.cache}: must be one of {', '.join(store_mod.CACHES)}")
    check_target_precision(cfg.target_precision)
    if not 0.0 <= cfg.calibration_fraction < 1.0:
        raise UsageError(f"--calibration-fraction {cfg.calibration_fraction}: must be at least 0 and below 1")
    if cfg.strategy not in STRATEGIES:
        raise UsageError(f"--strategy {cfg.strategy}: must be one of {', '.join(STRATEGIES)}")
    return augment_mod.parse(cfg.augment)


def _evaluate(
    cfg: TrainConfig, model, dec: Decoded, batch: int, calib: np.ndarray | None
) -> tuple[dict, dict, np.ndarray]:
    """Calibrate (:mod:`carspotter.train.calibrate`, folding T into ``model``) on the val positions ``calib``
    (None: the whole val split), then :func:`carspotter.train.report.evaluate` the val and test splits on the
    calibrated probabilities.

    Returns:
        ``(evaluation {split: report}, confidence record of run.json, [N, C] test probabilities)``.
    """
    p, classes = dec.photos, dec.data.classes
    negative = classes.index(ds.NOT_A_CAR) if ds.NOT_A_CAR in classes else None
    rows, labels = dict(p.rows), dict(p.labels)
    if calib is not None:
        rows["calibration"], labels["calibration"] = p.rows["val"][calib], p.labels["val"][calib]
    record, probs = calibrate.confidence(
        model, p.pixels, rows, labels, classes, cfg.image_size, batch, cfg.target_precision, negative, log
    )
    evaluation = {}
    for name in ("val", "test"):
        evaluation[name] = e = report.evaluate(probs[name], p.labels[name], classes)
        log(
            f"{name}: top-1 {e['top1']:.3f} [{e['top1_ci'][0]:.3f}, {e['top1_ci'][1]:.3f}], top-3 {e['top3']:.3f}, "
            f"macro F1 {e['macro_f1']:.3f} on {e['count']} photos"
        )
    return evaluation, record, probs["test"]


def _open_resume(cfg: TrainConfig, parts: dict) -> tuple[ResumeFolder, bool]:
    """The resume folder beside ``cfg.out``, opened for this run's settings and split; whether it resumes one."""
    resume = ResumeFolder.beside(cfg.out)
    resumed = resume.open(
        fingerprint(
            {k: v for k, v in asdict(cfg).items() if k not in NOT_IN_FINGERPRINT},
            {s: [p.path for p in v] for s, v in parts.items()},
        ),
        log,
    )
    return resume, resumed


def _without_calibration(full: Photos, stop: np.ndarray) -> Photos:
    """The photos with val reduced to its early-stopping part ``stop`` (the calibration part set aside)."""
    return Photos(
        full.pixels,
        {**full.rows, "val": full.rows["val"][stop]},
        {**full.labels, "val": full.labels["val"][stop]},
        full.num_classes,
    )


def _class_weight(p: Photos, sampling: str) -> dict | None:
    """Class weights ``n / (C * n_c)`` of the training split with ``--sampling class-weights``, else None."""
    n = len(p.labels["train"])
    train_counts = np.bincount(p.labels["train"], minlength=p.num_classes)
    return (
        {i: float(n / (p.num_classes * max(1, train_counts[i]))) for i in range(p.num_classes)}
        if sampling == "class-weights"
        else None
    )


def _photo_batches(p: Photos, batch: int, cfg: TrainConfig, augmenter) -> dict:
    """The training (shuffled or balanced, augmented) and validation batches of uint8 photos."""
    return {
        "train": pipeline.batches(
            p.pixels,
            p.rows["train"],
            p.labels["train"],
            p.num_classes,
            batch,
            training=True,
            seed=cfg.seed,
            augment=augmenter,
            balanced=cfg.sampling == "balanced",
            uint8=True,
        ),
        "val": pipeline.batches(
            p.pixels, p.rows["val"], p.labels["val"], p.num_classes, batch, training=False, seed=cfg.seed, uint8=True
        ),
    }


def _training_facts(cfg: TrainConfig, aug_cfg, batch: int, policy: str, dist) -> dict:
    """run.json's ``training``: augmentation, sampling, smoothing, patience, batch, precision and distribution."""
    return {
        "augment": aug_cfg.spec(),
        "sampling": cfg.sampling,
        "label_smoothing": cfg.label_smoothing,
        "patience": cfg.patience,
        "global_batch": batch,
        "dtype_policy": policy,
        **dist.to_json(),
        **dist_mod.compute_facts(policy),
    }


def train(cfg: TrainConfig, devices: list[str] | None = None) -> Path:
    """Run both phases and write the run folder atomically.

    Args:
        cfg: the run's settings.
        devices: explicit devices for ``--strategy mirrored`` (tests use logical CPUs).

    Returns:
        The run folder path.

    Raises:
        UsageError: a bad setting.
        DatasetError: unusable data.
        WeightsError: weights cannot be had or loaded.
        BusyError: another process is training into ``cfg.out`` (:mod:`carspotter.util.dest_lock`).
    """
    aug_cfg = check_config(cfg)
    with dest_lock.hold(cfg.out, "train"):  # held from the scan to the rename: one resume folder, one writer
        return _train(cfg, aug_cfg, devices)


def _train(cfg: TrainConfig, aug_cfg, devices: list[str] | None) -> Path:
    """:func:`train` with the destination locked."""
    t_start = time.time()
    dist = make_distribution(cfg.strategy, devices)  # before any work: a missing GPU is a setup error
    data, parts = scan_and_split(cfg)
    resume, resumed = _open_resume(cfg, parts)
    dec = decode_all(cfg, data, parts, resume)

    import keras

    keras.utils.set_random_seed(cfg.seed)
    policy = set_mixed_precision(cfg.mixed_precision)
    batch, lr_head = dist.scale(cfg.batch_size, cfg.lr_head)
    _, lr_finetune = dist.scale(cfg.batch_size, cfg.lr_finetune)
    if dist.replicas > 1:
        log(f"{dist.name} strategy, {dist.replicas} replicas: global batch {batch}, learning rates x{dist.replicas}")
    model, weights_used = weights_mod.reference_model(cfg, dist, len(data.classes))

    stop, calib, cal_split = calibrate.calibration_part(dec.photos.labels["val"], cfg.calibration_fraction, cfg.seed)
    log(f"calibration split: {cal_split['reason']}")
    p = _without_calibration(dec.photos, stop)  # what training sees: val is the early-stopping part
    n = len(p.labels["train"])
    class_weight = _class_weight(p, cfg.sampling)
    augmenter = augment_mod.make_augmenter(aug_cfg, cfg.image_size, cfg.seed)
    photo_ds = _photo_batches(p, batch, cfg, augmenter)
    setup = PhaseSetup(resume, dist.strategy, batch, cfg.label_smoothing, cfg.patience, class_weight)
    phases = {
        "head": head_phase(setup, model, p, photo_ds, cfg, augmenter, aug_cfg.active, lr_head),
        "finetune": finetune_phase(setup, model, photo_ds, cfg.epochs_finetune, lr_finetune, n),
    }
    if phases["finetune"].get("train_images_per_s"):
        log(
            f"phase 2 throughput: {phases['finetune']['train_images_per_s']:.1f} training images/s "
            f"({dist.replicas} replica(s), {policy})"
        )
    if cfg.mixed_precision:
        model = weights_mod.float32_copy(cfg.image_size, model, weights_used.input_range)

    t0 = time.time()
    evaluation, confidence, test_probs = _evaluate(cfg, model, dec, batch, calib if cal_split["disjoint"] else None)
    confidence["calibration_split"] = cal_split
    training = _training_facts(cfg, aug_cfg, batch, policy, dist)
    timing = {
        "decode": round(dec.decode_s, 2),
        "head": phases["head"]["seconds"],
        "finetune": phases["finetune"]["seconds"],
        "evaluate": round(time.time() - t0, 2),
        "total": round(time.time() - t_start, 2),
    }
    run = run_record(cfg, dec, weights_used, evaluation, setup, phases, training, timing, resumed)
    run.record["confidence"] = confidence
    write_run(cfg.out, model, run, dec, evaluation, test_probs)
    resume.remove()
    log(
        f"run written to {cfg.out} in {time.time() - t_start:.0f} s"
        + (" (resumed after an interruption)" if resumed else "")
    )
    return Path(cfg.out)
