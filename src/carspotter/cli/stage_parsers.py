"""The sub-parsers of the commands that make things: ``carspotter train``, ``localize`` and ``export``.

Choices and defaults come from the modules that define them (``TrainConfig``, ``ExportOptions``, ``Gates``, the
format registry, the readers, the strategies), so the command line cannot drift from the code.
"""

from __future__ import annotations

from carspotter.cli.argtypes import field_default, integer


def add_train(sub) -> None:
    """``carspotter train``."""
    from carspotter.model.spec import BACKBONE, INPUT_RANGES
    from carspotter.train.trainer import TrainConfig

    d = lambda name: field_default(TrainConfig, name)  # noqa: E731
    t = sub.add_parser(
        "train",
        help=f"fine-tune {BACKBONE.name} on a folder of labelled car photos",
        description=f"Fine-tune {BACKBONE.name} on DATA and write a run folder: model.keras, labels.txt, run.json, "
        "split_*.csv, report.md/json and plots. Killed runs resume from the last finished "
        "epoch when the same command is run again.",
    )
    t.add_argument(
        "data_dir",
        metavar="DATA",
        help="class-folder tree (optionally with train/ val/ test/ subfolders), a .csv manifest "
        "(path,label[,split]) or a Stanford Cars devkit folder",
    )
    t.add_argument(
        "--out", required=True, metavar="RUN_DIR", help="run folder to write, e.g. runs/NAME (replaced atomically)"
    )
    t.add_argument(
        "--weights",
        default=d("weights"),
        metavar="imagenet|none|PATH",
        help="backbone weights: Keras' ImageNet download (default), random init, or a Keras weights file",
    )
    t.add_argument(
        "--input-range",
        choices=list(INPUT_RANGES),
        default=d("input_range"),
        help="pixel range the weights were trained on (required with a weights file; ImageNet: -1,1)",
    )
    t.add_argument(
        "--weights-fallback-none",
        action="store_true",
        help="if the ImageNet download fails, train from random initialization (warns, records it)",
    )
    for flag, name, metavar, text in (
        ("--max-classes", "max_classes", "N", "keep the first N classes by name"),
        ("--min-photos", "min_photos", "N", "drop classes with fewer photos"),
        ("--epochs-head", "epochs_head", "N", "phase 1 epochs at most, base frozen"),
        ("--epochs-finetune", "epochs_finetune", "N", f"phase 2 epochs at most, top {BACKBONE.finetune_layers} layers"),
        ("--head-views", "head_views", "N", "augmented copies of each training photo in the feature cache"),
        (
            "--patience",
            "patience",
            "N",
            "stop a phase after N epochs without a better val top-1, best weights kept (0: never)",
        ),
        ("--batch-size", "batch_size", "N", "per replica"),
        ("--image-size", "image_size", "PX", f"input side, >= {BACKBONE.min_size}"),
        ("--workers", "workers", "N", "decoding threads"),
        ("--seed", "seed", "N", "seed of split, shuffling, augmentation and initialization"),
    ):
        t.add_argument(flag, type=integer(flag), default=d(name), metavar=metavar, help=text + " (default %(default)s)")
    _add_train_options(t, d)


def _add_train_options(t, d) -> None:
    """``carspotter train``'s data and training options (``d``: a TrainConfig field's default)."""
    from carspotter.contracts import readers
    from carspotter.train import augment, pipeline
    from carspotter.train.trainer import HEAD_MODES

    t.add_argument(
        "--format",
        dest="data_format",
        choices=readers.FORMATS,
        default=d("data_format"),
        help="dataset layout (default: auto-detect)",
    )
    t.add_argument(
        "--mapping",
        default=None,
        metavar="FILE",
        help='JSON {"from": "to"} or CSV from,to file renaming or merging classes',
    )
    t.add_argument(
        "--crop-to-box", action="store_true", help="crop photos to their bounding boxes (Stanford Cars devkit)"
    )
    t.add_argument(
        "--head-mode",
        choices=HEAD_MODES,
        default=d("head_mode"),
        help="phase 1 on bottleneck features computed once (default) or through the frozen base every epoch",
    )
    t.add_argument(
        "--augment",
        default=augment.DEFAULT_SPEC,
        metavar="SPEC",
        help="training augmentation: comma-separated flip, crop=MIN_AREA, rotate=DEG, brightness=B, "
        "contrast=C, resize=P, jpeg=Q, blur=SIGMA, or none (default %(default)s)",
    )
    t.add_argument(
        "--sampling",
        choices=pipeline.SAMPLINGS,
        default=d("sampling"),
        help="class imbalance: class weights (default), balanced sampling, or nothing",
    )
    _add_fit_options(t, d)


def _add_fit_options(t, d) -> None:
    """``carspotter train``'s optimization, caching, distribution and confidence options."""
    from carspotter.train import store
    from carspotter.train.distribute import STRATEGIES

    t.add_argument(
        "--label-smoothing",
        type=float,
        default=d("label_smoothing"),
        metavar="X",
        help="label smoothing 0..<1 (default %(default)s)",
    )
    t.add_argument(
        "--lr-head",
        type=float,
        default=d("lr_head"),
        help="phase 1 learning rate for one replica (default %(default)s)",
    )
    t.add_argument(
        "--lr-finetune",
        type=float,
        default=d("lr_finetune"),
        help="phase 2 learning rate for one replica (default %(default)s)",
    )
    t.add_argument(
        "--cache",
        choices=store.CACHES,
        default=d("cache"),
        help="decoded photos in RAM or a disk file (default: RAM when under half the free memory)",
    )
    t.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=d("strategy"),
        help="tf.distribute strategy (default auto: mirrored with 2+ GPUs)",
    )
    t.add_argument("--mixed-precision", action="store_true", help="mixed_float16 training (GPUs with tensor cores)")
    t.add_argument(
        "--target-precision",
        type=float,
        default=d("target_precision"),
        metavar="P",
        help="precision (0..1) wanted of the answers an app shows: the confidence threshold is chosen on the "
        "validation split to reach it (default %(default)s)",
    )
    t.add_argument(
        "--calibration-fraction",
        type=float,
        default=d("calibration_fraction"),
        metavar="F",
        help="share of the validation split kept apart from early stopping to fit the temperature and the "
        "threshold (default %(default)s; 0: fit them on the early-stopping photos)",
    )
    t.add_argument(
        "--negatives",
        default=None,
        metavar="DIR",
        help="photos that are none of the classes (other cars, streets, anything): trained as the class '(not a car)'",
    )


def add_localize(sub) -> None:
    """``carspotter localize``."""
    lo = sub.add_parser(
        "localize",
        help="train a run's localizer (the car's box) from copy-paste composites",
        description="Paste the run's training photos into scenes at random scale and place, fit box heads "
        "on the frozen backbone's features, keep the one with the best mean IoU on the "
        "validation split's scenes; writes RUN_DIR/localizer/ (the classifier is unchanged). "
        "Export then ships one model with two outputs, probabilities and box.",
    )
    lo.add_argument("run_dir", metavar="RUN_DIR")
    lo.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")
    lo.add_argument(
        "--scenes-per-photo",
        dest="per_photo",
        type=integer("--scenes-per-photo"),
        default=6,
        metavar="N",
        help="scenes per training photo: the crop itself and N - 1 composites (default 6)",
    )
    lo.add_argument("--epochs", type=integer("--epochs"), default=60, metavar="N", help="epochs per head (default 60)")
    lo.add_argument("--seed", type=int, default=0, help="composites and heads (default 0)")
    lo.add_argument(
        "--extra-photos",
        dest="extra_photos",
        default=None,
        metavar="DIR",
        help="more car photos cropped to the car, any classes, for training the box only (the run's own "
        "photos are left out, so its validation and test photos stay unseen)",
    )
    lo.add_argument(
        "--extra-limit",
        type=integer("--extra-limit"),
        default=2000,
        metavar="N",
        help="at most N of --extra-photos, chosen with --seed (default 2000)",
    )
    lo.add_argument(
        "--extra-scenes",
        dest="extra_per_photo",
        type=integer("--extra-scenes"),
        default=3,
        metavar="N",
        help="scenes per extra photo: the crop and N - 1 composites (default 3)",
    )
    lo.add_argument(
        "--layers",
        default="mixed10,mixed7",
        metavar="LIST",
        help="backbone layers to fit a box head on, the best kept (default mixed10,mixed7)",
    )


def add_export(sub) -> None:
    """``carspotter export``."""
    from carspotter.export.bundle import ExportOptions
    from carspotter.model.formats import FAMILIES, FORMATS

    titles = ", ".join(f.title for f in FORMATS.values())
    e = sub.add_parser(
        "export",
        help=f"convert a run to {titles} bundles",
        description=f"Convert RUN_DIR's reference model to every format ({titles}) "
        "and write the bundle folder (one folder per platform, manifest.json) atomically.",
    )
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle folder to write, e.g. bundles/NAME")
    e.add_argument(
        "--formats", default=",".join(FORMATS), help=f"comma-separated subset of {','.join(FORMATS)} (default all)"
    )
    e.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="the run's photo folder, when it is no longer where run.json says (run copied from another machine)",
    )
    for option in (o for f in FORMATS.values() for o in f.conversion.options):  # what each format declares
        e.add_argument(
            option.flag, type=type(option.choices[0]), choices=option.choices, default=option.default, help=option.help
        )
    baselines = ", ".join(f"{f.title} {f.baseline}" for f in FORMATS.values())
    always = "".join(f", and {f.title} {v.name}" for f in FORMATS.values() for v in f.variants if v.always)
    e.add_argument(
        "--variants",
        default=None,
        metavar="FAMILIES",
        help=f"build and gate reduced-precision variants: comma-separated {','.join(FAMILIES)} "
        f"(default: one variant per format, {baselines}{always}); each format's "
        "default file is the smallest, then fastest, variant that passes its gates",
    )
    e.add_argument(
        "--golden",
        type=integer("--golden"),
        default=field_default(ExportOptions, "golden"),
        metavar="N",
        help="photos of the test split in the bundle's golden set, with the reference's answers, so the "
        "bundle checks itself anywhere (default %(default)s; 0: none)",
    )
    e.add_argument(
        "--no-app-paths",
        dest="app_paths",
        action="store_false",
        help="do not measure the app paths at export (the photo decoded and resized as apps do it: the Android "
        "package's classifier, OpenCV, sharp, the npm package in Node and Chromium); the platform READMEs then have no Resizing "
        "table and the manifest no app_paths; parity still measures them",
    )
    _add_gate_options(e)


def _add_gate_options(e) -> None:
    """``carspotter export``'s photos for calibrating, gating and drift-measuring variants, and the gates."""
    from carspotter.export.bundle import ExportOptions
    from carspotter.measure.gates import Gates

    e.add_argument(
        "--calibration-photos",
        type=integer("--calibration-photos"),
        default=field_default(ExportOptions, "calibration_photos"),
        metavar="N",
        help="representative training photos for calibrated variants, drawn round-robin over the classes; a "
        "calibrated variant's gate leaves out those it read (default %(default)s)",
    )
    e.add_argument(
        "--gate-photos",
        type=integer("--gate-photos"),
        default=field_default(ExportOptions, "gate_photos"),
        metavar="N",
        help="with --variants, judge each variant on up to N of the run's labelled photos (test, "
        "val, then train; a calibrated variant without the representative photos it read) "
        "(default %(default)s)",
    )
    e.add_argument(
        "--drift-photos",
        type=integer("--drift-photos"),
        default=field_default(ExportOptions, "drift_photos"),
        metavar="N",
        help="per-layer drift of every variant a gate leaves out, on N gate photos, recorded in "
        "the manifest (0: none) (default %(default)s)",
    )
    for flag, name, text in (
        (
            "--gate-fp16-agreement",
            "fp16_min_agreement",
            "fp16 variants: lowest lower bound (95 %% Wilson) of the top-1 agreement",
        ),
        (
            "--gate-int8-drop",
            "int8_max_top1_drop",
            "int8 and lowbit variants: largest top-1 drop the "
            "paired difference's lower bound (95 %% Newcombe) may show",
        ),
        (
            "--gate-int8-agreement",
            "int8_min_agreement",
            "int8 and lowbit variants: lowest lower bound of the top-1 agreement (near-ties count as agreeing)",
        ),
    ):
        e.add_argument(
            flag,
            dest=name,
            type=float,
            default=field_default(Gates, name),
            metavar="RATE",
            help=f"{text} with the reference, 0..1 (default %(default)s)",
        )
