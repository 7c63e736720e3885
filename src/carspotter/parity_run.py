"""``carspotter parity``: run every check of :mod:`carspotter.parity_checks` on a bundle, write the report.

No pytest here: the checks are plain code. ``parity_tests/`` runs the same checks as a
pytest suite for CI systems that want JUnit XML (``pytest parity_tests --bundle DIR``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from carspotter.parity_checks import Outcome, ParityContext, plan, run_check
from carspotter.parity_report import ParityReport


def _log(msg: str) -> None:
    print(f"[parity] {msg}", file=sys.stderr, flush=True)


def new_report(ctx: ParityContext, selection: list[str] | None = None) -> ParityReport:
    """An empty report for the context's photos (decoding them, once, if not done yet).

    Raises:
        BundleError, RunError: the photos cannot be had (no run folder, no photo decodes).
    """
    ps = ctx.photoset
    return ParityReport(photos=len(ps.names), photo_source=ps.source, skipped_photos=ps.skipped, selection=selection or [])


def run_parity(bundle_dir: str | Path, images: str | None = None, limit: int | None = None, write: bool = True) -> int:
    """Run every check on a bundle, print each verdict and the summary, write the report.

    Args:
        bundle_dir: the bundle.
        images: a folder of photos instead of the run's test split.
        limit: at most N photos.
        write: write ``parity.json`` and the manifest's ``parity`` field.

    Returns:
        0 when every check passed or was skipped with a reason, 1 when one failed.

    Raises:
        BundleError, RunError: the bundle, its run or its photos cannot be read (exit 2 in the CLI).
    """
    ctx = ParityContext(bundle_dir, images, limit)
    report = new_report(ctx)
    checks = plan(ctx.manifest)
    _log(f"{len(checks)} checks on {report.photos} photos ({report.photo_source})")
    for i, check in enumerate(checks, 1):
        t0 = time.perf_counter()
        outcome: Outcome = report.add(run_check(ctx, check))
        _log(f"{i}/{len(checks)} {check.id}: {outcome.status} in {time.perf_counter() - t0:.1f} s")
        if outcome.status == "failed":
            print(outcome.message)
        elif outcome.result is not None:
            print(outcome.result)
    for skipped, reason in report.skipped_photos:
        print(f"skipped photo {skipped}: {reason}")
    print()
    print("\n".join(report.lines()))
    if write:
        path = report.write(bundle_dir)
        print(f"  written to {path} and manifest.json")
    return 0 if report else 1
