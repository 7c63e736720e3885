"""``carspotter benchmark``: one table for every format and shipped variant of a bundle, plus the Keras reference.

Columns: file size (MiB); top-1 / top-3 on the test photos (the run's test split when the
run is found, else the bundle's golden set with its labels); top-1 agreement with the
reference; the parity verdict measured at export (manifest, top-3 rule); load time (ms,
median of 3); latency at batch 1 (ms, median and p90 over ``runs`` >= 30 timed calls after 3
warm-up calls each, the predictors interleaved call by call so drift of the machine hits
every one alike); throughput at batch N (photos/s); and, for the fp32 paths, the fraction
of this CPU's fp32 peak reached (:mod:`carspotter.tools.cpu_peak`).

Runtimes, each with ``threads`` threads: Keras as a compiled ``tf.function`` (TensorFlow's
intra-op pool), LiteRT's ``Interpreter`` (XNNPACK; its default, no ``num_threads``, is one
thread), ONNX Runtime's CPU execution provider (``intra_op_num_threads``, spinning off). Core ML runs only on macOS (``MLModel.predict``); elsewhere its
accuracy is the MIL execution's and its timings are left out (numpy, not Core ML).
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter.measure.intervals import wilson
from carspotter.tools.two_pass_cost import two_pass_cost
from carspotter.model.formats import FORMATS
from carspotter.util.errors import UsageError
from carspotter.tools.benchmark_page import WARMUP, chart, markdown, write
from carspotter.tools.cpu_peak import flops_per_photo, fp32_peak, gemm_peak
from carspotter.tools.loaded import Loaded, open_reference, open_variant

__all__ = ["Report", "Row", "chart", "fp32_peak", "markdown", "run_benchmark", "write"]

MIN_RUNS = 30


@dataclass
class Row:
    """One line of the table (times in ms, sizes in MiB, rates 0..1, throughput in photos/s)."""

    format: str
    variant: str
    runtime: str
    shipped_as: str
    mib: float | None
    top1: float | None = None
    top1_ci: list[float] | None = None
    top3: float | None = None
    agreement: float | None = None
    agreement_ci: list[float] | None = None
    parity: str = "-"
    load_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    throughput: float | None = None
    peak_fraction: float | None = None
    ep_coverage: str = "-"
    gpu_delegate: str = "-"
    note: str = ""


@dataclass
class Report:
    """Everything the command prints and writes."""

    bundle: str
    photos: int
    photo_source: str
    threads: int
    batch: int
    runs: int
    flops_per_photo: float | None
    peak: dict
    machine: str
    rows: list[Row] = field(default_factory=list)
    two_pass: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "rows"}, "rows": [asdict(r) for r in self.rows]}


def left_out_rows(manifest) -> list[Row]:
    """A row for every variant a gate left out at export (its file is not in the bundle): size, and the export's
    own figures (ms per photo on the measuring runtime, the gate verdict), so the table shows what compression
    would have bought and why it was refused."""
    rows = []
    for fmt, entry in manifest.formats.items():
        for name, record in entry.variants.items():
            if record.shipped:
                continue
            ms = f"{record.ms_per_photo:.1f} ms/photo at export; " if record.ms_per_photo else ""
            # no accuracy columns: those are measured here on the benchmark's photos; the gate's own figures (on its
            # photos, near-ties counted as parity counts them) are in the note
            rows.append(Row(fmt, name, "-", "left out", record.bytes / 2**20, note=f"{ms}gate: {record.gate}"[:300]))
    return rows


def _timed_load(load: Callable[[], Loaded]) -> tuple[Loaded, float]:
    """Load three times (the load-time column is their median, ms); keep the last, close the others."""
    times, loaded = [], None
    for _ in range(3):
        if loaded is not None:
            loaded.session.close()
        t0 = time.perf_counter()
        loaded = load()
        times.append((time.perf_counter() - t0) * 1000)
    return loaded, statistics.median(times)


def _accuracy(probs: np.ndarray, truth: np.ndarray | None, reference: np.ndarray | None) -> tuple:
    from carspotter.measure.metrics import topk_accuracy

    top1 = topk_accuracy(probs, truth, 1) if truth is not None else None
    top3 = topk_accuracy(probs, truth, 3) if truth is not None else None
    agree = float(np.mean(probs.argmax(1) == reference.argmax(1))) if reference is not None else None
    return top1, top3, agree


def _all(loaded: Loaded, pixels: np.ndarray) -> np.ndarray:
    """One photo per call, as an app runs it."""
    return np.concatenate([loaded.infer(pixels[i : i + 1]) for i in range(len(pixels))])


def _check_args(photos: int | None, threads: int, batch: int, runs: int) -> None:
    for name, value, low in (
        ("--threads", threads, 1),
        ("--batch", batch, 1),
        ("--photos", photos or 1, 1),
        ("--runs", runs, MIN_RUNS),
    ):
        if value < low:
            raise UsageError(f"{name} {value}: must be at least {low}")


def _set_tf_threads(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process: its pools keep their size
        pass


def _photos(handle, photos: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(pixels, truth, where they come from)`` of an opened bundle: the run's test split, else the golden set.

    Raises:
        BundleError: neither the run nor a golden set.
    """
    from carspotter.util.errors import BundleError
    from carspotter.contracts.photoset import split_photoset

    if handle.run is not None:
        ps = split_photoset(handle.run, "test", limit=photos)
        return ps.pixels, ps.truth, "the run's test split"
    bundle, golden = handle.folder, handle.golden
    if golden is None:
        raise BundleError(
            f"{bundle}: its run was not found and it has no golden set: nothing to measure on; pass --run DIR"
        )
    return golden.exact_inputs()[:photos], golden.truth[:photos], "the bundle's golden set"


def _load_all(src, report: Report, batch: int, log: Callable[[str], None]) -> list[tuple[Row, Loaded]]:
    """The Keras reference (when the run is here) and every shipped variant, each loaded (load time measured: each
    load afresh, _timed_load closes the one before, and the source's pool loads it again)."""
    manifest = src.manifest
    entries: list[tuple[Row, Loaded]] = []
    if src.run is not None:
        loaded, load_ms = _timed_load(lambda: open_reference(src, reload=True))  # keras.saving.load_model, safe_mode
        model = loaded.session.model
        log("counting FLOPs of the reference")
        report.flops_per_photo = flops_per_photo(model, manifest.spec.size)
        entries.append(
            (
                Row(
                    "keras",
                    "reference",
                    f"{loaded.session.describe()['version']} (tf.function)",
                    "-",
                    None,
                    load_ms=load_ms,
                ),
                loaded,
            )
        )
    for fmt, entry in manifest.formats.items():
        for vname, record in entry.variants.items():
            if not record.shipped:
                continue
            loaded, load_ms = _timed_load(lambda f=fmt, v=vname: open_variant(src, f, v))
            if hasattr(loaded.session, "reserve"):
                loaded.session.reserve(batch)
            timed = loaded.session.timed
            d = loaded.session.describe()
            row = Row(
                fmt,
                vname,
                f"{d['runtime']}, {d['device']}",
                "default" if vname == entry.default_variant else "beside",
                record.bytes / 2**20,
                load_ms=load_ms if timed else None,
                parity=("pass" if record.figures.parity.passed else "FAIL")
                + f" ({record.figures.parity.near_ties} near-ties)",
                note="" if timed else f"not timed: {loaded.session.untimed_reason}",
            )
            cells = FORMATS[fmt].checks.accelerator_cells
            row.ep_coverage, row.gpu_delegate = cells(record.accelerators) if cells else ("-", "-")
            if getattr(loaded.session, "fixed_batch", None) == 1:
                row.note = (
                    row.note + "; " if row.note else ""
                ) + "fixed batch of 1 (a phone file): photos/s is one photo per call"
            entries.append((row, loaded))
    return entries


def _latency(timed: list[tuple[Row, Loaded]], pixels: np.ndarray, runs: int) -> None:
    """p50 / p90 ms of ``runs`` batch-1 calls, the sessions interleaved call by call after warm-up."""
    for _, loaded in timed:
        for i in range(WARMUP):
            loaded.infer(pixels[i % len(pixels) :][:1])
    samples: dict[int, list[float]] = {id(lo): [] for _, lo in timed}
    for i in range(runs):
        x = pixels[i % len(pixels) :][:1]
        for _, loaded in timed:
            t0 = time.perf_counter()
            loaded.infer(x)
            samples[id(loaded)].append((time.perf_counter() - t0) * 1000)
    for row, loaded in timed:
        ms = samples[id(loaded)]
        row.p50_ms, row.p90_ms = statistics.median(ms), float(np.percentile(ms, 90))


def _throughput(timed: list[tuple[Row, Loaded]], chunk: np.ndarray, report: Report) -> None:
    """Photos/s at batch ``len(chunk)`` (3 timed calls after one warm-up) and the fraction of the fp32 peak."""
    for row, loaded in timed:
        loaded.infer(chunk)
        t0 = time.perf_counter()
        reps = 3
        for _ in range(reps):
            loaded.infer(chunk)
        row.throughput = len(chunk) * reps / (time.perf_counter() - t0)
        fp32 = row.format == "keras" or row.variant == "fp32"
        rate = report.peak.get("measured_gflops") or report.peak["gflops"]
        if fp32 and report.flops_per_photo:
            row.peak_fraction = report.flops_per_photo / (row.p50_ms / 1000) / (rate * 1e9)


def _new_report(bundle: Path, photos: int, source: str, threads: int, batch: int, runs: int, clock_mhz, log) -> Report:
    """An empty report with this machine's fp32 peak, assumed and measured (the GEMM probe)."""
    peak = fp32_peak(threads, clock_mhz=clock_mhz)
    log("measuring the achievable fp32 rate (GEMM probe)")
    probe = gemm_peak(threads)
    peak.update(measured_gflops=probe["gflops"], gemm=probe["gemm"])
    return Report(
        str(bundle.name),
        photos,
        source,
        threads,
        batch,
        runs,
        None,
        peak,
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({peak['cpu']})",
    )


def _measure_accuracy(entries: list[tuple[Row, Loaded]], pixels: np.ndarray, truth: np.ndarray | None) -> None:
    """Each row's top-1, top-3 and agreement with the reference (the first row, when it is Keras'), with intervals."""
    reference = None
    for row, loaded in entries:
        probs = _all(loaded, pixels)
        reference = probs if row.format == "keras" else reference
        row.top1, row.top3, row.agreement = _accuracy(probs, truth, reference)
        n = len(pixels)
        row.top1_ci = None if row.top1 is None else list(wilson(round(row.top1 * n), n))
        row.agreement_ci = None if row.agreement is None else list(wilson(round(row.agreement * n), n))


def run_benchmark(
    bundle: str | Path,
    photos: int | None = None,
    threads: int = 2,
    batch: int = 8,
    runs: int = MIN_RUNS,
    run: str | Path | None = None,
    log: Callable[[str], None] = lambda m: None,
    clock_mhz: float | None = None,
) -> Report:
    """Measure every shipped variant of ``bundle`` and the Keras reference on this machine.

    Args:
        bundle: the bundle folder (verified against its manifest first).
        photos: use at most N test photos (default: all of them).
        threads: CPU threads for every runtime.
        batch: batch size of the throughput column.
        runs: timed batch-1 calls per session (at least :data:`MIN_RUNS`).
        run: the bundle's run folder (default: looked for as parity does); without it there is
            no Keras row and the golden set is the photo set.
        log: progress lines.
        clock_mhz: the cores' clock for the fp32 peak (default: what /proc/cpuinfo reports).

    Raises:
        UsageError: ``threads``, ``batch``, ``photos`` or ``runs`` out of range (exit 2).
        BundleError: the bundle fails verification or has neither its run nor a golden set.
    """
    from carspotter.contracts.source import open_bundle_source

    _check_args(photos, threads, batch, runs)
    _set_tf_threads(threads)
    with open_bundle_source(bundle, run, threads=threads) as src:  # the command's one pool, closed at the end
        return _benchmark(src, photos, threads, batch, runs, clock_mhz, log)


def _benchmark(src, photos, threads: int, batch: int, runs: int, clock_mhz, log) -> Report:
    """:func:`run_benchmark` on an opened bundle."""
    bundle, manifest = src.folder, src.manifest
    pixels, truth, source = _photos(src, photos)
    if len(pixels) < batch:
        raise UsageError(f"--batch {batch}: more than the {len(pixels)} photos available; choose a smaller batch")
    report = _new_report(bundle, len(pixels), source, threads, batch, runs, clock_mhz, log)
    entries = _load_all(src, report, batch, log)
    try:
        log(f"accuracy of {len(entries)} sessions on {len(pixels)} photos")
        _measure_accuracy(entries, pixels, truth)
        timed = [(row, lo) for row, lo in entries if lo.session.timed]
        log(f"latency: {runs} interleaved batch-1 calls x {len(timed)} sessions after {WARMUP} warm-up calls each")
        _latency(timed, pixels, runs)
        log(f"throughput at batch {batch}")
        _throughput(timed, pixels[:batch], report)
        for row, loaded in ((r, lo) for r, lo in timed if lo.session.box(pixels[:1]) is not None):
            log(f"two passes on a 12 MP photo: {row.format}/{row.variant}")
            report.two_pass.append(
                {"format": row.format, "variant": row.variant, **two_pass_cost(loaded.session, manifest.spec.size)}
            )
    finally:
        for _, loaded in entries:
            loaded.session.close()
    report.rows = [row for row, _ in entries] + left_out_rows(manifest)
    return report
