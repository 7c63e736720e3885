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
from carspotter.export.variants import (BASELINE, DEFAULT_PREFERENCE, REASONS, Gates, evaluation_photos, figures,
                                        file_name, gate, gates_json, select, variant_probs)
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
        coreml_precision: ``"fp16"`` (default) or ``"fp32"``: the Core ML variant built
            when ``variants`` is None.
        onnx_opset: 17 or 18.
        variants: comma-separated precision families (``"fp32,fp16,int8"``) to build and
            gate; None builds one variant per format (Core ML fp16, TFLite fp32, ONNX fp32)
            and records its figures without gating.
        calibration_photos: representative training photos for full-integer int8.
        gates: accuracy gates for ``variants``.
        author, license: written into each model's metadata.
    """

    formats: tuple[str, ...] = ("coreml", "tflite", "onnx")
    coreml_precision: str = "fp16"
    onnx_opset: int = 17
    variants: str | None = None
    calibration_photos: int = 200
    gates: Gates = Gates()
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


def _build(name: str, variant: str, model, labels, target: Path, info: dict, options: ExportOptions, representative) -> dict:
    if name == "coreml":
        return export_coreml(model, labels, target, info, variant=variant)
    if name == "tflite":
        return export_tflite(model, labels, target, info, variant=variant, representative=representative)
    return export_onnx(model, labels, target, info, options.onnx_opset, variant=variant, representative=representative)


def _variants_readme(records: dict, default: str) -> str:
    lines = ["", "## Variants in this folder", ""]
    for name, r in records.items():
        fig = r["figures"]
        where = f"`{Path(r['path']).name}`" if r["path"] else "not shipped"
        lines.append(f"- **{name}**{' (default)' if name == default else ''}: {where}, {r['bytes'] / 2**20:.1f} MiB, "
                     f"top-1 {fig['top1']:.1%} / top-3 {fig['top3']:.1%} on {fig['photos']} test photos, "
                     f"top-1 agreement with the reference {fig['top1_agreement']:.1%}; gate: {r['gate']}")
    return "\n".join(lines) + "\n"


def export_bundle(run_dir: str | Path, out: str | Path, options: ExportOptions = ExportOptions()) -> Path:
    """Convert a run's reference model to every requested format and variant; write the bundle.

    Layout: ``ios/``, ``android/``, ``onnx/`` (default model, other shipped variants as
    ``carspotter.<variant>.<ext>``, ``labels.txt``, ``README.md``) and ``manifest.json``.
    Every variant is measured on the run's test photos (accuracy against the true labels,
    top-1 agreement and top-3 parity against the Keras reference, max |dp|, size); with
    ``options.variants`` a variant that misses its gate is left out and the export says
    which gate failed and by how much. The bundle is built in a temporary folder and
    renamed into place, so a failed or killed export leaves the previous bundle (or none).

    Raises:
        RunError: the run folder is missing, incomplete or invalid.
        ExportError: an unknown format or variant family, a converter failed (named), no
            test photo decodes, or no variant of a format passed its gate.
    """
    unknown = [f for f in options.formats if f not in FORMATS]
    if unknown or not options.formats:
        raise ExportError(f"--formats {','.join(options.formats) or '(empty)'}: choose from {','.join(FORMATS)}")
    if options.calibration_photos < 1:
        raise ExportError(f"--calibration-photos {options.calibration_photos}: must be at least 1")
    chosen = [v for v in select(options.variants, {**BASELINE, "coreml": options.coreml_precision})
              if v.format in options.formats]
    enforce = options.variants is not None
    run = read_run(run_dir)
    model = load_reference(run)
    labels = run["classes"]["names"]
    size = run["input"]["shape"][1]
    out = Path(out)
    info = {"name": f"carspotter {out.name}", "version": __version__, "author": options.author, "license": options.license,
            "description": f"Car make/model/year classifier, {len(labels)} classes, InceptionV3 fine-tuned (carspotter)."}

    from carspotter.parity_tests.runners import keras_probs

    pixels, truth, names, representative = evaluation_photos(run, options.calibration_photos, any(v.needs_calibration for v in chosen))
    if len(truth) == 0:
        raise ExportError(f"{run['_dir']}: no test photo decodes; variants cannot be measured (train again)")
    reference = keras_probs(model, pixels)

    formats = {}
    with atomic_folder(out) as tmp:
        for name in options.formats:
            fmt = FORMATS[name]
            folder = tmp / fmt.platform
            folder.mkdir()
            stem, suffix = Path(fmt.filename).stem, Path(fmt.filename).suffix
            records, facts_of = {}, {}
            for v in (x for x in chosen if x.format == name):
                target = folder / file_name(stem, suffix, v.name, default=False)
                print(f"[export] {name} {v.name}: converting ...", file=sys.stderr, flush=True)
                t0 = time.time()
                try:
                    facts = _build(name, v.name, model, labels, target, info, options, representative)
                except Exception as exc:
                    raise ExportError(f"{name} {v.name} conversion of {run['_dir']}/model.keras failed: {type(exc).__name__}: "
                                      f"{str(exc).splitlines()[0][:200] if str(exc) else ''}") from exc
                seconds = time.time() - t0
                fig = figures(reference, variant_probs(name, v.name, target, pixels, labels), truth, labels, names, name, v)
                ok, verdict = gate(v, fig, options.gates)
                shipped = ok or not enforce
                records[v.name] = {"family": v.family, "precision": facts["precision"], "bytes": _size(target),
                                   "export_s": round(seconds, 2), "figures": fig, "gate": verdict, "gate_passed": ok,
                                   "gate_enforced": enforce, "shipped": shipped, "path": None}
                facts_of[v.name] = facts
                state = "shipped" if shipped else "LEFT OUT"
                print(f"[export] {name} {v.name}: {records[v.name]['bytes'] / 2**20:.1f} MiB in {seconds:.1f} s; "
                      f"{verdict}; {state}", file=sys.stderr, flush=True)
                if not shipped:
                    shutil.rmtree(target) if target.is_dir() else target.unlink()
            shipped = [n for n in DEFAULT_PREFERENCE[name] if n in records and records[n]["shipped"]]
            if not shipped:
                raise ExportError(f"no {name} variant passed its gate: " + "; ".join(f"{n}: {r['gate']}" for n, r in records.items()))
            default = shipped[0]
            (folder / file_name(stem, suffix, default, default=False)).rename(folder / fmt.filename)
            for n, r in records.items():
                if r["shipped"]:
                    r["path"] = f"{fmt.platform}/{file_name(stem, suffix, n, default=n == default)}"
            write_labels(folder / "labels.txt", labels)
            readme = fmt.readme(fmt.filename, size, len(labels)) + _variants_readme(records, default)
            (folder / "README.md").write_text(readme, encoding="utf-8")
            formats[name] = {"platform": fmt.platform, "path": f"{fmt.platform}/{fmt.filename}",
                             "labels": f"{fmt.platform}/labels.txt", "readme": f"{fmt.platform}/README.md",
                             "bytes": records[default]["bytes"], "export_s": records[default]["export_s"],
                             **facts_of[default], "default_variant": default,
                             "default_reason": REASONS[name] if len(records) > 1 else "the only variant built",
                             "variants": records}

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
            "variants": {"requested": options.variants, "gates": gates_json(options.gates), "gates_enforced": enforce,
                         "calibration_photos": int(len(representative)) if representative is not None else 0,
                         "evaluation_photos": int(len(truth))},
            "formats": formats,
            "files": file_table(tmp),
            "parity": None,
        }
        write_manifest(tmp, manifest)
    return out
