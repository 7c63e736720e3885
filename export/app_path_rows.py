"""The app paths measured at export, on the run's test photo files: the manifest's ``app_paths`` rows, each gated.

``inputs`` is export's own record of the run (:class:`carspotter.export.context.ExportContext`): its photos, the reference's
probabilities on them, the options and the session pool whose fp32 session (measured before) runs the paths' pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from carspotter.contracts.manifest_entries import FormatEntry
from carspotter.contracts.photoset import PhotoSet
from carspotter.measure import app_paths


def measure(tmp: Path, formats: dict[str, FormatEntry], inputs, log: Callable[[str], None]) -> list[dict] | None:
    """Every app path (:mod:`carspotter.measure.app_paths`) on the run's test photo files, with its gate: the
    manifest's ``app_paths`` and the platform READMEs' resize tables. A path that cannot run here is
    listed with ``skipped`` (the reason). None with ``--no-app-paths``; empty when the photos have no files.
    ``log``: export's progress lines."""
    ps = inputs.photos
    if not inputs.options.app_paths:
        log("app paths: not measured (--no-app-paths)")
        return None
    if ps.paths is None:
        log("app paths: not measured (the test photos have no files)")
        return []
    boxes = list(ps.boxes) if ps.boxes else [None] * len(ps.paths)
    models = app_paths.AppModels(tmp, formats, inputs.run.labels, inputs.pool)
    return _rows(models, ps, boxes, inputs.run.input.size, inputs, log)


def _rows(models: app_paths.AppModels, ps: PhotoSet, boxes: list, size: int, inputs, log) -> list[dict]:
    """Measure and gate every app path with ``models``: the manifest's ``app_paths`` rows."""
    upscaled = app_paths.upscaled_photos(list(ps.paths), boxes, size)
    gate, rows = app_paths.AppGate(), []
    for run in app_paths.each_path(list(ps.paths), boxes, size, inputs.run.labels, models):
        if run.skipped is not None:
            rows.append({"path": run.name, "client": run.path.client, "skipped": run.skipped})
            log(f"app path {run.name}: skipped ({run.skipped})")
            continue
        fig = app_paths.figures(
            run.path, run.model, inputs.reference, run.probs, ps.truth, ps.names, ps.pixels, run.pixels, upscaled
        )
        ok, verdict = gate.judge(fig, golden=False)
        rows.append({**fig.to_json(), "gate": verdict, "gate_passed": ok})
        log(f"app path {run.name}: {verdict} ({run.seconds:.1f} s)")
    return rows
