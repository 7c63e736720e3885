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

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from carspotter import __version__
from carspotter.util import dest_lock
from carspotter.util.atomic import atomic_folder
from carspotter.measure.calibration import DEFAULT_TARGET_PRECISION, check_target_precision
from carspotter.util.errors import DatasetError, UsageError
from carspotter.contracts.runfolder import Classes, Run, SplitMetrics, write_labels, write_run_json, write_split
from carspotter.model.spec import BACKBONE, INPUT_RANGES, InputSpec
from carspotter.train import augment as augment_mod
from carspotter.train import dataset as ds
from carspotter.train import calibrate, pipeline, report
from carspotter.train import distribute as dist_mod
from carspotter.train import model as mdl
from carspotter.train import store as store_mod
from carspotter.train.distribute import STRATEGIES, make_distribution, set_mixed_precision
from carspotter.train.phases import Photos, PhaseSetup, finetune_phase, head_phase, log
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



@dataclass
class Decoded:
    """A dataset scanned, split and decoded once.

    Attributes:
        data: the scanned dataset.
        photos: decoded pixels, rows and labels per split.
        kept: ``{split: [Photo]}`` that decoded (what the split files list).
        skipped: ``(relative path, reason)`` of photos that did not decode.
        where: ``memory`` or the disk cache file; decode_s the decoding seconds.
    """

    data: ds.Dataset
    photos: Photos
    kept: dict
    skipped: list
    where: str
    decode_s: float


def _scan(cfg: TrainConfig) -> tuple[ds.Dataset, dict]:
    """Read and split the dataset, saying on the console what was renamed, dropped, ignored or in conflict."""
    data = ds.scan(cfg.data_dir, cfg.max_classes, cfg.min_photos, cfg.data_format, cfg.mapping, cfg.crop_to_box, cfg.workers,
                   cfg.negatives)
    log(f"{len(data.classes)} classes, {len(data.photos)} photos in {data.root} (layout: {data.format})")
    for a, b in sorted(data.normalized.items()):
        log(f"class {a!r} trained as {b!r} (Unicode {ds.LABEL_FORM}: the same name as typed on Linux or Windows)")
    for name, written in sorted(data.merged.items()):
        log(f"classes {', '.join(map(repr, written))} merged into {name!r}: the same name in Unicode {ds.LABEL_FORM}")
    for a, b in sorted(data.renamed.items()):
        log(f"class {a!r} trained as {b!r} (mapping file)")
    for c, reason in sorted(data.dropped_classes.items()):
        log(f"dropped class {c!r}: {reason}")
    for rel, reason in data.ignored_files[:20]:
        log(f"ignored {rel}: {reason}")
    if len(data.ignored_files) > 20:
        log(f"... and {len(data.ignored_files) - 20} more ignored files (all listed in run.json)")
    for paths in data.conflicts.values():
        log(f"labelling conflict, left out of every split: identical photo filed as {', '.join(paths)}")
    for paths in data.leaks.values():
        log(f"identical photo in two fixed splits, kept only in the first: {', '.join(paths)}")
    return data, ds.split(data, cfg.seed)


def _decode(cfg: TrainConfig, data: ds.Dataset, parts: dict, resume: ResumeFolder) -> Decoded:
    """Decode every photo once (parallel threads) into RAM or a disk cache; check every class still has enough.

    Raises:
        DatasetError: skipped photos leave a class under ``--min-photos``, or with no training photo.
    """
    t0 = time.time()
    order = [p for s in ds.SPLITS for p in parts[s]]
    store = store_mod.decode([data.root / p.path for p in order], [p.box for p in order], cfg.image_size,
                             cfg.workers, cfg.cache, resume.path)
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
        log(f"skipped photo {rel}: {reason}")
    c = len(data.classes)
    counts = np.bincount(np.concatenate([labels[s] for s in ds.SPLITS]), minlength=c)
    short = [f"{data.classes[i]!r} ({n})" for i, n in enumerate(counts) if n < cfg.min_photos]
    if short:
        raise DatasetError(f"{data.root}: after skipping unreadable photos, classes below the minimum of {cfg.min_photos}: "
                           f"{', '.join(short)}; fix or add photos, or lower --min-photos")
    train_counts = np.bincount(labels["train"], minlength=c)
    if (train_counts == 0).any():
        missing = [data.classes[i] for i in np.flatnonzero(train_counts == 0)]
        raise DatasetError(f"{data.root}: no training photo for {', '.join(map(repr, missing[:5]))} after the split; add photos")
    seconds = time.time() - t0
    log(f"decoded {int(store.ok.sum())} photos in {seconds:.1f} s into {store.where} "
        f"({store.nbytes / 2**20:.0f} MiB); skipped {len(skipped)}")
    return Decoded(data, Photos(store.pixels, rows, labels, c), kept, skipped, store.where, seconds)


def _evaluate(cfg: TrainConfig, model, dec: Decoded, batch: int, calib: np.ndarray | None) -> tuple[dict, dict, np.ndarray]:
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
    record, probs = calibrate.confidence(model, p.pixels, rows, labels, classes, cfg.image_size, batch,
                                         cfg.target_precision, negative, log)
    evaluation = {}
    for name in ("val", "test"):
        evaluation[name] = e = report.evaluate(probs[name], p.labels[name], classes)
        log(f"{name}: top-1 {e['top1']:.3f} [{e['top1_ci'][0]:.3f}, {e['top1_ci'][1]:.3f}], top-3 {e['top3']:.3f}, "
            f"macro F1 {e['macro_f1']:.3f} on {e['count']} photos")
    return evaluation, record, probs["test"]


def _record(cfg: TrainConfig, dec: Decoded, weights_used, evaluation: dict, setup: PhaseSetup, phases: dict,
            training: dict, timing: dict, resumed: bool) -> Run:
    """The run record (run.json) of a finished training."""
    import keras
    import PIL
    import tensorflow as tf

    data, labels = dec.data, dec.photos.labels
    c = len(data.classes)
    spec = InputSpec(cfg.image_size, weights_used.input_range)
    return Run(
        input=spec,
        classes=Classes(data.classes, {s: np.bincount(labels[s], minlength=c).tolist() for s in ds.SPLITS},
                        data.dropped_classes, {**data.normalized, **data.renamed}),
        data={"dir": str(data.root), "format": data.format, "fixed_split": data.fixed_split, "cropped_to_box": cfg.crop_to_box,
              "ignored_files": data.ignored_files, "skipped_photos": dec.skipped, "conflicts": data.conflicts,
              "label_form": ds.LABEL_FORM, "merged_by_normalization": data.merged,
              "split_leaks": data.leaks, "pixel_cache": "memory" if dec.where == "memory" else "disk"},
        weights=weights_used.to_json(),
        splits={s: f"split_{s}.csv" for s in ds.SPLITS},
        metrics={k: SplitMetrics(e["top1"], e["top3"], e["count"], e["macro_f1"]) for k, e in evaluation.items()},
        seed=cfg.seed,
        record={"carspotter_version": __version__, "preprocessing": spec.preprocessing, "history": setup.history,
                "phases": phases, "training": training, "config": asdict(cfg),
                "versions": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                             "numpy": np.__version__, "pillow": PIL.__version__},
                "timing_s": timing, "resumed": resumed})


def _write(out: str, model, run: Run, dec: Decoded, evaluation: dict, test_probs: np.ndarray) -> None:
    """Write the run folder atomically: model, labels, split files, evaluation report (report.md and
    report.html), run.json."""
    from carspotter.measure import gradcam
    from carspotter.train import report_page

    p = dec.photos
    examples = report_page.worst_examples(model, p.pixels, p.rows["test"], p.labels["test"], test_probs,
                                          [ph.path for ph in dec.kept["test"]], run.labels, evaluation["test"]["per_class"])
    with atomic_folder(out) as tmp:
        model.save(tmp / "model.keras")
        write_labels(tmp / "labels.txt", run.labels)
        for s in ds.SPLITS:
            write_split(tmp / f"split_{s}.csv", ds.split_rows(dec.kept[s], run.labels))
        report.write_report(tmp, evaluation, run.record["history"], run.labels, run.record["confidence"])
        (tmp / "report.html").write_text(report_page.render(tmp, evaluation, run.labels, examples, Path(out).name,
                                                            gradcam.last_conv_block(model)[1]), encoding="utf-8")
        write_run_json(tmp, run)


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
    data, parts = _scan(cfg)
    resume = ResumeFolder.beside(cfg.out)
    resumed = resume.open(fingerprint({k: v for k, v in asdict(cfg).items() if k not in NOT_IN_FINGERPRINT},
                                      {s: [p.path for p in v] for s, v in parts.items()}), log)
    dec = _decode(cfg, data, parts, resume)

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
    full = dec.photos
    p = Photos(full.pixels, {**full.rows, "val": full.rows["val"][stop]}, {**full.labels, "val": full.labels["val"][stop]},
               full.num_classes)  # what training sees: val is the early-stopping part
    n = len(p.labels["train"])
    train_counts = np.bincount(p.labels["train"], minlength=p.num_classes)
    class_weight = ({i: float(n / (p.num_classes * max(1, train_counts[i]))) for i in range(p.num_classes)}
                    if cfg.sampling == "class-weights" else None)
    augmenter = augment_mod.make_augmenter(aug_cfg, cfg.image_size, cfg.seed)
    photo_ds = {"train": pipeline.batches(p.pixels, p.rows["train"], p.labels["train"], p.num_classes, batch, training=True,
                                          seed=cfg.seed, augment=augmenter, balanced=cfg.sampling == "balanced", uint8=True),
                "val": pipeline.batches(p.pixels, p.rows["val"], p.labels["val"], p.num_classes, batch, training=False,
                                        seed=cfg.seed, uint8=True)}
    setup = PhaseSetup(resume, dist.strategy, batch, cfg.label_smoothing, cfg.patience, class_weight)
    phases = {"head": head_phase(setup, model, p, photo_ds, cfg, augmenter, aug_cfg.active, lr_head),
              "finetune": finetune_phase(setup, model, photo_ds, cfg.epochs_finetune, lr_finetune, n)}
    if phases["finetune"].get("train_images_per_s"):
        log(f"phase 2 throughput: {phases['finetune']['train_images_per_s']:.1f} training images/s "
            f"({dist.replicas} replica(s), {policy})")
    if cfg.mixed_precision:
        model = weights_mod.float32_copy(cfg.image_size, model, weights_used.input_range)

    t0 = time.time()
    evaluation, confidence, test_probs = _evaluate(cfg, model, dec, batch, calib if cal_split["disjoint"] else None)
    confidence["calibration_split"] = cal_split
    training = {"augment": aug_cfg.spec(), "sampling": cfg.sampling, "label_smoothing": cfg.label_smoothing,
                "patience": cfg.patience, "global_batch": batch, "dtype_policy": policy, **dist.to_json(),
                **dist_mod.compute_facts(policy)}
    timing = {"decode": round(dec.decode_s, 2), "head": phases["head"]["seconds"], "finetune": phases["finetune"]["seconds"],
              "evaluate": round(time.time() - t0, 2), "total": round(time.time() - t_start, 2)}
    run = _record(cfg, dec, weights_used, evaluation, setup, phases, training, timing, resumed)
    run.record["confidence"] = confidence
    _write(cfg.out, model, run, dec, evaluation, test_probs)
    resume.remove()
    log(f"run written to {cfg.out} in {time.time() - t_start:.0f} s" + (" (resumed after an interruption)" if resumed else ""))
    return Path(cfg.out)
