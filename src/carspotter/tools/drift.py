"""``carspotter drift``: per-layer drift of a bundle's variants against the Keras reference, as JSON and a page.

For every shipped variant (or those named), :func:`carspotter.measure.drift.measure_drift` on the run's test photos
(the reference needs the run: ``--run`` or found as parity finds it); the variants a gate left out at export have
their drift in the manifest (their files are not in the bundle), and the page shows them beside. The page plots the
mean relative L2 error of every probe by depth, one line per variant, with the tolerance, and tables the first layer
beyond tolerance and the probes that add most.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from carspotter.measure.drift import TOLERANCE, Drift, Probe, ReferenceProbes, drift_json, measure_drift
from carspotter.model.formats import FORMATS
from carspotter.util.atomic import atomic_write
from carspotter.util.errors import BundleError, UsageError, one_line
from carspotter.util.html_page import esc, page

Log = Callable[[str], None]


def _chosen(manifest, wanted: str | None) -> list[tuple[str, str]]:
    """``[(format, variant)]``: the shipped variants, or those ``wanted`` names (``FORMAT/VARIANT``, comma-separated).

    Raises:
        UsageError: a name that is not a shipped variant of the bundle.
    """
    shipped = [(f, v) for f, e in manifest.formats.items() for v, r in e.variants.items() if r.shipped]
    if not wanted:
        return shipped
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    bad = [n for n in names if tuple(n.split("/", 1)) not in shipped]
    if bad or not names:
        raise UsageError(
            f"--variants {wanted}: choose shipped variants as FORMAT/VARIANT from "
            f"{', '.join(f'{f}/{v}' for f, v in shipped)}"
        )
    return [tuple(n.split("/", 1)) for n in names]


def recorded(manifest) -> list[Drift]:
    """The drift the export recorded for variants its gates left out."""
    return [
        Drift.from_json(record.drift, f"{fmt}/{name} (left out)")
        for fmt, entry in manifest.formats.items()
        for name, record in entry.variants.items()
        if record.drift
    ]


def run_drift(
    bundle: str | Path,
    run: str | Path | None = None,
    variants: str | None = None,
    photos: int = 8,
    tolerance: float = TOLERANCE,
    log: Log = lambda m: None,
) -> list[Drift]:
    """Drift of each chosen variant (shipped ones; the left-out ones as recorded) on ``photos`` test photos.

    Raises:
        UsageError: ``photos`` < 1, ``tolerance`` not in (0, 1], a variant not shipped.
        BundleError: the bundle fails verification, or its run is not here (the reference is needed).
    """
    from carspotter.contracts.source import open_bundle_source

    if photos < 1:
        raise UsageError(f"--photos {photos}: at least 1")
    if not 0 < tolerance <= 1:
        raise UsageError(f"--tolerance {tolerance}: a relative error in (0, 1]")
    with open_bundle_source(bundle, run) as src:  # the command's one pool: each file's tensors, closed after its turn
        if src.run is None:
            raise BundleError(
                f"{src.folder}: its run was not found; pass --run RUN_DIR (drift compares against the Keras reference)"
            )
        chosen = _chosen(src.manifest, variants)
        return _measure_all(src, chosen, photos, tolerance, log) + recorded(src.manifest)


def _measure_all(src, chosen: list[tuple[str, str]], photos: int, tolerance: float, log: Log) -> list[Drift]:
    """:func:`run_drift` of the chosen variants on an opened bundle."""
    from carspotter.contracts.photoset import split_photoset

    pixels = split_photoset(src.run, "test", limit=photos).pixels
    probes = ReferenceProbes(src.model())
    out = []
    for fmt, name in chosen:
        spec = FORMATS[fmt]
        variant = spec.variant(name)
        if spec.execution.intermediates is None or variant.copy_of:
            why = (
                f"the {variant.copy_of} model in another file format"
                if variant.copy_of
                else "the format exposes no intermediate tensors"
            )
            log(f"{fmt}/{name}: not measured ({why})")
            continue
        path = src.folder / src.manifest.formats[fmt].variants[name].path
        key = f"drift:{path}"
        try:
            tensors = src.pool.adopt(key, lambda: spec.execution.intermediates(path, variant))
            drift = measure_drift(f"{fmt}/{name}", probes, tensors, pixels, tolerance)
        except Exception as exc:  # one variant's runtime failing does not hide the others' drift
            log(f"{fmt}/{name}: not measured ({one_line(exc)})")
            continue
        finally:
            src.pool.drop(key)  # every tensor of the file held: one file at a time
        log(drift.summary())
        out.append(drift)
    return out


def _axis(drifts: list[Drift]) -> list[Probe]:
    """The probes the chart and the table list: the longest probe list (a TFLite file has no rescaling probe)."""
    return max((d.probes for d in drifts), key=len, default=[])


def _plot(drifts: list[Drift], tolerance: float) -> str:
    """The error-by-depth chart as a data: URI (PNG)."""
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5), dpi=100)
    for d in drifts:
        m = d.matched
        ax.plot([p.depth for p in m], [max(p.rel_error, 1e-7) for p in m], marker="o", markersize=3, label=d.variant)
    ax.axhline(tolerance, color="#b00020", linestyle="--", linewidth=1, label=f"tolerance {tolerance:.0%}")
    ax.set_yscale("log")
    probes = _axis(drifts)
    ax.set_xticks(
        [p.depth for p in probes], [p.layer.split("/")[-1] for p in probes], rotation=60, ha="right", fontsize=7
    )
    ax.set_xlabel("probe (the reference's cut points, input to output)")
    ax.set_ylabel("mean relative L2 error")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write(drifts: list[Drift], out: str | Path, bundle_name: str) -> Path:
    """``drift.json`` and ``drift.html`` (the chart and the tables) in ``out``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tolerance = drifts[0].tolerance if drifts else TOLERANCE
    atomic_write(out / "drift.json", drift_json(drifts).encode())
    rows = "".join(
        f"<tr><td>{esc(d.variant)}</td><td class=num>{d.photos}</td><td>{esc(d.first_beyond.layer if d.first_beyond else '-')}"
        f"</td><td>{esc(', '.join(f'{n} (+{g:.1%})' for n, g in d.contributors() if g > 0))}</td>"
        f"<td class=num>{d.matched[-1].rel_error:.2%}</td></tr>"
        if d.matched
        else ""
        for d in drifts
    )
    names = _axis(drifts)
    depth = "".join(
        f"<tr><td class=num>{p.depth}</td><td>{esc(p.layer)}</td>"
        + "".join(
            f"<td class=num>{'-' if q.rel_error is None else f'{q.rel_error:.2e}'}</td>"
            for q in (next((x for x in d.probes if x.layer == p.layer), Probe(p.layer, p.depth)) for d in drifts)
        )
        + "</tr>"
        for p in names
    )
    body = (
        f"<h1>Per-layer drift: {esc(bundle_name)}</h1><p>Mean relative L2 error of each probe (the reference's cut "
        f"points) against the Keras reference; tolerance {tolerance:.0%}. Left-out variants as recorded at export.</p>"
        f"<img alt='error by depth' src='{_plot(drifts, tolerance)}'>"
        "<h2>Where each variant drifts</h2><table><tr><th>variant</th><th>photos</th><th>first beyond tolerance</th>"
        f"<th>adds most</th><th>at the output</th></tr>{rows}</table>"
        "<h2>Every probe</h2><div class=wide><table><tr><th>depth</th><th>layer</th>"
        + "".join(f"<th>{esc(d.variant)}</th>" for d in drifts)
        + f"</tr>{depth}</table></div>"
    )
    atomic_write(out / "drift.html", page(f"drift: {bundle_name}", body, json.loads(drift_json(drifts))).encode())
    return out
