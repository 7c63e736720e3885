"""``carspotter evaluate --two-pass``: a ``two_pass`` object for every column that can find the car.

The Keras reference's, when the run is at hand and has a localizer (``carspotter localize``); and each shipped
format variant's whose file has the localizer's ``box`` output (exported from such a run:
``Conversion.carries_box``), run on the tools' runtime, so a bundle alone can be evaluated with two passes. Each is
:func:`carspotter.measure.two_pass_figures.two_pass_column`: the photos decoded again at full resolution, pass 1,
pass 2 on the box when the car is small.
"""

from __future__ import annotations

import time
from typing import Callable

from carspotter.measure.two_pass_figures import two_pass_column
from carspotter.util.errors import UsageError

Log = Callable[[str], None]


def _column(src, ps, infer) -> dict:
    return two_pass_column(
        infer, ps.paths, ps.truth, src.size, src.labels, src.threshold, src.negative_class, ps.annotated, ps.names
    )


def _reference(src, ps, columns: dict, log: Log) -> str | None:
    """Fill the reference column's ``two_pass``; or say why there is none."""
    from carspotter.model.localizer import has_localizer, load_two_output

    if src.run is None or "keras" not in columns:
        return "the Keras reference: the bundle's run was not found (pass --run RUN_DIR)"
    if not has_localizer(src.run.dir):
        return f"the Keras reference: run {src.run.name} has no localizer (`carspotter localize {src.run.dir}`)"
    t0 = time.perf_counter()
    model = load_two_output(src.run.dir)
    columns["keras"]["two_pass"] = _column(src, ps, lambda x: model.predict(x, verbose=0))
    log(f"keras two-pass: {len(ps.paths)} photos in {time.perf_counter() - t0:.1f} s")
    return None


def _formats(src, ps, columns: dict, shipped: list[str], log: Log) -> list[str]:
    """Fill the ``two_pass`` of each shipped variant whose file has the box output; the keys of those without."""
    from carspotter.tools.loaded import open_variant

    without = []
    for key in shipped:
        fmt, variant = key.split("/", 1)
        loaded = open_variant(src, fmt, variant)  # the command's pool; closed after, one variant in memory at a time
        try:
            if loaded.session.box(ps.pixels[:1]) is None:
                without.append(key)
                continue
            t0 = time.perf_counter()
            columns[key]["two_pass"] = _column(src, ps, loaded.session.infer_with_box)
            log(f"{key} two-pass on {loaded.target}: {len(ps.paths)} photos in {time.perf_counter() - t0:.1f} s")
        finally:
            loaded.session.close()
    return without


def add_two_pass(src, ps, columns: dict, shipped: list[str], notes: list[str], log: Log) -> None:
    """A ``two_pass`` object in every column that can find the car (see the module docstring); a note for the others.

    Raises:
        UsageError: no column can (no localizer in the run and no box output in the bundle's files), naming the fix.
    """
    missing = _reference(src, ps, columns, log)
    without = _formats(src, ps, columns, shipped, log) if src.manifest is not None else []
    if not any("two_pass" in c for c in columns.values()):
        raise UsageError(
            "--two-pass needs the localizer: "
            + (missing or "")
            + ("; the bundle's files have no box output (export again from a run with a localizer)" if shipped else "")
        )
    if missing:
        notes.append(f"no two-pass figures for {missing}")
    if without:
        notes.append(
            f"no two-pass figures for {', '.join(without)}: no box output in the file (the format carries none)"
        )
