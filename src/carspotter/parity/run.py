"""``carspotter parity``: run every check of :mod:`carspotter.parity.checks` on a bundle, write the report.

No pytest here: the checks are plain code. ``parity_tests/`` runs the same checks as a
pytest suite for CI systems that want JUnit XML (``pytest parity_tests --bundle DIR``).
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from carspotter.util import dest_lock, interrupts
from carspotter.parity.checks import Outcome, plan, run_check
from carspotter.parity.context import LIVE, ParityContext
from carspotter.parity.report import ParityReport


def _log(msg: str) -> None:
    print(f"[parity] {msg}", file=sys.stderr, flush=True)


def new_report(ctx: ParityContext, selection: list[str] | None = None) -> ParityReport:
    """An empty report for the context's photo sets (decoding them, once, if not done yet).

    Raises:
        BundleError, RunError: the photos cannot be had (a bad golden file, the run's photos moved, none decodes).
    """
    sets = {name: ctx.basis(name) for name in ctx.bases}
    main = sets[LIVE if LIVE in sets else ctx.bases[0]]
    return ParityReport(
        photos=len(main.photos.names),
        photo_source=main.photos.source,
        skipped_photos=main.photos.skipped,
        photo_sets={
            n: {"photos": len(b.photos.names), "source": b.photos.source, "reference": b.reference_source}
            for n, b in sets.items()
        },
        selection=selection or [],
    )


def run_parity(
    bundle_dir: str | Path,
    images: str | None = None,
    limit: int | None = None,
    run: str | None = None,
    data: str | None = None,
    write: bool = True,
    app_paths: bool = True,
    app_gate: bool = False,
    references: tuple | None = None,
) -> int:
    """Run every check on a bundle, print each verdict and the summary, write the report.

    Args:
        bundle_dir: the bundle.
        images: a folder of photos for the live reference instead of the run's test split.
        limit: at most N live photos.
        run: the bundle's run folder (default: looked for; without it the golden set is the reference).
        data: the run's photo folder, when it moved.
        write: write ``parity.json`` and the manifest's ``parity`` field.
        app_paths: measure the app paths too (:mod:`carspotter.measure.app_paths`).
        app_gate: an app path that misses its gate fails the run (exit 1); default: reported.
        references: the reference rows (:class:`carspotter.model.backends.ReferenceBackend`) checked against the
            canonical TensorFlow CPU reference; None: :data:`carspotter.model.backends.DEFAULT_CHECKS`.

    Returns:
        0 when every check passed or was skipped with a reason, 1 when one failed.

    Raises:
        BundleError, RunError: the bundle, its run or its photos cannot be read (exit 2 in the CLI).
        BusyError: another process is exporting to or checking the bundle (:mod:`carspotter.util.dest_lock`).
    """
    locked = write and Path(bundle_dir).is_dir()  # a missing bundle is ParityContext's one-line error
    with dest_lock.hold(bundle_dir, "parity") if locked else contextlib.nullcontext():  # no export swaps it meanwhile
        ctx = ParityContext(
            bundle_dir,
            images,
            limit,
            run,
            data,
            app_paths,
            app_gate,
            **({} if references is None else {"references": tuple(references)}),
        )
        try:
            return _run_parity(ctx, bundle_dir, write)
        finally:
            ctx.close()


def _run_parity(ctx: ParityContext, bundle_dir, write: bool) -> int:
    """:func:`run_parity` with the bundle locked."""
    if ctx.run is None:
        _log(
            f"run {ctx.manifest.source_run['name']} not found ({ctx.run_search}): checking against the golden set only"
        )
    report = new_report(ctx)
    checks = plan(ctx)
    sets = "; ".join(f"{n}: {s['photos']} photos" for n, s in report.photo_sets.items())
    _log(f"{len(checks)} checks ({sets})")
    for i, check in enumerate(checks, 1):
        t0 = time.perf_counter()
        outcome: Outcome = report.add(run_check(ctx, check))
        _log(f"{i}/{len(checks)} {check.id}: {outcome.status} in {time.perf_counter() - t0:.1f} s")
        if outcome.status in ("failed", "missed"):
            print(outcome.message)
        elif outcome.result is not None:
            print(outcome.result)
    for skipped, reason in report.skipped_photos:
        print(f"skipped photo {skipped}: {reason}")
    print()
    print("\n".join(report.lines()))
    if write:
        interrupts.raise_if_received()  # a signal a library swallowed: the previous parity.json stays
        path = report.write(bundle_dir, ctx.thumbnail)
        print(f"  written to {path}, parity.html and manifest.json")
    return 0 if report else 1
