"""What each ``carspotter`` command does, one function per command (:data:`COMMANDS`, the CLI's dispatch table):
each takes the parsed arguments and returns the exit code. Imports are inside the functions, so a command loads only
the stages it runs.
"""

from __future__ import annotations

import sys
from dataclasses import fields


def train(args) -> int:
    from carspotter.train.trainer import TrainConfig, train as run_training

    names = {f.name for f in fields(TrainConfig)}
    print(f"run folder: {run_training(TrainConfig(**{k: v for k, v in vars(args).items() if k in names}))}")
    return 0


def localize(args) -> int:
    from carspotter.train.localizer import localize as run_localize

    say = lambda m: print(f"[localize] {m}", file=sys.stderr, flush=True)  # noqa: E731
    layers = tuple(x.strip() for x in args.layers.split(",") if x.strip())
    record = run_localize(
        args.run_dir,
        args.data,
        args.per_photo,
        args.epochs,
        args.seed,
        log=say,
        extra=args.extra_photos,
        extra_limit=args.extra_limit,
        extra_per_photo=args.extra_per_photo,
        layers=layers,
    )
    chosen = record["candidates"][record["feature_layer"]]
    print(
        f"localizer on {record['feature_layer']}: mean IoU {chosen['mean_iou']:.3f} "
        f"[{chosen['mean_iou_ci'][0]:.3f}, {chosen['mean_iou_ci'][1]:.3f}] on {chosen['n']} validation scenes"
    )
    return 0


def export(args) -> int:
    from carspotter.export.bundle import ExportOptions, export_bundle
    from carspotter.model.formats import FORMATS, parse_formats
    from carspotter.measure.gates import Gates

    gates = Gates(**{f.name: getattr(args, f.name) for f in fields(Gates)})
    own = {o.dest: getattr(args, o.dest) for f in FORMATS.values() for o in f.conversion.options}
    opts = ExportOptions(
        formats=parse_formats(args.formats),
        format_options=own,
        variants=args.variants,
        calibration_photos=args.calibration_photos,
        gates=gates,
        gate_photos=args.gate_photos,
        drift_photos=args.drift_photos,
        golden=args.golden,
        data=args.data,
        app_paths=args.app_paths,
    )
    print(f"bundle folder: {export_bundle(args.run_dir, args.out, opts)}")
    return 0


def parity(args) -> int:
    from carspotter.util.errors import UsageError
    from carspotter.parity.run import run_parity

    if args.extra:
        raise UsageError(
            f"{' '.join(args.extra)}: carspotter parity runs its checks without pytest; for pytest options "
            f"run `pytest parity_tests --bundle {args.bundle_dir} {' '.join(args.extra)}`"
        )
    return run_parity(
        args.bundle_dir,
        images=args.images,
        limit=args.limit,
        run=args.run,
        data=args.data,
        app_paths=args.app_paths,
        app_gate=args.app_gate,
        references=args.reference_backends,
    )


def predict(args) -> int:
    from carspotter.tools import predict as pr
    from carspotter.util.errors import UsageError

    if args.top < 1:
        raise UsageError(f"--top {args.top}: must be at least 1")
    source = pr.open_source(args.source, args.format, args.variant, args.run)
    try:
        return _predict_with(args, source, pr.collect_photos(args.photos))
    finally:
        source.close()


def _predict_with(args, source, files) -> int:
    """``carspotter predict`` on an opened source (its sessions closed by the caller)."""
    import json

    import numpy as np

    from carspotter.measure import gradcam
    from carspotter.tools import predict as pr
    from carspotter.util.errors import UsageError
    from carspotter.tools.predict_report import figures, write_report
    from carspotter.tools.predict_two_pass import add_two_pass

    layer = None
    if args.report is not None:
        if source.reference is None:
            raise UsageError(
                "--report: heatmaps need the Keras reference: keep keras in --format, and for a bundle whose "
                "run was not found pass --run RUN_DIR"
            )
        _, layer = gradcam.last_conv_block(source.reference)
    say = lambda m: print(f"[predict] {m}", file=sys.stderr, flush=True)  # noqa: E731
    say(f"{len(files)} photos through {', '.join(p.format for p in source.predictors)}")
    predictions, skipped = pr.predict(source, files, args.top, log=say, roi=args.roi)
    if args.two_pass and predictions:
        add_two_pass(source, predictions, args.top, args.roi)
        say(f"two passes on {len(predictions)} photos: pass 2 on {sum(p.two_pass['passes'] == 2 for p in predictions)}")
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    if not predictions:
        raise UsageError(f"none of the {len(files)} photos could be read (reasons above); pass readable photos")
    if args.report is not None:
        say(f"Grad-CAM heatmaps of {len(predictions)} photos on {layer}")
        cls = np.array([source.labels.index(p.top["keras"][0][0]) for p in predictions])
        heat = gradcam.gradcam(source.reference, np.stack([p.pixels for p in predictions]), cls)
        say(f"report: {write_report(args.report, source, predictions, skipped, heat, layer, args.top)}")
    if args.json:
        print(json.dumps(figures(source, predictions, skipped, layer, args.top), indent=2, ensure_ascii=False))
        return 0
    for p in source.predictors:
        print(f"# {p.key}: {p.target}")
    for p in predictions:
        where = f", ROI {','.join(map(str, p.roi))}" if p.roi else ""
        print(f"{p.path} ({p.size[0]}x{p.size[1]}{where}): {'formats agree' if p.agree else 'FORMATS DISAGREE'}")
        for name, rows in p.top.items():
            print(f"  {name:<20} " + " | ".join(f"{label} {prob:.3f}" for label, prob in rows))
        if p.two_pass:
            where = f"pass 2 on ROI {','.join(map(str, p.two_pass['roi']))}" if p.two_pass["roi"] else "pass 1 only"
            print(
                f"  {'two-pass (keras)':<20} "
                + " | ".join(f"{t['label']} {t['probability']:.3f}" for t in p.two_pass["top"])
                + f"  ({where})"
            )
        for w in p.warnings:
            print(f"  warning: {w}")
    return 0


def evaluate(args) -> int:
    from pathlib import Path

    from carspotter.measure.requirements import parse_all
    from carspotter.tools.evaluate import evaluate as run_evaluation, table, write

    requirements = parse_all(args.require)
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip()) if args.formats else None
    result = run_evaluation(
        args.source,
        args.data,
        layout=args.layout,
        mapping=args.mapping,
        crop=args.crop_to_box,
        split=args.split,
        formats=formats,
        with_app_paths=args.app_paths,
        require=requirements,
        baseline=args.baseline,
        run=args.run,
        two_pass=args.two_pass,
        log=lambda m: print(f"[evaluate] {m}", file=sys.stderr, flush=True),
    )
    print(table(result))
    out = write(result, args.out or Path("evaluations") / Path(args.source).resolve().name)
    print(f"written to {out}/evaluate.json, evaluate.html", file=sys.stderr)
    for r in result.requirements:
        for line in r["failures"]:
            print(f"carspotter evaluate: condition failed: {line}", file=sys.stderr)
    return 0 if result.passed else 1


def benchmark(args) -> int:
    from pathlib import Path

    from carspotter.tools.benchmark import markdown, run_benchmark, write

    report = run_benchmark(
        args.bundle_dir,
        args.photos,
        args.threads,
        args.batch,
        args.runs,
        args.run,
        log=lambda m: print(f"[benchmark] {m}", file=sys.stderr, flush=True),
        clock_mhz=args.clock_mhz,
    )
    print(markdown(report))
    out = write(report, args.out or Path("benchmarks") / Path(args.bundle_dir).resolve().name)
    print(f"written to {out}/benchmark.md, benchmark.json, benchmark.png", file=sys.stderr)
    return 0


def drift(args) -> int:
    from pathlib import Path

    from carspotter.tools.drift import run_drift, write

    drifts = run_drift(
        args.bundle_dir,
        args.run,
        args.variants,
        args.photos,
        args.tolerance,
        log=lambda m: print(f"[drift] {m}", file=sys.stderr, flush=True),
    )
    for d in drifts:
        print(d.summary())
    out = write(drifts, args.out or args.bundle_dir, Path(args.bundle_dir).resolve().name)
    print(f"written to {out}/drift.json, drift.html", file=sys.stderr)
    return 0


def report(args) -> int:
    from carspotter.train.report_page import write_for_run

    print(f"report: {write_for_run(args.run_dir, args.data)}")
    return 0


def _method(args, signing: bool):
    import os
    from pathlib import Path

    from carspotter.contracts.signature import SigningMethod

    def path(value):
        return Path(value) if value else None

    if signing:
        password = os.environ.get(args.password_env) if args.password_env else None
        return SigningMethod(
            private_key=path(args.key),
            certificate=path(args.certificate),
            chain=tuple(map(Path, args.chain)),
            sigstore=args.sigstore,
            password=password,
        )
    return SigningMethod(
        public_key=path(args.public_key), chain=tuple(map(Path, args.chain)), identity=args.identity, issuer=args.issuer
    )


def sign(args) -> int:
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.contracts.signature import sign as sign_bundle

    manifest = verify_bundle(args.bundle_dir)
    path = sign_bundle(args.bundle_dir, _method(args, signing=True))
    print(f"{args.bundle_dir}: {len(manifest.files)} files and manifest.json signed: {path}")
    return 0


def verify(args) -> int:
    from carspotter.contracts.manifest import verify_bundle
    from carspotter.contracts.signature import is_signed, verify_signature

    checked = bool(args.public_key or args.chain or args.certificate or args.identity)
    if checked:  # the signature first: it covers manifest.json, so it names whatever changed, the manifest included
        verify_signature(args.bundle_dir, _method(args, signing=False))
        print(f"{args.bundle_dir}: signature OK: every signed file is as signed")
    manifest = verify_bundle(args.bundle_dir)
    print(f"{args.bundle_dir}: OK, {len(manifest.files)} files match manifest.json")
    if not checked and is_signed(args.bundle_dir):
        print(
            f"{args.bundle_dir}: signed (carspotter.sig), signature not checked: pass --public-key PEM, --chain PEM "
            "or --identity/--issuer"
        )
    return 0


COMMANDS = {
    "train": train,
    "localize": localize,
    "export": export,
    "parity": parity,
    "predict": predict,
    "evaluate": evaluate,
    "benchmark": benchmark,
    "drift": drift,
    "report": report,
    "verify": verify,
    "sign": sign,
}
"""Command name -> ``(args) -> exit code``: the CLI's dispatch table."""
