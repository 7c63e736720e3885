"""The ``carspotter`` console command: train, export, parity, verify.

Errors a user can cause print one line and exit with code 2; ``--debug`` shows the
traceback. A parity failure exits with code 1.
"""

from __future__ import annotations

import argparse
import os
import sys


def _integer(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} {text!r}: not an integer") from None
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carspotter", description="Train a car make/model recognizer and ship it to phones.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="fine-tune InceptionV3 on a folder of labelled car photos",
                       description="Fine-tune InceptionV3 on DATA and write a run folder: model.keras, labels.txt, run.json, "
                                   "split_*.csv, report.md/json and plots. Killed runs resume from the last finished "
                                   "epoch when the same command is run again.")
    t.add_argument("data_dir", metavar="DATA",
                   help="class-folder tree (optionally with train/ val/ test/ subfolders), a .csv manifest "
                        "(path,label[,split]) or a Stanford Cars devkit folder")
    t.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write, e.g. runs/NAME (replaced atomically)")
    t.add_argument("--weights", default="imagenet", metavar="imagenet|none|PATH",
                   help="backbone weights: Keras' ImageNet download (default), random init, or a Keras weights file")
    t.add_argument("--input-range", choices=["-1,1", "0,1"], default=None,
                   help="pixel range the weights were trained on (required with a weights file; ImageNet: -1,1)")
    t.add_argument("--weights-fallback-none", action="store_true",
                   help="if the ImageNet download fails, train from random initialization (warns, records it)")
    t.add_argument("--max-classes", type=_integer("--max-classes"), default=None, metavar="N", help="keep the first N classes by name")
    t.add_argument("--min-photos", type=_integer("--min-photos"), default=5, metavar="N", help="drop classes with fewer photos (default 5)")
    t.add_argument("--format", dest="data_format", choices=["auto", "folders", "csv", "devkit"], default="auto",
                   help="dataset layout (default: auto-detect)")
    t.add_argument("--mapping", default=None, metavar="FILE",
                   help="JSON {\"from\": \"to\"} or CSV from,to file renaming or merging classes")
    t.add_argument("--crop-to-box", action="store_true", help="crop photos to their bounding boxes (Stanford Cars devkit)")
    t.add_argument("--epochs-head", type=_integer("--epochs-head"), default=20, metavar="N",
                   help="phase 1 epochs at most, base frozen (default 20)")
    t.add_argument("--epochs-finetune", type=_integer("--epochs-finetune"), default=5, metavar="N",
                   help="phase 2 epochs at most, top 50 layers (default 5)")
    t.add_argument("--head-mode", choices=["cached", "naive"], default="cached",
                   help="phase 1 on bottleneck features computed once (default) or through the frozen base every epoch")
    t.add_argument("--head-views", type=_integer("--head-views"), default=1, metavar="N",
                   help="augmented copies of each training photo in the feature cache (default 1)")
    t.add_argument("--augment", default="flip,crop=0.6,rotate=5,brightness=0.1,contrast=0.1", metavar="SPEC",
                   help="training augmentation: comma-separated flip, crop=MIN_AREA, rotate=DEG, brightness=B, "
                        "contrast=C, or none (default %(default)s)")
    t.add_argument("--sampling", choices=["class-weights", "balanced", "none"], default="class-weights",
                   help="class imbalance: class weights (default), balanced sampling, or nothing")
    t.add_argument("--label-smoothing", type=float, default=0.1, metavar="X", help="label smoothing 0..<1 (default 0.1)")
    t.add_argument("--patience", type=_integer("--patience"), default=3, metavar="N",
                   help="stop a phase after N epochs without a better val top-1, best weights kept (0: never; default 3)")
    t.add_argument("--batch-size", type=_integer("--batch-size"), default=16, metavar="N", help="per replica (default 16)")
    t.add_argument("--image-size", type=_integer("--image-size"), default=299, metavar="PX", help="input side, >= 75 (default 299)")
    t.add_argument("--lr-head", type=float, default=1e-3, help="phase 1 learning rate for one replica (default 1e-3)")
    t.add_argument("--lr-finetune", type=float, default=1e-4, help="phase 2 learning rate for one replica (default 1e-4)")
    t.add_argument("--cache", choices=["auto", "memory", "disk"], default="auto",
                   help="decoded photos in RAM or a disk file (default: RAM when under half the free memory)")
    t.add_argument("--strategy", choices=["auto", "default", "mirrored", "multiworker"], default="auto",
                   help="tf.distribute strategy (default auto: mirrored with 2+ GPUs)")
    t.add_argument("--mixed-precision", action="store_true", help="mixed_float16 training (GPUs with tensor cores)")
    t.add_argument("--workers", type=_integer("--workers"), default=4, metavar="N", help="decoding threads (default 4)")
    t.add_argument("--seed", type=_integer("--seed"), default=1337)

    e = sub.add_parser("export", help="convert a run to Core ML, TFLite and ONNX bundles",
                       description="Convert RUN_DIR's reference model to Core ML (.mlpackage), TFLite and ONNX, and write "
                                   "the bundle folder (ios/, android/, onnx/, manifest.json) atomically.")
    e.add_argument("run_dir", metavar="RUN_DIR")
    e.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle folder to write, e.g. bundles/NAME")
    e.add_argument("--formats", default="coreml,tflite,onnx", help="comma-separated subset of coreml,tflite,onnx (default all)")
    e.add_argument("--coreml-precision", choices=["fp16", "fp32"], default="fp16",
                   help="Core ML compute precision (default fp16, Core ML's own default for mlprogram)")
    e.add_argument("--onnx-opset", type=int, choices=[17, 18], default=17)
    e.add_argument("--variants", default=None, metavar="FAMILIES",
                   help="build and gate reduced-precision variants: comma-separated fp32,fp16,int8 "
                        "(default: one variant per format, Core ML fp16, TFLite fp32, ONNX fp32)")
    e.add_argument("--calibration-photos", type=_integer("--calibration-photos"), default=200, metavar="N",
                   help="representative training photos for full-integer int8 (default 200)")
    e.add_argument("--gate-fp16-agreement", type=float, default=0.995, metavar="RATE",
                   help="fp16 variants: minimum top-1 agreement with the reference (default 0.995)")
    e.add_argument("--gate-int8-drop", type=float, default=0.01, metavar="RATE",
                   help="int8 variants: maximum top-1 accuracy drop from the reference (default 0.01 = 1 point)")
    e.add_argument("--gate-int8-agreement", type=float, default=0.97, metavar="RATE",
                   help="int8 variants: minimum top-1 agreement with the reference (default 0.97)")

    p = sub.add_parser("parity", help="check every format's top-3 against the reference model",
                       description="Run the parity suite on BUNDLE_DIR: every format's top-1 and top-3 against the Keras "
                                   "reference on real photos. Writes parity.json and updates manifest.json. Exit 1 on failure.")
    p.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    p.add_argument("--images", default=None, metavar="DIR", help="photos to check (default: the run's test split)")
    p.add_argument("--limit", type=_integer("--limit"), default=None, metavar="N", help="check at most N photos")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --")

    v = sub.add_parser("verify", help="check a bundle's files against the sha256 in its manifest",
                       description="Validate BUNDLE_DIR/manifest.json and every listed file's size and sha256.")
    v.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``carspotter`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from carspotter.errors import CarspotterError

    try:
        return _dispatch(args)
    except CarspotterError as exc:
        if args.debug:
            raise
        print(f"carspotter {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"carspotter {args.command}: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    if args.command == "train":
        from carspotter.train.trainer import TrainConfig, train

        from dataclasses import fields

        names = {f.name for f in fields(TrainConfig)}
        cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
        out = train(cfg)
        print(f"run folder: {out}")
        return 0
    if args.command == "export":
        from carspotter.export.bundle import ExportOptions, export_bundle
        from carspotter.export.variants import Gates

        opts = ExportOptions(formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
                             coreml_precision=args.coreml_precision, onnx_opset=args.onnx_opset, variants=args.variants,
                             calibration_photos=args.calibration_photos,
                             gates=Gates(args.gate_fp16_agreement, args.gate_int8_drop, args.gate_int8_agreement))
        out = export_bundle(args.run_dir, args.out, opts)
        print(f"bundle folder: {out}")
        return 0
    if args.command == "parity":
        from carspotter.parity_tests.runner import run_parity

        extra = [a for a in args.pytest_args if a != "--"]
        return run_parity(args.bundle_dir, images=args.images, limit=args.limit, pytest_args=extra)
    if args.command == "verify":
        from carspotter.export.manifest import verify_bundle

        manifest = verify_bundle(args.bundle_dir)
        print(f"{args.bundle_dir}: OK, {len(manifest['files'])} files match manifest.json")
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
