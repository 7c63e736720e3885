"""``carspotter evaluate``: every figure a release is gated on, for a bundle (or a run) on any labelled photos.

Columns: the Keras reference (when the run is found; said once when it is not), every shipped
format variant (each loaded once as a session) and every app path (the original photo files
resized the app's way, :mod:`carspotter.measure.app_paths`). Figures per column
(:func:`carspotter.measure.evaluation.column_figures`): top-1 / top-3 with Wilson 95 % intervals,
per-class precision / recall / F1, the confusion matrix of the worst classes, NLL and ECE of the
probabilities as shipped (the bundle's temperature is inside every format), precision and
coverage at the bundle's threshold, the not-a-car rate. ``--baseline`` compares each format's
default variant with another bundle's on the same photos (Newcombe's paired interval and
McNemar's exact test); ``--require`` turns figures into a CI gate (:mod:`carspotter.measure.requirements`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter.contracts.photoset import PhotoSet, labelled_photoset, split_photoset
from carspotter.measure import app_paths
from carspotter.measure.evaluation import column_figures
from carspotter.measure.intervals import paired_difference, too_small
from carspotter.measure.requirements import Requirement, failures
from carspotter.model.formats import FORMATS
from carspotter.contracts.source import Source, open_bundle_source, open_source
from carspotter.util.errors import UsageError

Log = Callable[[str], None]


@dataclass
class Evaluation:
    """What ``evaluate`` measured (``to_json`` is evaluate.json).

    Attributes:
        source: the bundle's (or run's) folder name; data: what the photos were (no machine path).
        photos: N evaluated photos; skipped: ``(name, reason)`` of photos that did not decode.
        labels: the model's C classes; columns: key -> figures (plus ``kind`` and ``target``).
        shipped: keys of the shipped format variants (what an untargeted ``--require`` checks).
        notes: things said once (reference absent, app paths skipped, a sample too small).
        baseline: per format ``{"bundle", "variant", "delta_top1"}`` when ``--baseline`` was given.
        requirements: ``[{"condition", "passed", "failures"}]``.
    """

    source: str
    data: str
    photos: int
    skipped: list
    labels: list[str]
    columns: dict = field(default_factory=dict)
    shipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline: dict = field(default_factory=dict)
    requirements: list = field(default_factory=list)
    created: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.requirements)

    def to_json(self) -> dict:
        return {
            "created": self.created,
            "source": self.source,
            "data": self.data,
            "photos": self.photos,
            "skipped": [list(s) for s in self.skipped],
            "labels": self.labels,
            "shipped": self.shipped,
            "notes": self.notes,
            "columns": self.columns,
            "baseline": self.baseline,
            "requirements": self.requirements,
            "passed": self.passed,
        }


def _photos(
    src: Source, data: str | Path | None, layout: str, mapping: str | None, crop: bool, split: str | None
) -> tuple[PhotoSet, str]:
    """The labelled photos and how to name them (the folder's name, never a machine path)."""
    if data is None:
        if src.run is None:
            raise UsageError(
                f"{src.folder}: no DATA given and the bundle's run was not found: pass labelled photos "
                "(class folders, a CSV or a devkit folder), or --run RUN_DIR for its test split"
            )
        ps = split_photoset(src.run, split or "test")
        return ps, f"the {split or 'test'} split of run {src.run.name}"
    ps = labelled_photoset(data, src.labels, src.size, layout, mapping, crop, split)
    return ps, f"{Path(data).name} ({ps.source})"


def _load_and_run(key: str, load: Callable, pixels: np.ndarray, log: Log):
    """Run one column on the photos; its session is closed after (one variant in memory at a time: the command's pool
    loads it afresh if asked again)."""
    t0 = time.perf_counter()
    loaded = load()
    try:
        probs = loaded.infer(pixels)
    finally:
        loaded.session.close()
    log(f"{key} on {loaded.target}: {len(pixels)} photos in {time.perf_counter() - t0:.1f} s")
    return probs, loaded.target


def _model_columns(
    src: Source, ps: PhotoSet, formats: tuple[str, ...] | None, log: Log
) -> tuple[dict, list[str], list[str]]:
    """``({key: (kind, target, probs)}, shipped keys, notes)`` for the reference and every shipped variant."""
    from carspotter.tools.loaded import open_reference

    out, shipped, notes = {}, [], []
    if src.run is not None:
        probs, target = _load_and_run("keras", lambda: open_reference(src), ps.pixels, log)
        out["keras"] = ("reference", target, probs)
    else:
        notes.append("the Keras reference column is absent: the bundle's run was not found (pass --run RUN_DIR)")
    if src.manifest is None:
        return out, shipped, notes
    unknown = [f for f in (formats or ()) if f not in src.manifest.formats]
    if unknown:
        raise UsageError(f"--formats {','.join(formats)}: the bundle holds {', '.join(src.manifest.formats)}")
    _variant_columns(src, ps, formats, out, shipped, notes, log)
    return out, shipped, notes


def _variant_columns(src: Source, ps: PhotoSet, formats, out: dict, shipped: list, notes: list, log: Log) -> None:
    from carspotter.tools.loaded import open_variant

    for fmt, entry in src.manifest.formats.items():
        if formats and fmt not in formats:
            continue
        for name, record in entry.variants.items():
            copy_of = (
                next((v.copy_of for v in FORMATS[fmt].variants if v.name == name), None) if fmt in FORMATS else None
            )
            if record.shipped and copy_of:
                notes.append(
                    f"{fmt}/{name} is the {copy_of} model in another file format: not evaluated again "
                    "(parity checks it against the same figures)"
                )
            elif record.shipped:
                key = f"{fmt}/{name}"
                probs, target = _load_and_run(key, lambda f=fmt, v=name: open_variant(src, f, v), ps.pixels, log)
                out[key] = ("format", target, probs)
                shipped.append(key)


def _app_columns(src: Source, ps: PhotoSet, log: Log) -> tuple[dict, list[str]]:
    """Every app path on the photo files: ``({"app/NAME": (kind, target, probs)}, notes)``."""
    if src.manifest is None or ps.paths is None:
        return {}, []
    boxes = list(ps.boxes) if ps.boxes else [None] * len(ps.paths)
    out, notes = {}, []
    with app_paths.AppModels(src.folder, src.manifest.formats, src.labels, src.pool) as models:
        for run in app_paths.each_path(list(ps.paths), boxes, src.size, src.labels, models):
            if run.skipped is not None:
                notes.append(f"app path {run.name} not measured: {run.skipped}")
                continue
            out[f"app/{run.name}"] = ("app path", f"{run.path.client}; model: {run.model}", run.probs)
            log(f"app/{run.name}: {len(ps.paths)} photos in {run.seconds:.1f} s")
    return out, notes


def _baseline(other: str | Path, src: Source, ps: PhotoSet, columns: dict, probs: dict, log: Log) -> dict:
    """Each format's default variant against the same format's default in bundle ``other``, on the same photos (its
    sessions in the command's pool)."""
    from carspotter.tools.loaded import open_variant

    if src.manifest is None:
        raise UsageError("--baseline compares two bundles: pass a bundle folder, not a run folder")
    other = Path(other)
    theirs_src = open_bundle_source(other, pool=src.pool)
    base = theirs_src.manifest
    if list(base.labels) != src.labels:
        raise UsageError(
            f"--baseline {other}: its labels differ from {src.folder.name}'s; compare bundles of the same classes"
        )
    out = {}
    for fmt, entry in src.manifest.formats.items():
        key = f"{fmt}/{entry.default_variant}"
        if fmt not in base.formats or key not in probs:
            continue
        theirs, _ = _load_and_run(
            f"baseline {fmt}/{base.formats[fmt].default_variant}",
            lambda f=fmt: open_variant(theirs_src, f, base.formats[f].default_variant),
            ps.pixels,
            log,
        )
        diff = paired_difference(probs[key].argmax(1) == ps.truth, theirs.argmax(1) == ps.truth)
        columns[key]["delta_top1"] = diff.to_json()
        out[fmt] = {
            "bundle": other.name,
            "variant": base.formats[fmt].default_variant,
            "column": key,
            "delta_top1": diff.to_json(),
            "text": str(diff),
        }
    if not out:
        raise UsageError(f"--baseline {other}: no format in common with {src.folder.name}")
    return out


def evaluate(
    source: str | Path,
    data: str | Path | None = None,
    *,
    layout: str = "auto",
    mapping: str | None = None,
    crop: bool = False,
    split: str | None = None,
    formats: tuple[str, ...] | None = None,
    with_app_paths: bool = True,
    require: list[Requirement] = (),
    baseline: str | Path | None = None,
    run: str | Path | None = None,
    two_pass: bool = False,
    log: Log = lambda m: None,
) -> Evaluation:
    """Evaluate ``source`` (a bundle or run folder) on labelled photos (``data``; default: the run's test split).

    With ``two_pass``, every column that can find the car gets a ``two_pass`` object
    (:mod:`carspotter.tools.evaluate_two_pass`): the reference with the run's localizer, each shipped variant whose
    file has the box output; the same figures for two-pass recognition, how often pass 2 ran, and the box IoU when the
    photos have boxes.

    Raises:
        UsageError: unknown classes (listed), no photo, a format the bundle lacks, a bad ``--require``
            target, a baseline of other classes (exit 2); BundleError / RunError / DatasetError likewise.
    """
    with open_source(source, run) as src:  # the command's one session pool, closed at the end
        ps, described = _photos(src, data, layout, mapping, crop, split)
        log(f"{len(ps.names)} photos of {len(set(ps.truth.tolist()))} classes ({len(ps.skipped)} not read)")
        result, probs = _columns(src, ps, described, formats, with_app_paths, log)
        if two_pass:
            from carspotter.tools.evaluate_two_pass import add_two_pass

            add_two_pass(src, ps, result.columns, result.shipped, result.notes, log)
        small = too_small(len(ps.names))
        if small:
            result.notes.append(small)
        if baseline is not None:
            result.baseline = _baseline(baseline, src, ps, result.columns, probs, log)
    for req in require:
        lines = failures([req], result.columns, result.shipped or list(result.columns))
        result.requirements.append({"condition": req.text, "passed": not lines, "failures": lines})
    return result


def _columns(
    src: Source, ps: PhotoSet, described: str, formats, with_app_paths: bool, log: Log
) -> tuple[Evaluation, dict]:
    """The evaluation with every column's figures (the reference, each shipped variant, each app path), and each
    column's ``[N, C]`` probabilities by key."""
    models, shipped, notes = _model_columns(src, ps, formats, log)
    apps, app_notes = (
        _app_columns(src, ps, log) if with_app_paths else ({}, ["app paths not measured (--no-app-paths)"])
    )
    result = Evaluation(
        src.folder.name, described, len(ps.names), ps.skipped, src.labels, shipped=shipped, notes=notes + app_notes
    )
    probs = {}
    for key, (kind, target, p) in {**models, **apps}.items():
        probs[key] = p
        result.columns[key] = {
            "kind": kind,
            "target": target,
            **column_figures(p, ps.truth, src.labels, src.threshold, src.negative_class),
        }
    return result, probs


def table(result: Evaluation) -> str:
    """The short table ``evaluate`` prints (Markdown; figures as on evaluate.html)."""
    from carspotter.tools.evaluate_page import interval as pct

    lines = [
        f"{result.source} on {result.data}: {result.photos} photos",
        "",
        "| column | top-1 [95 % CI] | top-3 [95 % CI] | NLL | ECE | precision at threshold | coverage |",
        "|---|---|---|---:|---:|---|---|",
    ]
    for key, c in result.columns.items():
        for name, col in [(key, c)] + ([(f"{key} two-pass", c["two_pass"])] if c.get("two_pass") else []):
            lines.append(
                f"| {name} | {pct(col['top1'])} | {pct(col['top3'])} | {col['nll']:.3f} | {col['ece']:.3f} | "
                f"{pct(col['precision'])} | {pct(col['coverage'])} |"
            )
    lines += [f"- {n}" for n in result.notes]
    lines += [
        f"- baseline {b['bundle']} {fmt}/{b['variant']}: top-1 difference {b['text']}"
        for fmt, b in result.baseline.items()
    ]
    return "\n".join(lines) + "\n"


def write(result: Evaluation, out: str | Path) -> Path:
    """Write ``evaluate.json`` and ``evaluate.html`` into ``out`` (replaced atomically)."""
    import json

    from carspotter.tools.evaluate_page import render
    from carspotter.util.atomic import atomic_folder

    out = Path(out)
    doc = result.to_json()
    with atomic_folder(out) as tmp:
        (tmp / "evaluate.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "evaluate.html").write_text(render(doc), encoding="utf-8")
    return out
