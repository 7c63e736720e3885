"""The per-layer drift recorded at export for every variant a gate leaves out (``VariantRecord.drift``).

Measured on the first ``ExportOptions.drift_photos`` gate photos (the test photos without ``--variants``) before the
file is deleted, with :mod:`carspotter.measure.drift`; the reference's probes are built once per export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from carspotter.measure.drift import measure_drift
from carspotter.model.format_spec import FormatSpec, VariantSpec
from carspotter.util.errors import one_line


def left_out_drift(
    fmt: FormatSpec, variant: VariantSpec, target: Path, inputs, log: Callable[[str], None]
) -> dict | None:
    """The drift record of a left-out variant file at ``target`` (``inputs``: export's record of the run), or None
    with ``--drift-photos 0`` or a format without intermediate tensors. A failure to measure it is logged (``log``:
    export's progress lines) with its reason and recorded as None: the export's decision does not depend on it."""
    count = inputs.options.drift_photos
    if count <= 0 or fmt.execution.intermediates is None or variant.copy_of:
        return None
    photos = inputs.gate if inputs.gate is not None else inputs.photos
    pixels = photos.pixels[:count]
    name = f"{fmt.name}/{variant.name}"
    try:
        drift = measure_drift(name, inputs.drift_probes, fmt.execution.intermediates(target, variant), pixels)
    except Exception as exc:  # recorded, never fatal: the gate has decided already
        log(f"{name}: per-layer drift not measured ({one_line(exc, 160)})")
        return None
    log(f"drift of {drift.summary()}")
    return drift.to_json()
