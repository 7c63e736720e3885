"""The parity report of a bundle: ``parity.json`` and the ``parity`` summary in ``manifest.json``.

A :class:`ParityReport` collects the :class:`~carspotter.parity.checks.Outcome` of every
check; ``bool(report)`` is the verdict, :meth:`ParityReport.lines` the summary printed
by ``carspotter parity``, :meth:`ParityReport.write` the two files.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from carspotter.util import dest_lock
from carspotter.util.atomic import atomic_write
from carspotter.contracts.manifest import read_manifest, write_manifest
from carspotter.contracts.signature import is_signed
from carspotter.parity.checks import Outcome
from carspotter.measure.parity_rule import TOLERANCES

RULE = (
    "per photo and rank 1..3: same class as the reference, or a class whose reference probability is within tau of it "
    "(near-tie, counted); and max |p - q| over all photos and classes <= max_abs_diff"
)
_SUMMARY_KEYS = (
    "photo_set",
    "format",
    "target",
    "precision",
    "tau",
    "passed",
    "top1_agreement",
    "near_ties",
    "top1_near_ties",
    "max_abs_diff",
)


@dataclass
class ParityReport:
    """Outcomes of one parity run on one set of photos.

    Attributes:
        photos: photos compared on the main photo set (live when the run is here, else golden);
            ``photo_source`` where they came from.
        skipped_photos: ``(name, reason)`` of photos that did not decode.
        photo_sets: ``{name: {"photos", "source", "reference"}}`` of every photo set checked.
        selection: how the run was narrowed (pytest arguments, when run through pytest),
            recorded as parity.json ``pytest_args``: a narrowed run is a partial check.
        outcomes: every check's outcome, in order.
    """

    photos: int
    photo_source: str
    skipped_photos: list = field(default_factory=list)
    photo_sets: dict = field(default_factory=dict)
    selection: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> Outcome:
        self.outcomes.append(outcome)
        return outcome

    def __bool__(self) -> bool:
        return bool(self.outcomes) and not any(o.status == "failed" for o in self.outcomes)

    @property
    def app_paths(self) -> list[dict]:
        """parity.json ``app_paths``: every app path measured, with its gate verdict."""
        return [
            {
                **o.facts["app_path"],
                "photo_set": o.facts["photo_set"],
                "gate": o.facts["gate"],
                "gate_passed": o.facts["gate_passed"],
                "status": o.status,
            }
            for o in self.outcomes
            if "app_path" in o.facts
        ]

    @property
    def results(self) -> list[dict]:
        """parity.json ``results``: every comparison made (passed or failed)."""
        return [o.result.to_json() for o in self.outcomes if o.result is not None]

    def to_json(self) -> dict:
        """parity.json."""
        return {
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "passed": bool(self),
            "photos": self.photos,
            "photo_source": self.photo_source,
            "photo_sets": self.photo_sets,
            "pytest_args": list(self.selection),
            "skipped_photos": [list(s) for s in self.skipped_photos],
            "rule": RULE,
            "tolerances": TOLERANCES,
            "results": self.results,
            "structure_checks": [
                {"check": o.check, **o.facts}
                for o in self.outcomes
                if o.facts and o.passed and o.result is None and "app_path" not in o.facts
            ],
            "app_paths": self.app_paths,
            "references": [
                {"check": o.check, "status": o.status, **o.facts} for o in self.outcomes if "backend" in o.facts
            ],
            "failed_checks": [
                {"check": o.check, "reason": o.message}
                for o in self.outcomes
                if o.status == "failed" and o.result is None
            ],
            "skipped_checks": [{"check": o.check, "reason": o.message} for o in self.outcomes if o.status == "skipped"],
        }

    def write(self, bundle: str | Path, thumbnail=None) -> Path:
        """Write ``parity.json``, ``parity.html`` (:mod:`carspotter.parity.page`, with ``thumbnail``
        giving the exact inputs of flagged photos) and the manifest's ``parity`` summary, each
        atomically; returns parity.json's path.

        Raises:
            BusyError: another process is exporting to or checking the bundle.
        """
        bundle = Path(bundle)
        with dest_lock.hold(bundle, "parity"):  # never beside an export replacing the bundle
            return self._write(bundle, thumbnail)

    def _write(self, bundle: Path, thumbnail) -> Path:
        from carspotter.parity.page import render

        doc = self.to_json()
        path = atomic_write(bundle / "parity.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        manifest = read_manifest(bundle)
        variants = [
            {
                "format": f,
                "variant": v,
                "shipped": r.shipped,
                "mib": r.bytes / 2**20,
                "top1_agreement": r.figures.top1_agreement,
                "gate": r.gate,
                "gate_passed": r.gate_passed,
                "gate_enforced": r.gate_enforced,
            }
            for f, e in manifest.formats.items()
            for v, r in e.variants.items()
        ]
        atomic_write(bundle / "parity.html", render(doc, bundle.resolve().name, thumbnail, variants))
        if is_signed(bundle):  # the signature covers manifest.json: the results stay in parity.json and parity.html
            print(
                f"[parity] {bundle.name} is signed: manifest.json left as signed, results in parity.json",
                file=sys.stderr,
            )
            return path
        manifest.parity = {
            "passed": doc["passed"],
            "photos": self.photos,
            "photo_source": self.photo_source,
            "results": [{k: r[k] for k in _SUMMARY_KEYS} for r in doc["results"]],
            "app_paths": [
                {
                    k: a[k]
                    for k in (
                        "photo_set",
                        "path",
                        "photos",
                        "top1_agreement",
                        "top3_agreement",
                        "top1",
                        "reference_top1",
                        "max_abs_diff",
                        "gate_passed",
                    )
                }
                for a in doc["app_paths"]
            ],
            "skipped_checks": doc["skipped_checks"],
        }
        write_manifest(bundle, manifest)
        return path

    def lines(self) -> list[str]:
        """The summary for people: verdict, one line per comparison, then failed and skipped checks."""
        out = [f"parity: {'PASS' if self else 'FAIL'} on {self.photos} photos ({self.photo_source})"]
        for o in self.outcomes:
            if o.result is not None:
                r = o.result
                out.append(
                    f"  {r.photo_set:11s} {r.format:7s} {r.target[:44]:44s} {r.precision:5s} {'pass' if r else 'FAIL'}  "
                    f"top-1 agreement {r.top1_agreement:.2%}  near-ties {r.near_ties}  max|dp| {r.max_abs_diff:.2e}"
                )
            elif o.status == "failed":
                out.append(f"  FAILED {o.check}: {o.message}")
        apps = [o for o in self.outcomes if "app_path" in o.facts]
        if apps:
            out.append("  app paths (the app decodes and resizes the photo; gate separate from the rule above):")
            for o in apps:
                a = o.facts["app_path"]
                drift = f"{a['pixel_drift_mean']:.2f}" if a["pixel_drift_mean"] is not None else "  - "
                out.append(
                    f"    {o.facts['photo_set']:7s} {a['path']:20s} top-1 agreement {a['top1_agreement']:6.1%}  "
                    f"top-3 {a['top3_agreement']:6.1%}  max|dp| {a['max_abs_diff']:.3f}  pixel drift {drift}  "
                    f"{'gate ok' if o.facts['gate_passed'] else 'GATE MISSED'}"
                )
        out += [f"  skipped {o.check}: {o.message}" for o in self.outcomes if o.status == "skipped"]
        return out
