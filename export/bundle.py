"""``carspotter export``: run folder -> bundle folder, written atomically.

One table, :data:`FORMATS`, lists every export format and its properties (the idea of
Ultralytics' exporter table); each export is timed and its size recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from carspotter import __version__
from carspotter.atomic import atomic_folder
from carspotter.errors import ExportError, RunError
from carspotter.export import app_readmes
from carspotter.export.coreml_export import export_coreml
from carspotter.export.manifest import MANIFEST_SCHEMA_VERSION, file_table, sha256_file, write_manifest
from carspotter.export.onnx_export import export_onnx
from carspotter.export.tflite_export import export_tflite
from carspotter.runfolder import read_run, write_labels


@dataclass(frozen=True)
class Format:
    """One export format: where it goes in the bundle and how it is made."""

    name: str
    platform: str
    filename: str
    readme: Callable[[str, int, int], str]


FORMATS = {
    "coreml": Format("coreml", "ios", "CarSpotter.mlpackage", app_readmes.ios_readme),
    "tflite": Format("tflite", "android", "carspotter.tflite", app_readmes.android_readme),
    "onnx": Format("onnx", "onnx", "carspotter.onnx", app_readmes.onnx_readme),
}


@dataclass(frozen=True)
class ExportOptions:
    """Options of ``carspotter export``.

    Attributes:
        formats: subset of :data:`FORMATS` keys.
        coreml_precision: ``"fp16"`` (default) or ``"fp32"`` compute precision.
        onnx_opset: 17 or 18.
        author, license: written into each model's metadata.
    """

    formats: tuple[str, ...] = ("coreml", "tflite", "onnx")
    coreml_precision: str = "fp16"
    onnx_opset: int = 17
    author: str = "carspotter"
    license: str = "Apache-2.0 (code); model weights follow the training data's terms"


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def load_reference(run: dict):
    """Load ``model.keras`` of a run with ``safe_mode=True``.

    Raises:
        RunError: the file does not load or its input/output shapes disagree with run.json.
    """
    import keras

    path = Path(run["_dir"]) / "model.keras"
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise RunError(f"{path}: does not load as a Keras model ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); train again") from None
    want = tuple(run["input"]["shape"][1:])
    if tuple(model.input_shape[1:]) != want or model.output_shape[-1] != len(run["classes"]["names"]):
        raise RunError(f"{path}: input {model.input_shape} / output {model.output_shape} disagree with run.json; train again")
    return model


def export_bundle(run_dir: str | Path, out: str | Path, options: ExportOptions = ExportOptions()) -> Path:
    """Convert a run's reference model to every requested format and write the bundle.

    Layout: ``ios/``, ``android/``, ``onnx/`` (model, ``labels.txt``, ``README.md``) and
    ``manifest.json``. The bundle is built in a temporary folder and renamed into place,
    so a failed or killed export leaves the previous bundle (or none), never a mix.

    Raises:
        RunError: the run folder is missing, incomplete or invalid.
        ExportError: an unknown format, or a converter failed (named).
    """
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown or not options.formats:
        raise ExportError(f"--formats {','.join(options.formats) or '(empty)'}: choose from {','.join(FORMATS)}")
    run = read_run(run_dir)
    model = load_reference(run)
    labels = run["classes"]["names"]
    size = run["input"]["shape"][1]
    out = Path(out)
    info = {"name": f"carspotter {out.name}", "version": __version__, "author": options.author, "license": options.license,
            "description": f"Car make/model/year classifier, {len(labels)} classes, InceptionV3 fine-tuned (carspotter)."}

    formats = {}
    with atomic_folder(out) as tmp:
        for name in options.formats:
            fmt = FORMATS[name]
            folder = tmp / fmt.platform
            folder.mkdir()
            target = folder / fmt.filename
            print(f"[export] {name}: converting ...", file=sys.stderr, flush=True)
            t0 = time.time()
            try:
                if name == "coreml":
                    facts = export_coreml(model, labels, target, info, options.coreml_precision)
                elif name == "tflite":
                    facts = export_tflite(model, labels, target, info)
                else:
                    facts = export_onnx(model, labels, target, info, options.onnx_opset)
            except Exception as exc:
                raise ExportError(f"{name} conversion of {run['_dir']}/model.keras failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}") from exc
            seconds = time.time() - t0
            write_labels(folder / "labels.txt", labels)
            (folder / "README.md").write_text(fmt.readme(fmt.filename, size, len(labels)), encoding="utf-8")
            formats[name] = {"platform": fmt.platform, "path": f"{fmt.platform}/{fmt.filename}",
                             "labels": f"{fmt.platform}/labels.txt", "readme": f"{fmt.platform}/README.md",
                             "bytes": _size(target), "export_s": round(seconds, 2), **facts}
            print(f"[export] {name}: {formats[name]['bytes'] / 2**20:.1f} MiB in {seconds:.1f} s", file=sys.stderr, flush=True)

        labels_bytes = (tmp / formats[options.formats[0]]["labels"]).read_bytes()
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "name": out.name,
            "carspotter_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "labels": labels,
            "labels_sha256": hashlib.sha256(labels_bytes).hexdigest(),
            "input": run["input"],
            "preprocessing": run["preprocessing"],
            "source_run": {"dir": run["_dir"], "model_sha256": sha256_file(Path(run["_dir"]) / "model.keras"),
                           "test_split": run["splits"]["test"]},
            "training": {"metrics": run["metrics"], "weights": run["weights"], "counts": run["classes"]["counts"],
                         "timing_s": run["timing_s"]},
            "formats": formats,
            "files": file_table(tmp),
            "parity": None,
        }
        write_manifest(tmp, manifest)
    return out
