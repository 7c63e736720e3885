"""``carspotter benchmark``'s output: the Markdown table with its notes, the PNG chart, and the files written."""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.measure.intervals import bracket, too_small
from carspotter.model.formats import FORMATS

WARMUP = 3
"""Untimed calls of each predictor before the timed ones."""


def markdown(report) -> str:
    """The table and its notes as Markdown (``report``: a :class:`carspotter.tools.benchmark.Report`)."""
    f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    ci = lambda v: "" if not v else f" {bracket(*v)}"  # noqa: E731
    lines = [
        f"Bundle `{report.bundle}` on {report.machine}; {report.threads} threads; {report.photos} photos "
        f"({report.photo_source}); batch-1 latency over {report.runs} interleaved calls after {WARMUP} warm-up calls; "
        "top-1 and agreement with their 95 % Wilson intervals.",
        "",
        "| format | variant | runtime | shipped | MiB | top-1 | top-3 | agreement | parity | load ms | p50 ms | p90 ms "
        f"| photos/s @{report.batch} | % fp32 peak | EP coverage | GPU delegate |",
        "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in report.rows:
        lines.append(
            f"| {r.format} | {r.variant} | {r.runtime} | {r.shipped_as} | {f(r.mib, '.1f')} | {f(r.top1, '.1%')}{ci(r.top1_ci)} | "
            f"{f(r.top3, '.1%')} | {f(r.agreement, '.1%')}{ci(r.agreement_ci)} | {r.parity} | {f(r.load_ms, '.0f')} | {f(r.p50_ms, '.1f')} | "
            f"{f(r.p90_ms, '.1f')} | {f(r.throughput, '.1f')} | {f(None if r.peak_fraction is None else 100 * r.peak_fraction, '.1f')} | "
            f"{r.ep_coverage} | {r.gpu_delegate} |"
        )
    p = report.peak
    small = too_small(report.photos)
    lines += [""] + ([f"- {small}"] if small else [])
    measured = p.get("measured_gflops")
    lines += [
        f"FLOPs per photo: {f(report.flops_per_photo and report.flops_per_photo / 1e9, '.2f')} G (TensorFlow profiler "
        f"on the reference's frozen graph, a multiply-add = 2; '-' without the bundle's run). "
        + (
            f"fp32 peak, measured: {measured:.0f} GFLOP/s ({p['gemm']}); assumed from the CPU: {p['gflops']:.0f} GFLOP/s = "
            f"{p['derivation']}; % of peak = FLOPs / p50 latency / the measured peak, for fp32 paths."
            if measured
            else f"fp32 peak: {p['gflops']:.0f} GFLOP/s = {p['derivation']}; % of peak = FLOPs / p50 latency / peak, for fp32 paths."
        )
    ]
    best = max((r for r in report.rows if r.peak_fraction), key=lambda r: r.peak_fraction, default=None)
    if best is not None and best.peak_fraction > 1 and not measured:
        implied = p["mhz"] * best.peak_fraction
        lines.append(
            f"- Above 100 %: {best.format}/{best.variant} computes {best.peak_fraction * p['gflops']:.0f} GFLOP/s, so the "
            f"cores ran at least at {implied:.0f} MHz, above the {p['mhz']:.0f} MHz used (a VM reports the base clock, "
            "not the boost); pass --clock-mhz with the boost clock for true fractions."
        )
    notes = [f.checks.accelerator_note for f in FORMATS.values() if f.checks.accelerator_note]
    lines += [f"- {'; '.join(notes + ['Phones were not timed'])}."]
    lines += [f"- {r.format}/{r.variant}: {r.note}" for r in report.rows if r.note]
    return "\n".join(lines + _two_pass_lines(report)) + "\n"


def _two_pass_lines(report) -> list[str]:
    """The two-pass table (files with the localizer's box output; :mod:`carspotter.tools.two_pass_cost`)."""
    if not report.two_pass:
        return []
    lines = [
        "",
        "Two passes on a 12 MP photo (pass 2 on a box of half the frame; median ms of each step, "
        "carspotter.tools.two_pass_cost):",
        "",
        "| format | variant | resize | pass 1 (probabilities and box) | ROI cut and resize | pass 2 | total | x one pass |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in report.two_pass:
        ms = t["ms"]
        lines.append(
            f"| {t['format']} | {t['variant']} | {ms['resize']:.1f} | {ms['pass1']:.1f} | {ms['roi']:.1f} | "
            f"{ms['pass2']:.1f} | {ms['total']:.1f} | {t['vs_one_pass']:.2f} |"
        )
    return lines


def chart(report, path: Path) -> None:
    """PNG: p50 latency (x, ms) against top-1 (y), marker area by file size (MiB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in report.rows:
        if r.p50_ms is None or r.top1 is None:
            continue
        ax.scatter(r.p50_ms, 100 * r.top1, s=30 + 4 * (r.mib or 40), alpha=0.6)
        ax.annotate(
            f"{r.format}/{r.variant}\n{r.mib or 0:.0f} MiB" if r.mib else "keras reference",
            (r.p50_ms, 100 * r.top1),
            fontsize=8,
            xytext=(6, 4),
            textcoords="offset points",
        )
    ax.set_xlabel(f"latency at batch 1, median ms ({report.threads} threads)")
    ax.set_ylabel(f"top-1 % on {report.photos} test photos")
    ax.set_title(f"{report.bundle}: size (marker area) vs latency vs accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(report, out: str | Path) -> Path:
    """Write ``benchmark.md``, ``benchmark.json`` and ``benchmark.png`` into ``out`` (replaced atomically)."""
    from carspotter.util.atomic import atomic_folder

    out = Path(out)
    with atomic_folder(out) as tmp:
        (tmp / "benchmark.md").write_text(markdown(report), encoding="utf-8")
        (tmp / "benchmark.json").write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        chart(report, tmp / "benchmark.png")
    return out
