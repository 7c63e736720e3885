"""The ``carspotter`` command line: its parser, one sub-parser per command (those of the commands that make things,
train, localize and export, in :mod:`carspotter.cli.stage_parsers`).

Choices and defaults come from the modules that define them (``TrainConfig``, ``ExportOptions``, ``Gates``, the
format registry, the readers, the strategies, the reference backends), so the command line cannot drift from the code.
"""

from __future__ import annotations

import argparse

from carspotter.cli.argtypes import integer
from carspotter.cli.stage_parsers import add_export, add_localize, add_train


def _reference_backends(text: str) -> tuple:
    """``--reference-backends``: comma-separated BACKEND-DEVICE[-tf32] names, or ``none``."""
    from carspotter.model.backends import ReferenceBackend

    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(ReferenceBackend.parse(name) for name in text.split(",") if name.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--reference-backends: {exc}") from None


def _roi(text: str) -> tuple:
    """``--roi X0,Y0,X1,Y1``: four numbers (checked against each photo's size when it is decoded)."""
    from carspotter.model.roi import RoiError, parse_roi

    try:
        return parse_roi(text)
    except RoiError as exc:
        raise argparse.ArgumentTypeError(f"{exc}") from None


def _add_predict(sub) -> None:
    from carspotter.model.formats import FORMATS

    r = sub.add_parser(
        "predict",
        help="top-K labels per photo from every format, side by side, with warnings",
        description="What the model says about each photo, in each format (each on the first of its "
        "runtimes available here), whether the formats agree, and what "
        "may mislead it (stretch, downscale, upscale, low confidence). Unreadable photos are "
        "listed with the reason; the others are still predicted.",
    )
    r.add_argument("source", metavar="RUN_DIR|BUNDLE_DIR")
    r.add_argument("photos", metavar="PHOTO_OR_FOLDER", nargs="+")
    r.add_argument(
        "--format",
        default="all",
        help=f"comma list of keras, {', '.join(FORMATS)}, or all (default: all the "
        "folder holds; Keras when the bundle's run is found)",
    )
    r.add_argument(
        "--variant",
        default=None,
        metavar="NAME",
        help="a shipped variant (fp16, int8-dynamic, ...) instead of each format's default",
    )
    r.add_argument("--top", type=integer("--top"), default=3, metavar="K", help="answers per format (default 3)")
    r.add_argument(
        "--run", default=None, metavar="RUN_DIR", help="the bundle's run, for the Keras reference and heatmaps"
    )
    r.add_argument("--json", action="store_true", help="print the predictions as JSON instead of a table")
    r.add_argument(
        "--roi",
        default=None,
        type=_roi,
        metavar="X0,Y0,X1,Y1",
        help="region of interest: whole pixels of the upright photo (after EXIF orientation), half-open, "
        "inside the photo; cut at full resolution before the resize (default: the whole photo)",
    )
    r.add_argument(
        "--two-pass",
        action="store_true",
        help="also two-pass recognition with the run's localizer (carspotter localize): pass 1 finds the car, "
        "pass 2 classifies its box at full resolution when it is small; the box is drawn on --report",
    )
    r.add_argument(
        "--report",
        default=None,
        metavar="DIR",
        help="write DIR/predict.html (self-contained: original, exact input, Grad-CAM heatmap, top-K bars "
        "per format) and DIR/predict.json; needs the Keras reference",
    )


def _add_drift(sub) -> None:
    d = sub.add_parser(
        "drift",
        help="per-layer drift of a bundle's variants against the Keras reference (JSON and a page)",
        description="For each shipped variant of BUNDLE_DIR, the relative error of every probe (the "
        "reference's cut points: stem, mixed blocks, pooled features, probabilities) against "
        "the Keras reference on the run's test photos; the first layer beyond tolerance and the "
        "layers that add most. Variants a gate left out at export are shown as recorded.",
    )
    d.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    d.add_argument(
        "--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)"
    )
    d.add_argument(
        "--variants", default=None, metavar="LIST", help="FORMAT/VARIANT,... (default: every shipped variant)"
    )
    d.add_argument("--photos", type=integer("--photos"), default=8, metavar="N", help="test photos (default 8)")
    d.add_argument(
        "--tolerance",
        type=float,
        default=0.10,
        metavar="E",
        help="mean relative L2 error beyond which a probe has drifted (default 0.10)",
    )
    d.add_argument(
        "--out", default=None, metavar="DIR", help="write drift.json and drift.html here (default: the bundle folder)"
    )


def _add_evaluate(sub) -> None:
    from carspotter.contracts import readers

    ev = sub.add_parser(
        "evaluate",
        help="every figure of a bundle (or run) on labelled photos, with 95%% intervals; "
        "gates for CI (--require) and a comparison with another bundle (--baseline)",
        description="Evaluate the Keras reference (when the run is found), every shipped format variant "
        "and every app path on DATA (default: the run's test split); print a table, write "
        "evaluate.json and evaluate.html to --out. Exit 1 when a --require condition fails.",
    )
    ev.add_argument("source", metavar="RUN_DIR|BUNDLE_DIR")
    ev.add_argument(
        "data",
        nargs="?",
        default=None,
        metavar="DATA",
        help="labelled photos in any layout train reads: class folders (optionally with train/ val/ test/), "
        "a .csv (path,label[,split]) or a Stanford Cars devkit folder (default: the run's test split)",
    )
    ev.add_argument(
        "--format", dest="layout", choices=readers.FORMATS, default="auto", help="DATA's layout (default: detect)"
    )
    ev.add_argument(
        "--mapping", default=None, metavar="FILE", help="JSON or CSV renaming DATA's classes to the bundle's labels"
    )
    ev.add_argument(
        "--crop-to-box",
        action="store_true",
        help="give the model each photo's box as its region of interest (a CSV's x0,y0,x1,y1 columns or "
        "the Stanford Cars devkit's)",
    )
    ev.add_argument(
        "--two-pass",
        action="store_true",
        help="also two-pass recognition (carspotter localize): for the reference (the run's localizer) and each "
        "file with the box output, a two_pass object with the same figures, how often pass 2 ran, and the box "
        "IoU when the photos have boxes",
    )
    ev.add_argument(
        "--split",
        default=None,
        choices=("train", "val", "test"),
        help="only the photos of this split (DATA with split folders or a split column; without DATA: the run's)",
    )
    _add_evaluate_gates(ev)


def _add_evaluate_gates(ev) -> None:
    """``carspotter evaluate``'s targets, release conditions (``--require``), baseline and output."""
    from carspotter.measure.requirements import METRICS

    ev.add_argument(
        "--formats", default=None, metavar="LIST", help="comma-separated formats to evaluate (default: all shipped)"
    )
    ev.add_argument("--no-app-paths", dest="app_paths", action="store_false", help="skip the app paths")
    ev.add_argument(
        "--require",
        action="append",
        default=None,
        metavar="COND",
        help='a release condition, repeatable: [TARGET:]METRIC[.low|.high] OP NUMBER, e.g. "top1>=0.80", '
        f'"FORMAT/VARIANT:top1.low>=0.7", "delta_top1.low>=-0.02"; metrics: {", ".join(METRICS)}',
    )
    ev.add_argument(
        "--baseline",
        default=None,
        metavar="BUNDLE_DIR",
        help="compare each format's default variant with this bundle's on the same photos",
    )
    ev.add_argument(
        "--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)"
    )
    ev.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write evaluate.json and evaluate.html here (default evaluations/NAME)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carspotter", description="Train a car make/model recognizer and ship it to phones."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="let TensorFlow's start-up log lines through (also: CARSPOTTER_VERBOSE=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_train(sub)
    add_localize(sub)
    add_export(sub)
    _add_parity(sub)
    _add_predict(sub)
    _add_benchmark(sub)
    _add_evaluate(sub)
    _add_drift(sub)
    _add_report(sub)
    _add_signing(sub)
    return parser


def _add_parity(sub) -> None:
    """``carspotter parity``."""
    p = sub.add_parser(
        "parity",
        help="check every format's top-3 against the reference model",
        description="Check BUNDLE_DIR: every format's top-1 and top-3 against the Keras reference on real "
        "photos. Writes parity.json and updates manifest.json. Exit 1 on failure. "
        "For pytest and JUnit XML: pytest parity_tests --bundle BUNDLE_DIR.",
    )
    p.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    p.add_argument(
        "--run",
        default=None,
        metavar="RUN_DIR",
        help="the run the bundle was exported from, for the live reference on its test split (default: "
        "runs/NAME if found; without it the bundle's golden set is the reference)",
    )
    p.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")
    p.add_argument("--images", default=None, metavar="DIR", help="photos for the live reference (needs the run)")
    p.add_argument("--limit", type=integer("--limit"), default=None, metavar="N", help="check at most N live photos")
    p.add_argument(
        "--no-app-paths",
        dest="app_paths",
        action="store_false",
        help="skip the app paths (the photo decoded and resized as apps do it: the packages, OpenCV, sharp, ...)",
    )
    p.add_argument(
        "--app-gate",
        action="store_true",
        help="an app path that misses its gate fails the run (exit 1); by default it is reported",
    )
    p.add_argument(
        "--reference-backends",
        type=_reference_backends,
        default=None,
        metavar="LIST",
        help="the Keras reference on other backends and devices, each checked against the canonical "
        "TensorFlow CPU one on the run's photos: BACKEND-DEVICE[-tf32], comma-separated, e.g. "
        "jax-cpu,jax-gpu,tensorflow-gpu,jax-gpu-tf32 (default: jax-cpu,tensorflow-gpu,jax-gpu, full "
        "float32; GPU rows skip where no GPU is visible); 'none' for none",
    )


def _add_benchmark(sub) -> None:
    """``carspotter benchmark``."""
    b = sub.add_parser(
        "benchmark",
        help="one table of every format and shipped variant: size, accuracy, agreement, "
        "parity, load time, latency, throughput, %% of fp32 peak",
        description="Measure BUNDLE_DIR's formats and shipped variants and the Keras reference on this "
        "machine; print a Markdown table, write it with JSON and a PNG chart to --out.",
    )
    b.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    b.add_argument(
        "--photos", type=integer("--photos"), default=None, metavar="N", help="at most N test photos (default all)"
    )
    b.add_argument(
        "--threads", type=integer("--threads"), default=2, metavar="N", help="CPU threads per runtime (default 2)"
    )
    b.add_argument(
        "--batch", type=integer("--batch"), default=8, metavar="N", help="batch of the throughput column (default 8)"
    )
    b.add_argument(
        "--runs",
        type=integer("--runs"),
        default=30,
        metavar="N",
        help="timed batch-1 calls per predictor, interleaved (default and minimum 30)",
    )
    b.add_argument(
        "--run", default=None, metavar="RUN_DIR", help="the bundle's run (default: looked for as parity does)"
    )
    b.add_argument(
        "--clock-mhz",
        type=float,
        default=None,
        metavar="MHZ",
        help="the cores' clock for the fp32 peak (default: cpu MHz in /proc/cpuinfo, the base clock in a VM)",
    )
    b.add_argument(
        "--out", default=None, metavar="DIR", help="write benchmark.md/.json/.png here (default benchmarks/NAME)"
    )


def _add_report(sub) -> None:
    """``carspotter report``."""
    rp = sub.add_parser(
        "report",
        help="(re)write a run's report.html from its model and test photos",
        description="Evaluate RUN_DIR's model again on its val and test photos and write report.html "
        "(training writes it too; this is for runs made before it existed, or after --data moved).",
    )
    rp.add_argument("run_dir", metavar="RUN_DIR")
    rp.add_argument("--data", default=None, metavar="DIR", help="the run's photo folder, when it moved")


def _add_signing(sub) -> None:
    """``carspotter sign`` and ``carspotter verify`` (docs/bundles-and-apps.md, "Signed bundles")."""
    sg = sub.add_parser(
        "sign",
        help="sign a bundle (OpenSSF model-signing): who made it, not only what it holds",
        description="Check BUNDLE_DIR against its manifest, then sign every file of it (manifest.json "
        "included; parity's and drift's reports left out) and write BUNDLE_DIR/carspotter.sig.",
    )
    sg.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    sg.add_argument("--key", default=None, metavar="PEM", help="elliptic-curve private key (PEM) to sign with")
    sg.add_argument(
        "--password-env", default=None, metavar="VAR", help="environment variable holding the key's password"
    )
    sg.add_argument(
        "--certificate", default=None, metavar="PEM", help="signing certificate of --key (certificate signing)"
    )
    sg.add_argument("--chain", action="append", default=[], metavar="PEM", help="certificate chain (repeat)")
    sg.add_argument(
        "--sigstore",
        action="store_true",
        help="keyless Sigstore signing with the ambient OpenID Connect identity (GitHub Actions with id-token: write)",
    )
    v = sub.add_parser(
        "verify",
        help="check a bundle's files against its manifest, and its signature",
        description="Validate BUNDLE_DIR/manifest.json and every listed file's size and sha256; with "
        "--public-key, --chain or --identity also the signature (carspotter.sig) and every "
        "signed file. Names the first file that differs; exit 2.",
    )
    v.add_argument("bundle_dir", metavar="BUNDLE_DIR")
    v.add_argument("--public-key", default=None, metavar="PEM", help="public key of the signing key")
    v.add_argument(
        "--chain",
        action="append",
        default=[],
        metavar="PEM",
        help="certificate chain of a certificate signature (repeat; none: the system's roots)",
    )
    v.add_argument("--certificate", action="store_true", help="the signature is a certificate one (with --chain)")
    v.add_argument("--identity", default=None, help="Sigstore: the signer's identity (e.g. the workflow's URL)")
    v.add_argument("--issuer", default=None, help="Sigstore: its OpenID Connect issuer")
