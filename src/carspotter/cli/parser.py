"""The ``carspotter`` command line: its parser, one sub-parser per command.

Choices and defaults come from the modules that define them (``TrainConfig``, ``ExportOptions``, ``Gates``, the
format registry, the readers, the strategies, the reference backends), so the command line cannot drift from the code.
"""

from __future__ import annotations

import argparse
from dataclasses import fields


def _integer(name):
    def parse(text):
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: not an integer") from None

    return parse


def _reference_backends(text: str) -> tuple:
    """``--reference-backends``: comma-separated BACKEND-DEVICE[-tf32] names, or ``none``."""
    from carspotter.model.backends import ReferenceBackend

    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(ReferenceBackend.parse(name) for name in text.split(",") if name.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--reference-backends: {exc}") from None


def _default(cls, name: str):
    """The default of dataclass ``cls``'s field ``name``."""
    return next(f.default for f in fields(cls) if f.name == name)


def _add_train(sub) -> None:
    from carspotter.model.spec import BACKBONE, INPUT_RANGES
    from carspotter.train.trainer import TrainConfig

    d = lambda name: _default(TrainConfig, name)  # noqa: E731
    t = sub.add_parser("train", help=f"fine-tune {BACKBONE.name} on a folder of labelled car photos",
                       description=f"Fine-tune {BACKBONE.name} on DATA and write a run folder: model.keras, labels.txt, run.json, "
                                   "split_*.csv, report.md/json and plots. Killed runs resume from the last finished "
                                   "epoch when the same command is run again.")
    t.add_argument("data_dir", metavar="DATA",
                   help="class-folder tree (optionally with train/ val/ test/ subfolders), a .csv manifest "
                        "(path,label[,split]) or a Stanford Cars devkit folder")
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write, e.g. runs/NAME (replaced atomically)")
    t.add_argument("--weights", default=d("weights"), metavar="imagenet|none|PATH",
                   help="backbone weights: Keras' ImageNet download (default), random init, or a Keras weights file")
    t.add_argument("--input-range", choices=list(INPUT_RANGES), default=d("input_range"),
                   help="pixel range the weights were trained on (required with a weights file; ImageNet: -1,1)")
    t.add_argument("--weights-fallback-none", action="store_true",
                   help="if the ImageNet download fails, train from random initialization (warns, records it)")
    for flag, name, metavar, text in (
            ("--max-classes", "max_classes", "N", "keep the first N classes by name"),
            ("--min-photos", "min_photos", "N", "drop classes with fewer photos"),
            ("--epochs-head", "epochs_head", "N", "phase 1 epochs at most, base frozen"),
            ("--epochs-finetune", "epochs_finetune", "N", f"phase 2 epochs at most, top {BACKBONE.finetune_layers} layers"),
            ("--head-views", "head_views", "N", "augmented copies of each training photo in the feature cache"),
            ("--patience", "patience", "N", "stop a phase after N epochs without a better val top-1, best weights kept (0: never)"),
            ("--batch-size", "batch_size", "N", "per replica"),
            ("--image-size", "image_size", "PX", f"input side, >= {BACKBONE.min_size}"),
            ("--workers", "workers", "N", "decoding threads"),
            ("--seed", "seed", "N", "seed of split, shuffling, augmentation and initialization")):
        t.add_argument(flag, type=_integer(flag), default=d(name), metavar=metavar, help=text + " (default %(default)s)")
    _add_train_options(t, d)


def _add_train_options(t, d) -> None:
    """``carspotter train``'s data, training and confidence options (``d``: a TrainConfig field's default)."""
    from carspotter.contracts import readers
    from carspotter.train import augment, pipeline, store
    from carspotter.train.distribute import STRATEGIES
    from carspotter.train.trainer import HEAD_MODES

    t.add_argument("--format", dest="data_format", choices=readers.FORMATS, default=d("data_format"),
                   help="dataset layout (default: auto-detect)")
    t.add_argument("--mapping", default=None, metavar="FILE",
                   help="JSON {\"from\": \"to\"} or CSV from,to file renaming or merging classes")
    t.add_argument("--crop-to-box", action="store_true", help="crop photos to their bounding boxes (Stanford Cars devkit)")
    t.add_argument("--head-mode", choices=HEAD_MODES, default=d("head_mode"),
                   help="phase 1 on bottleneck features computed once (default) or through the frozen base every epoch")
    t.add_argument("--augment", default=augment.DEFAULT_SPEC, metavar="SPEC",
                   help="training augmentation: comma-separated flip, crop=MIN_AREA, rotate=DEG, brightness=B, "
                        "contrast=C, resize=P, jpeg=Q, blur=SIGMA, or none (default %(default)s)")
    t.add_argument("--sampling", choices=pipeline.SAMPLINGS, default=d("sampling"),
                   help="class imbalance: class weights (default), balanced sampling, or nothing")
    t.add_argument("--label-smoothing", type=float, default=d("label_smoothing"), metavar="X",
                   help="label smoothing 0..<1 (default %(default)s)")
    t.add_argument("--lr-head", type=float, default=d("lr_head"), help="phase 1 learning rate for one replica (default %(default)s)")
    t.add_argument("--lr-finetune", type=float, default=d("lr_finetune"),
                   help="phase 2 learning rate for one replica (default %(default)s)")
    t.add_argument("--cache", choices=store.CACHES, default=d("cache"),
                   help="decoded photos in RAM or a disk file (default: RAM when under half the free memory)")
    t.add_argument("--strategy", choices=STRATEGIES, default=d("strategy"),
                   help="tf.distribute strategy (default auto: mirrored with 2+ GPUs)")
    t.add_argument("--mixed-precision", action="store_true", help="mixed_float16 training (GPUs with tensor cores)")
    t.add_argument("--target-precision", type=float, default=d("target_precision"), metavar="P",
                   help="precision (0..1) wanted of the answers an app shows: the confidence threshold is chosen on the "
                        "validation split to reach it (default %(default)s)")
    t.add_argument("--calibration-fraction", type=float, default=d("calibration_fraction"), metavar="F",
                   help="share of the validation split kept apart from early stopping to fit the temperature and the "
                        "threshold (default %(default)s; 0: fit them on the early-stopping photos)")
    t.add_argument("--negatives", default=None, metavar="DIR",
                   help="photos that are none of the classes (other cars, streets, anything): trained as the class "
                        "'(not a car)'")


def _add_localize(sub) -> None:
    lo = sub.add_parser("localize", help="train a run's localizer (the car's box) from copy-paste composites",
                        description="Paste the run's training photos into scenes at random scale and place, fit box heads "
                                    "on the frozen backbone's features, keep the one with the best mean IoU on the "
                                    "validation split's scenes; writes RUN_DIR/localizer/ (the classifier is unchanged). "
                                    "Export then ships one model with two outputs, probabilities and box.")
    lo.add_argument("run_dir", metavar="RUN_DIR")
    lo.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")
    lo.add_argument("--scenes-per-photo", dest="per_photo", type=_integer("--scenes-per-photo"), default=6, metavar="N",
                    help="scenes per training photo: the crop itself and N - 1 composites (default 6)")
    lo.add_argument("--epochs", type=_integer("--epochs"), default=60, metavar="N", help="epochs per head (default 60)")
    lo.add_argument("--seed", type=int, default=0, help="composites and heads (default 0)")
    lo.add_argument("--extra-photos", dest="extra_photos", default=None, metavar="DIR",
                    help="more car photos cropped to the car, any classes, for training the box only (the run's own "
                         "photos are left out, so its validation and test photos stay unseen)")
    lo.add_argument("--extra-limit", type=_integer("--extra-limit"), default=2000, metavar="N",
                    help="at most N of --extra-photos, chosen with --seed (default 2000)")
    lo.add_argument("--extra-scenes", dest="extra_per_photo", type=_integer("--extra-scenes"), default=3, metavar="N",
                    help="scenes per extra photo: the crop and N - 1 composites (default 3)")
    lo.add_argument("--layers", default="mixed10,mixed7", metavar="LIST",
                    help="backbone layers to fit a box head on, the best kept (default mixed10,mixed7)")


def _add_export(sub) -> None:
    from carspotter.export.bundle import ExportOptions
    from carspotter.model.formats import FAMILIES, FORMATS
    from carspotter.measure.gates import Gates

    titles = ", ".join(f.title for f in FORMATS.values())
    e = sub.add_parser("export", help=f"convert a run to {titles} bundles",
                       description=f"Convert RUN_DIR's reference model to every format ({titles}) "
                                   "and write the bundle folder (one folder per platform, manifest.json) atomically.")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle folder to write, e.g. bundles/NAME")
    e.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma-separated subset of {','.join(FORMATS)} (default all)")
    e.add_argument("--data", default=None, metavar="DIR",
                   help="the run's photo folder, when it is no longer where run.json says (run copied from another machine)")
    for option in (o for f in FORMATS.values() for o in f.options):  # what each format declares
        e.add_argument(option.flag, type=type(option.choices[0]), choices=option.choices, default=option.default,
                       help=option.help)
    baselines = ", ".join(f"{f.title} {f.baseline}" for f in FORMATS.values())
    always = "".join(f", and {f.title} {v.name}" for f in FORMATS.values() for v in f.variants if v.always)
    e.add_argument("--variants", default=None, metavar="FAMILIES",
                   help=f"build and gate reduced-precision variants: comma-separated {','.join(FAMILIES)} "
                        f"(default: one variant per format, {baselines}{always}); each format's "
                        "default file is the smallest, then fastest, variant that passes its gates")
    e.add_argument("--golden", type=_integer("--golden"), default=_default(ExportOptions, "golden"), metavar="N",
                   help="photos of the test split in the bundle's golden set, with the reference's answers, so the "
                        "bundle checks itself anywhere (default %(default)s; 0: none)")
    e.add_argument("--no-app-paths", dest="app_paths", action="store_false",
                   help="do not measure the app paths at export (the photo decoded and resized as apps do it: MediaPipe, "
                        "OpenCV, sharp, the npm package in Node and Chromium); the platform READMEs then have no Resizing "
                        "table and the manifest no app_paths; parity still measures them")
    e.add_argument("--calibration-photos", type=_integer("--calibration-photos"),
                   default=_default(ExportOptions, "calibration_photos"), metavar="N",
                   help="representative training photos for calibrated variants, drawn round-robin over the classes; a "
                        "calibrated variant's gate leaves out those it read (default %(default)s)")
    e.add_argument("--gate-photos", type=_integer("--gate-photos"), default=_default(ExportOptions, "gate_photos"),
                   metavar="N", help="with --variants, judge each variant on up to N of the run's labelled photos (test, "
                                     "val, then train; a calibrated variant without the representative photos it read) "
                                     "(default %(default)s)")
    e.add_argument("--drift-photos", type=_integer("--drift-photos"), default=_default(ExportOptions, "drift_photos"),
                   metavar="N", help="per-layer drift of every variant a gate leaves out, on N gate photos, recorded in "
                                     "the manifest (0: none) (default %(default)s)")
    for flag, name, text in (("--gate-fp16-agreement", "fp16_min_agreement", "fp16 variants: lowest lower bound (95 %% "
                              "Wilson) of the top-1 agreement"),
                             ("--gate-int8-drop", "int8_max_top1_drop", "int8 and lowbit variants: largest top-1 drop the "
                              "paired difference's lower bound (95 %% Newcombe) may show"),
                             ("--gate-int8-agreement", "int8_min_agreement", "int8 and lowbit variants: lowest lower bound of "
                              "the top-1 agreement (near-ties count as agreeing)")):
        e.add_argument(flag, dest=name, type=float, default=_default(Gates, name), metavar="RATE",
                       help=f"{text} with the reference, 0..1 (default %(default)s)")


def _roi(text: str) -> tuple:
    """``--roi X0,Y0,X1,Y1``: four numbers (checked against each photo's size when it is decoded)."""
    from carspotter.model.roi import RoiError, parse_roi

    try:
        return parse_roi(text)
    except RoiError as exc:
        raise argparse.ArgumentTypeError(f"{exc}") from None


def _add_predict(sub) -> None:
    from carspotter.model.formats import FORMATS

    r = sub.add_parser("predict", help="top-K labels per photo from every format, side by side, with warnings",
                       description="What the model says about each photo, in each format (each on the first of its "
                                   "runtimes available here), whether the formats agree, and what "
                                   "may mislead it (stretch, downscale, upscale, low confidence). Unreadable photos are "
                                   "listed with the reason; the others are still predicted.")
    r.add_argument("source", metavar="RUN_DIR|BUNDLE_DIR")
    r.add_argument("photos", metavar="PHOTO_OR_FOLDER", nargs="+")
    r.add_argument("--format", default="all", help=f"comma list of keras, {', '.join(FORMATS)}, or all (default: all the "
                                                    "folder holds; Keras when the bundle's run is found)")
    r.add_argument("--variant", default=None, metavar="NAME", help="a shipped variant (fp16, int8-dynamic, ...) "
                                                                    "instead of each format's default")
    r.add_argument("--top", type=_integer("--top"), default=3, metavar="K", help="answers per format (default 3)")
    r.add_argument("--run", default=None, metavar="RUN_DIR", help="the bundle's run, for the Keras reference and heatmaps")
    r.add_argument("--json", action="store_true", help="print the predictions as JSON instead of a table")
    r.add_argument("--roi", default=None, type=_roi, metavar="X0,Y0,X1,Y1",
                   help="region of interest: whole pixels of the upright photo (after EXIF orientation), half-open, "
                        "inside the photo; cut at full resolution before the resize (default: the whole photo)")
    r.add_argument("--two-pass", action="store_true",
                   help="also two-pass recognition with the run's localizer (carspotter localize): pass 1 finds the car, "
                        "pass 2 classifies its box at full resolution when it is small; the box is drawn on --report")
    r.add_argument("--report", default=None, metavar="DIR",
                   help="write DIR/predict.html (self-contained: original, exact input, Grad-CAM heatmap, top-K bars "
                        "per format) and DIR/predict.json; needs the Keras reference")


def _add_drift(sub) -> None:
    d = sub.add_parser("drift", help="per-layer drift of a bundle's variants against the Keras reference (JSON and a page)",
                       description="For each shipped variant of BUNDLE_DIR, the relative error of every probe (the "
                                   "reference's cut points: stem, mixed blocks, pooled features, probabilities) against "
                                   "the Keras reference on the run's test photos; the first layer beyond tolerance and the "
                                   "layers that add most. Variants a gate left out at export are shown as recorded.")
    d.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    d.add_argument("--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)")
    d.add_argument("--variants", default=None, metavar="LIST", help="FORMAT/VARIANT,... (default: every shipped variant)")
    d.add_argument("--photos", type=_integer("--photos"), default=8, metavar="N", help="test photos (default 8)")
    d.add_argument("--tolerance", type=float, default=0.10, metavar="E",
                   help="mean relative L2 error beyond which a probe has drifted (default 0.10)")
    d.add_argument("--out", default=None, metavar="DIR", help="write drift.json and drift.html here (default: the bundle folder)")


def _add_evaluate(sub) -> None:
    from carspotter.contracts import readers
    from carspotter.measure.requirements import METRICS

    ev = sub.add_parser("evaluate", help="every figure of a bundle (or run) on labelled photos, with 95%% intervals; "
                                         "gates for CI (--require) and a comparison with another bundle (--baseline)",
                        description="Evaluate the Keras reference (when the run is found), every shipped format variant "
                                    "and every app path on DATA (default: the run's test split); print a table, write "
                                    "evaluate.json and evaluate.html to --out. Exit 1 when a --require condition fails.")
    ev.add_argument("source", metavar="RUN_DIR|BUNDLE_DIR")
    ev.add_argument("data", nargs="?", default=None, metavar="DATA",
                    help="labelled photos in any layout train reads: class folders (optionally with train/ val/ test/), "
                         "a .csv (path,label[,split]) or a Stanford Cars devkit folder (default: the run's test split)")
    ev.add_argument("--format", dest="layout", choices=readers.FORMATS, default="auto", help="DATA's layout (default: detect)")
    ev.add_argument("--mapping", default=None, metavar="FILE", help="JSON or CSV renaming DATA's classes to the bundle's labels")
    ev.add_argument("--crop-to-box", action="store_true",
                    help="give the model each photo's box as its region of interest (a CSV's x0,y0,x1,y1 columns or "
                         "the Stanford Cars devkit's)")
    ev.add_argument("--two-pass", action="store_true",
                    help="also two-pass recognition with the run's localizer (carspotter localize): for the reference "
                         "column a two_pass object with the same figures, how often pass 2 ran, and the box IoU when "
                         "the photos have boxes")
    ev.add_argument("--split", default=None, choices=("train", "val", "test"),
                    help="only the photos of this split (DATA with split folders or a split column; without DATA: the run's)")
    ev.add_argument("--formats", default=None, metavar="LIST", help="comma-separated formats to evaluate (default: all shipped)")
    ev.add_argument("--no-app-paths", dest="app_paths", action="store_false", help="skip the app paths")
    ev.add_argument("--require", action="append", default=None, metavar="COND",
                    help="a release condition, repeatable: [TARGET:]METRIC[.low|.high] OP NUMBER, e.g. \"top1>=0.80\", "
                         f"\"FORMAT/VARIANT:top1.low>=0.7\", \"delta_top1.low>=-0.02\"; metrics: {', '.join(METRICS)}")
    ev.add_argument("--baseline", default=None, metavar="BUNDLE_DIR",
                    help="compare each format's default variant with this bundle's on the same photos")
    ev.add_argument("--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)")
    ev.add_argument("--out", default=None, metavar="DIR", help="write evaluate.json and evaluate.html here "
                                                              "(default evaluations/NAME)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carspotter", description="Train a car make/model recognizer and ship it to phones.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--verbose", action="store_true",
                        help="let TensorFlow's start-up log lines through (also: CARSPOTTER_VERBOSE=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_localize(sub)
    _add_export(sub)
    p = sub.add_parser("parity", help="check every format's top-3 against the reference model",
                       description="Check BUNDLE_DIR: every format's top-1 and top-3 against the Keras reference on real "
                                   "photos. Writes parity.json and updates manifest.json. Exit 1 on failure. "
                                   "For pytest and JUnit XML: pytest parity_tests --bundle BUNDLE_DIR.")
    p.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    p.add_argument("--run", default=None, metavar="RUN_DIR",
                   help="the run the bundle was exported from, for the live reference on its test split (default: "
                        "runs/NAME if found; without it the bundle's golden set is the reference)")
    p.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")
    p.add_argument("--images", default=None, metavar="DIR", help="photos for the live reference (needs the run)")
    p.add_argument("--limit", type=_integer("--limit"), default=None, metavar="N", help="check at most N live photos")
    p.add_argument("--no-app-paths", dest="app_paths", action="store_false",
                   help="skip the app paths (the photo decoded and resized as apps do it: MediaPipe, OpenCV, sharp, ...)")
    p.add_argument("--app-gate", action="store_true",
                   help="an app path that misses its gate fails the run (exit 1); by default it is reported")
    p.add_argument("--reference-backends", type=_reference_backends, default=None, metavar="LIST",
                   help="the Keras reference on other backends and devices, each checked against the canonical "
                        "TensorFlow CPU one on the run's photos: BACKEND-DEVICE[-tf32], comma-separated, e.g. "
                        "jax-cpu,jax-gpu,tensorflow-gpu,jax-gpu-tf32 (default: jax-cpu,tensorflow-gpu,jax-gpu, full "
                        "float32; GPU rows skip where no GPU is visible); 'none' for none")
    _add_predict(sub)
    b = sub.add_parser("benchmark", help="one table of every format and shipped variant: size, accuracy, agreement, "
                                         "parity, load time, latency, throughput, %% of fp32 peak",
                       description="Measure BUNDLE_DIR's formats and shipped variants and the Keras reference on this "
                                   "machine; print a Markdown table, write it with JSON and a PNG chart to --out.")
    b.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    b.add_argument("--photos", type=_integer("--photos"), default=None, metavar="N", help="at most N test photos (default all)")
    b.add_argument("--threads", type=_integer("--threads"), default=2, metavar="N", help="CPU threads per runtime (default 2)")
    b.add_argument("--batch", type=_integer("--batch"), default=8, metavar="N", help="batch of the throughput column (default 8)")
    b.add_argument("--runs", type=_integer("--runs"), default=30, metavar="N",
                   help="timed batch-1 calls per predictor, interleaved (default and minimum 30)")
    b.add_argument("--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)")
    b.add_argument("--clock-mhz", type=float, default=None, metavar="MHZ",
                   help="the cores' clock for the fp32 peak (default: cpu MHz in /proc/cpuinfo, the base clock in a VM)")
    b.add_argument("--out", default=None, metavar="DIR", help="write benchmark.md/.json/.png here (default benchmarks/NAME)")
    _add_evaluate(sub)
    _add_drift(sub)
    rp = sub.add_parser("report", help="(re)write a run's report.html from its model and test photos",
                        description="Evaluate RUN_DIR's model again on its val and test photos and write report.html "
                                    "(training writes it too; this is for runs made before it existed, or after --data moved).")
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")
    _add_signing(sub)
    return parser


def _add_signing(sub) -> None:
    """``carspotter sign`` and ``carspotter verify`` (docs/bundles-and-apps.md, "Signed bundles")."""
    sg = sub.add_parser("sign", help="sign a bundle (OpenSSF model-signing): who made it, not only what it holds",
                        description="Check BUNDLE_DIR against its manifest, then sign every file of it (manifest.json "
                                    "included; parity's and drift's reports left out) and write BUNDLE_DIR/carspotter.sig.")
    sg.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    sg.add_argument("--key", default=None, metavar="PEM", help="elliptic-curve private key (PEM) to sign with")
    sg.add_argument("--password-env", default=None, metavar="VAR", help="environment variable holding the key's password")
    sg.add_argument("--certificate", default=None, metavar="PEM", help="signing certificate of --key (certificate signing)")
    sg.add_argument("--chain", action="append", default=[], metavar="PEM", help="certificate chain (repeat)")
    sg.add_argument("--sigstore", action="store_true", help="keyless Sigstore signing with the ambient OpenID Connect "
                                                            "identity (GitHub Actions with id-token: write)")
    v = sub.add_parser("verify", help="check a bundle's files against its manifest, and its signature",
                       description="Validate BUNDLE_DIR/manifest.json and every listed file's size and sha256; with "
                                   "--public-key, --chain or --identity also the signature (carspotter.sig) and every "
                                   "signed file. Names the first file that differs; exit 2.")
    v.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    v.add_argument("--public-key", default=None, metavar="PEM", help="public key of the signing key")
    v.add_argument("--chain", action="append", default=[], metavar="PEM",
                   help="certificate chain of a certificate signature (repeat; none: the system's roots)")
    v.add_argument("--certificate", action="store_true", help="the signature is a certificate one (with --chain)")
    v.add_argument("--identity", default=None, help="Sigstore: the signer's identity (e.g. the workflow's URL)")
    v.add_argument("--issuer", default=None, help="Sigstore: its OpenID Connect issuer")
