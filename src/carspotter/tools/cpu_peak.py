"""What the fp32 column of ``carspotter benchmark`` (:mod:`carspotter.tools.benchmark`) divides by: this CPU's fp32
peak, assumed from ``/proc/cpuinfo`` (:func:`fp32_peak`) and measured (:func:`gemm_peak`), and the FLOPs of one photo
through the Keras reference (:func:`flops_per_photo`)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


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
    return {
        "gflops": cores * mhz * 1e6 * per_cycle / 1e9,
        "cores": cores,
        "mhz": mhz,
        "flops_per_cycle": per_cycle,
        "cpu": fields.get("model name", platform.processor()),
        "derivation": f"{cores} cores x {clock} x {per_cycle} FLOPs/cycle ({lanes} fp32 lanes x 2 (FMA) x "
        f"{pipes} pipes: {why})",
    }


def gemm_peak(threads: int, n: int = 2048, repeats: int = 5) -> dict:
    """The fp32 rate this machine achieves, measured: an ``n x n`` float32 matrix product (2 n^3 FLOPs) in TensorFlow
    with its intra-op pool at ``threads`` (as the reference runs), best of ``repeats`` after one warm-up.
    Returns ``{"gflops", "gemm"}`` (GFLOP/s, how it was measured); the % of peak column divides by it, since
    the assumed peak (clock x lanes) is not what a VM's cores reach."""
    import tensorflow as tf

    a = tf.random.stateless_uniform([n, n], seed=[1, 2], dtype=tf.float32)
    b = tf.random.stateless_uniform([n, n], seed=[3, 4], dtype=tf.float32)
    matmul = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
    return {
        "gflops": 2 * n**3 / best / 1e9,
        "gemm": f"{n} x {n} fp32 matmul in TensorFlow, {threads} threads, best of {repeats}: {best * 1000:.1f} ms",
    }


def flops_per_photo(model, size: int) -> float:
    """Floating-point operations of one photo through the Keras reference, counted from its frozen
    graph by TensorFlow's profiler (``float_ops``: a multiply-add is 2)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, size, size, 3], tf.float32)
    )
    frozen = convert_variables_to_constants_v2(fn)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # the v1 profiler announces its own deprecation on every call
    try:
        return float(tf.compat.v1.profiler.profile(graph=frozen.graph, cmd="op", options=opts).total_float_ops)
    finally:
        tf.get_logger().setLevel(level)
