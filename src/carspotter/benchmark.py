"""``carspotter benchmark``: one table for every format and shipped variant of a bundle, plus the Keras reference.

Columns: file size (MiB); top-1 / top-3 on the test photos (the run's test split when the
run is found, else the bundle's golden set with its labels); top-1 agreement with the
reference; the parity verdict measured at export (manifest, top-3 rule); load time (ms,
median of 3); latency at batch 1 (ms, median and p90 over ``runs`` >= 30 timed calls after 3
warm-up calls each, the predictors interleaved call by call so drift of the machine hits
every one alike); throughput at batch N (photos/s); and, for the fp32 paths, the fraction
of this CPU's fp32 peak reached (:func:`fp32_peak` and :func:`flops_per_photo`).

Runtimes, each with ``threads`` threads: Keras as a compiled ``tf.function`` (TensorFlow's
intra-op pool), LiteRT's ``Interpreter`` (XNNPACK; its default, no ``num_threads``, is one
thread), ONNX Runtime's CPU execution provider (``intra_op_num_threads``, spinning off). Core ML runs only on macOS (``MLModel.predict``); elsewhere its
accuracy is the MIL reference execution's and its timings are left out (numpy, not Core ML).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from carspotter.errors import UsageError

WARMUP = 3
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
    top3: float | None = None
    agreement: float | None = None
    parity: str = "-"
    load_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    throughput: float | None = None
    peak_fraction: float | None = None
    note: str = ""


@dataclass
class Predictor:
    """A loaded model: ``batch1(pixels [1, S, S, 3] uint8) -> [1, C]`` and ``batch(pixels [N, S, S, 3]) -> [N, C]``."""

    batch1: Callable[[np.ndarray], np.ndarray]
    batch: Callable[[np.ndarray], np.ndarray]
    timed: bool = True


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

    def to_json(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "rows"}, "rows": [asdict(r) for r in self.rows]}


def fp32_peak(threads: int, cpuinfo: str | None = None, clock_mhz: float | None = None) -> dict:
    """This CPU's fp32 peak for ``threads`` cores, and how it was derived.

    peak = cores x clock x FLOPs per cycle per core, FLOPs per cycle = vector lanes (fp32) x 2
    (a fused multiply-add counts 2) x FMA pipes. Lanes and pipes come from the flags and family
    in ``/proc/cpuinfo``: AMD family 26 (Zen 5) 16 lanes x 2 pipes; AMD Zen 4 with AVX-512 runs
    it on 256-bit halves, 8 x 2; Intel AVX-512 16 x 2 (two FMA ports, Xeon Gold/Platinum class:
    an assumption); AVX2 + FMA 8 x 2; else SSE 4 x 1. The clock is the ``cpu MHz`` the kernel
    reports (base clock in a VM; boost is not counted) unless ``clock_mhz`` is given. ``cpuinfo``:
    that file's text (default: read it). Returns ``{"gflops", "cores", "mhz", "flops_per_cycle", "cpu", "derivation"}``.
    """
    if cpuinfo is None:
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    info = cpuinfo
    fields = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    vendor, family = fields.get("vendor_id", ""), int(fields.get("cpu family", "0") or 0)
    reported = float(fields.get("cpu MHz", "0") or 0)
    mhz = clock_mhz or reported
    clock = f"{mhz:.0f} MHz ({'--clock-mhz' if clock_mhz else 'cpu MHz in /proc/cpuinfo'})"
    if "avx512f" in flags and vendor == "AuthenticAMD" and family >= 26:
        lanes, pipes, why = 16, 2, "AMD Zen 5 (family 26): AVX-512 at full width, 2 FMA pipes"
    elif "avx512f" in flags and vendor == "AuthenticAMD":
        lanes, pipes, why = 8, 2, "AMD Zen 4: AVX-512 on 256-bit halves, 2 FMA pipes"
    elif "avx512f" in flags:
        lanes, pipes, why = 16, 2, "AVX-512, assumed 2 FMA ports (Xeon Gold/Platinum class)"
    elif "avx2" in flags and "fma" in flags:
        lanes, pipes, why = 8, 2, "AVX2 with FMA, 2 FMA pipes"
    else:
        lanes, pipes, why = 4, 1, "SSE, no FMA"
    cores = max(1, min(threads, sum(line.startswith("processor") for line in info.splitlines()) or os.cpu_count() or 1))
    per_cycle = lanes * 2 * pipes
    return {"gflops": cores * mhz * 1e6 * per_cycle / 1e9, "cores": cores, "mhz": mhz, "flops_per_cycle": per_cycle,
            "cpu": fields.get("model name", platform.processor()),
            "derivation": f"{cores} cores x {clock} x {per_cycle} FLOPs/cycle ({lanes} fp32 lanes x 2 (FMA) x "
                          f"{pipes} pipes: {why})"}


def flops_per_photo(model, size: int) -> float:
    """Floating-point operations of one photo through the Keras reference, counted from its frozen
    graph by TensorFlow's profiler (``float_ops``: a multiply-add is 2)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([1, size, size, 3], tf.float32))
    frozen = convert_variables_to_constants_v2(fn)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # the v1 profiler announces its own deprecation on every call
    try:
        return float(tf.compat.v1.profiler.profile(graph=frozen.graph, cmd="op", options=opts).total_float_ops)
    finally:
        tf.get_logger().setLevel(level)


def _keras(model) -> Predictor:
    import tensorflow as tf

    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    call = lambda px: fn(tf.constant(px, tf.float32)).numpy()  # noqa: E731
    return Predictor(call, call)


def _litert(path: Path, threads: int, batch: int) -> Predictor:
    from ai_edge_litert.interpreter import Interpreter

    from carspotter.runtimes import litert_invoke

    def make(n):
        it = Interpreter(model_path=str(path), num_threads=threads)
        if n != 1:
            inp = it.get_input_details()[0]
            it.resize_tensor_input(inp["index"], [n, *inp["shape"][1:]])
        it.allocate_tensors()
        return it

    one, many = make(1), make(batch)
    return Predictor(lambda px: litert_invoke(one, px), lambda px: litert_invoke(many, px))


def _onnx(path: Path, threads: int) -> Predictor:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    # ONNX Runtime's workers spin after a call; interleaved with other runtimes on few cores that
    # steals their CPU (the Keras reference measured 55 instead of 39 ms right after it), so off:
    # ONNX Runtime itself loses about 2 ms per photo (28 -> 30 ms at 299 px, 2 threads).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    call = lambda px: session.run(None, {name: px.astype(np.float32)})[0]  # noqa: E731
    return Predictor(call, call)


def _coreml(path: Path, variant, labels: list[str]) -> Predictor:
    from carspotter import runtimes

    if runtimes.coreml_predict_unavailable() is None:
        call = lambda px: runtimes.coreml_predict_probs(path, px, labels)  # noqa: E731
        return Predictor(call, call)
    call = lambda px: runtimes.mil_reference_probs(path, px, variant.mil_mode, labels)  # noqa: E731
    return Predictor(call, call, timed=False)


def _timed_load(load: Callable[[], Predictor]) -> tuple[Predictor, float]:
    times, pred = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        pred = load()
        times.append((time.perf_counter() - t0) * 1000)
    return pred, statistics.median(times)


def _accuracy(probs: np.ndarray, truth: np.ndarray | None, reference: np.ndarray | None) -> tuple:
    from carspotter.metrics import topk_accuracy

    top1 = topk_accuracy(probs, truth, 1) if truth is not None else None
    top3 = topk_accuracy(probs, truth, 3) if truth is not None else None
    agree = float(np.mean(probs.argmax(1) == reference.argmax(1))) if reference is not None else None
    return top1, top3, agree


def _all(pred: Predictor, pixels: np.ndarray) -> np.ndarray:
    return np.concatenate([pred.batch1(pixels[i:i + 1]) for i in range(len(pixels))])


def run_benchmark(bundle: str | Path, photos: int | None = None, threads: int = 2, batch: int = 8, runs: int = MIN_RUNS,
                  run: str | Path | None = None, log: Callable[[str], None] = lambda m: None,
                  clock_mhz: float | None = None) -> Report:
    """Measure every shipped variant of ``bundle`` and the Keras reference on this machine.

    Args:
        bundle: the bundle folder (verified against its manifest first).
        photos: use at most N test photos (default: all of them).
        threads: CPU threads for every runtime.
        batch: batch size of the throughput column.
        runs: timed batch-1 calls per predictor (at least :data:`MIN_RUNS`).
        run: the bundle's run folder (default: looked for as parity does); without it there is
            no Keras row and the golden set is the photo set.
        log: progress lines.
        clock_mhz: the cores' clock for the fp32 peak (default: what /proc/cpuinfo reports).

    Raises:
        UsageError: ``threads``, ``batch``, ``photos`` or ``runs`` out of range (exit 2).
        BundleError: the bundle fails verification or has neither its run nor a golden set.
    """
    from carspotter.errors import BundleError
    from carspotter.formats import FORMATS
    from carspotter.golden import read_golden
    from carspotter.manifest import verify_bundle
    from carspotter.parity_context import find_run
    from carspotter.photoset import split_photoset
    from carspotter import runtimes
    from carspotter.runtimes import load_reference

    for name, value, low in (("--threads", threads, 1), ("--batch", batch, 1), ("--photos", photos or 1, 1),
                             ("--runs", runs, MIN_RUNS)):
        if value < low:
            raise UsageError(f"{name} {value}: must be at least {low}")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialised in this process: its pools keep their size
        pass
    bundle = Path(bundle)
    manifest = verify_bundle(bundle)
    run_obj = find_run(bundle, manifest, run)
    if run_obj is not None:
        ps = split_photoset(run_obj, "test", limit=photos)
        pixels, truth, source = ps.pixels, ps.truth, "the run's test split"
    else:
        golden = read_golden(bundle, manifest.labels, manifest.spec.size)
        if golden is None:
            raise BundleError(f"{bundle}: its run was not found and it has no golden set: nothing to measure on; pass --run DIR")
        pixels, truth = golden.exact_inputs()[:photos], golden.truth[:photos]
        source = "the bundle's golden set"
    if len(pixels) < batch:
        raise UsageError(f"--batch {batch}: more than the {len(pixels)} photos available; choose a smaller batch")
    peak = fp32_peak(threads, clock_mhz=clock_mhz)
    report = Report(str(bundle.name), len(pixels), source, threads, batch, runs, None, peak,
                    f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({peak['cpu']})")
    entries: list[tuple[Row, Predictor]] = []
    reference = None
    if run_obj is not None:
        model = None

        def load_keras():
            nonlocal model
            model = load_reference(run_obj)  # keras.saving.load_model, safe_mode
            return _keras(model)

        pred, load_ms = _timed_load(load_keras)
        log("counting FLOPs of the reference")
        report.flops_per_photo = flops_per_photo(model, manifest.spec.size)
        entries.append((Row("keras", "reference", f"TensorFlow {tf.__version__} (tf.function)", "-", None, load_ms=load_ms), pred))
    for fmt, entry in manifest.formats.items():
        spec = FORMATS[fmt]
        for vname, record in entry.variants.items():
            if not record.shipped:
                continue
            path, vspec = bundle / record.path, spec.variant(vname)
            shipped = "default" if vname == entry.default_variant else "beside"
            if fmt == "tflite":
                load, runtime = (lambda p=path: _litert(p, threads, batch)), "LiteRT (XNNPACK)"
            elif fmt == "onnx":
                load, runtime = (lambda p=path: _onnx(p, threads)), "ONNX Runtime CPU EP"
            else:
                load = lambda p=path, v=vspec: _coreml(p, v, list(manifest.labels))  # noqa: E731
                runtime = ("Core ML predict" if runtimes.coreml_predict_unavailable() is None
                           else f"MIL reference execution ({vspec.mil_mode})")
            pred, load_ms = _timed_load(load)
            row = Row(fmt, vname, runtime, shipped, record.bytes / 2**20, load_ms=load_ms if pred.timed else None,
                      parity=("pass" if record.figures.parity.passed else "FAIL") + f" ({record.figures.parity.near_ties} near-ties)",
                      note="" if pred.timed else "not timed: Core ML runs only on macOS; accuracy from the MIL reference execution")
            entries.append((row, pred))
    log(f"accuracy of {len(entries)} predictors on {len(pixels)} photos")
    for row, pred in entries:
        probs = _all(pred, pixels)
        if row.format == "keras":
            reference = probs
        row.top1, row.top3, row.agreement = _accuracy(probs, truth, reference)
    timed = [(row, pred) for row, pred in entries if pred.timed]
    log(f"latency: {runs} interleaved batch-1 calls x {len(timed)} predictors after {WARMUP} warm-up calls each")
    for _, pred in timed:
        for i in range(WARMUP):
            pred.batch1(pixels[i % len(pixels):][:1])
    samples: dict[int, list[float]] = {id(p): [] for _, p in timed}
    for i in range(runs):
        x = pixels[i % len(pixels):][:1]
        for _, pred in timed:
            t0 = time.perf_counter()
            pred.batch1(x)
            samples[id(pred)].append((time.perf_counter() - t0) * 1000)
    log(f"throughput at batch {batch}")
    chunk = pixels[:batch]
    for row, pred in timed:
        ms = samples[id(pred)]
        row.p50_ms, row.p90_ms = statistics.median(ms), float(np.percentile(ms, 90))
        pred.batch(chunk)
        t0 = time.perf_counter()
        reps = 3
        for _ in range(reps):
            pred.batch(chunk)
        row.throughput = batch * reps / (time.perf_counter() - t0)
        fp32 = row.format == "keras" or row.variant == "fp32"
        if fp32 and report.flops_per_photo:
            row.peak_fraction = report.flops_per_photo / (row.p50_ms / 1000) / (peak["gflops"] * 1e9)
    report.rows = [row for row, _ in entries]
    return report


def markdown(report: Report) -> str:
    """The table and its notes as Markdown."""
    f = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731
    lines = [f"Bundle `{report.bundle}` on {report.machine}; {report.threads} threads; {report.photos} photos "
             f"({report.photo_source}); batch-1 latency over {report.runs} interleaved calls after {WARMUP} warm-up calls.", "",
             "| format | variant | runtime | shipped | MiB | top-1 | top-3 | agreement | parity | load ms | p50 ms | p90 ms "
             f"| photos/s @{report.batch} | % fp32 peak |",
             "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in report.rows:
        lines.append(f"| {r.format} | {r.variant} | {r.runtime} | {r.shipped_as} | {f(r.mib, '.1f')} | {f(r.top1, '.1%')} | "
                     f"{f(r.top3, '.1%')} | {f(r.agreement, '.1%')} | {r.parity} | {f(r.load_ms, '.0f')} | {f(r.p50_ms, '.1f')} | "
                     f"{f(r.p90_ms, '.1f')} | {f(r.throughput, '.1f')} | {f(None if r.peak_fraction is None else 100 * r.peak_fraction, '.1f')} |")
    p = report.peak
    lines += ["", f"FLOPs per photo: {f(report.flops_per_photo and report.flops_per_photo / 1e9, '.2f')} G (TensorFlow profiler "
              f"on the reference's frozen graph, a multiply-add = 2). fp32 peak: {p['gflops']:.0f} GFLOP/s = {p['derivation']}; "
              "% of peak = FLOPs / p50 latency / peak, for fp32 paths."]
    best = max((r for r in report.rows if r.peak_fraction), key=lambda r: r.peak_fraction, default=None)
    if best is not None and best.peak_fraction > 1:
        implied = p["mhz"] * best.peak_fraction
        lines.append(f"- Above 100 %: {best.format}/{best.variant} computes {best.peak_fraction * p['gflops']:.0f} GFLOP/s, so the "
                     f"cores ran at least at {implied:.0f} MHz, above the {p['mhz']:.0f} MHz used (a VM reports the base clock, "
                     "not the boost); pass --clock-mhz with the boost clock for true fractions.")
    lines += [f"- {r.format}/{r.variant}: {r.note}" for r in report.rows if r.note]
    return "\n".join(lines) + "\n"


def chart(report: Report, path: Path) -> None:
    """PNG: p50 latency (x, ms) against top-1 (y), marker area by file size (MiB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for r in report.rows:
        if r.p50_ms is None or r.top1 is None:
            continue
        ax.scatter(r.p50_ms, 100 * r.top1, s=30 + 4 * (r.mib or 40), alpha=0.6)
        ax.annotate(f"{r.format}/{r.variant}\n{r.mib or 0:.0f} MiB" if r.mib else "keras reference", (r.p50_ms, 100 * r.top1),
                    fontsize=8, xytext=(6, 4), textcoords="offset points")
    ax.set_xlabel(f"latency at batch 1, median ms ({report.threads} threads)")
    ax.set_ylabel(f"top-1 % on {report.photos} test photos")
    ax.set_title(f"{report.bundle}: size (marker area) vs latency vs accuracy")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(report: Report, out: str | Path) -> Path:
    """Write ``benchmark.md``, ``benchmark.json`` and ``benchmark.png`` into ``out`` (replaced atomically)."""
    from carspotter.atomic import atomic_folder

    out = Path(out)
    with atomic_folder(out) as tmp:
        (tmp / "benchmark.md").write_text(markdown(report), encoding="utf-8")
        (tmp / "benchmark.json").write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        chart(report, tmp / "benchmark.png")
    return out
