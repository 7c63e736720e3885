"""``carspotter parity``: run this suite with pytest on a bundle and print the verdict."""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.errors import BundleError
from carspotter.export.manifest import read_manifest


def run_parity(bundle_dir: str | Path, images: str | None = None, limit: int | None = None,
               pytest_args: list[str] | None = None) -> int:
    """Run the parity suite; returns the exit code (0 pass, 1 parity failure, 2 usage error).

    Writes ``BUNDLE_DIR/parity.json`` and the manifest's ``parity`` field.

    Raises:
        BundleError: the bundle folder or its manifest is missing or invalid.
    """
    import pytest

    read_manifest(bundle_dir)  # a clear one-line error before pytest starts
    here = Path(__file__).parent
    args = [str(here), f"--rootdir={here}", "-c", str(here / "pytest.ini"), "-p", "no:cacheprovider",
            "--import-mode=importlib", "-q", "-rs", "--bundle", str(bundle_dir)]
    if images:
        args += ["--images", str(images)]
    if limit:
        args += ["--limit", str(limit)]
    code = int(pytest.main(args + list(pytest_args or [])))
    report = Path(bundle_dir) / "parity.json"
    if report.is_file() and code in (0, 1):
        data = json.loads(report.read_text(encoding="utf-8"))
        print(f"\nparity: {'PASS' if data['passed'] else 'FAIL'} on {data['photos']} photos ({data['photo_source']})")
        for r in data["results"]:
            print(f"  {r['format']:7s} {r['target']:44s} {r['precision']:5s} {'pass' if r['passed'] else 'FAIL'}  "
                  f"top-1 agreement {r['top1_agreement']:.2%}  near-ties {r['near_ties']}  max|dp| {r['max_abs_diff']:.2e}")
        for s in data["skipped_checks"]:
            print(f"  skipped {s['check']}: {s['reason']}")
        print(f"  written to {report} and manifest.json")
    if code not in (0, 1):
        raise BundleError(f"{bundle_dir}: parity suite could not run (pytest exit code {code}); see above")
    return code
