"""Memory of the Android package's Kotlin core for a 48 MP photo (8000 x 6000), measured on the JVM; the Swift
package's figure computed from its buffer sizes (not measured: no Swift toolchain with Apple's frameworks here).

    python tests/benchmarks/bench_package_memory.py [--size 299] [--orientation 6] [--json figures.json]

The Kotlin core of an Android library written by ``android_library`` (a bundle needs no model for this) is compiled
with kotlinc (Debian's Kotlin 1.3) beside a small driver that reduces the generated 48 MP pattern of the resize
vectors (``ResizeVectors.Generated``, made a band at a time, so the photo itself costs nothing) and resizes it to
``--size``, two ways:

- ``band``: ``BandReduce.prepare`` (what ``CarSpotter.classify`` runs), then ``ReferenceResize.bilinear``;
- ``whole``: the previous path: the stored RGBA bytes on the heap (what ``storedPixels`` made: 192 MB), then
  ``ReferenceResize.prepare`` (for EXIF 1 its composited RGB copy, 144 MB).

Two figures per way: the peak of ``Runtime.totalMemory() - freeMemory()`` sampled every millisecond by a second
thread, minus the same figure before the run (after ``System.gc()``), and the smallest ``-Xmx`` (MiB, binary search)
at which the run completes rather than throwing ``OutOfMemoryError`` (serial GC, so the heap is one space and the
search is repeatable; a run still collecting garbage after ``TIMEOUT_S`` counts as not fitting). The second includes the JVM's own classes and the driver (a few MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

JARS = ("/usr/share/java/kotlin-stdlib.jar",)
WIDTH, HEIGHT = 8000, 6000
HEAP_FLOOR_MIB = 8
"""The smallest heap tried: a JVM with less barely starts."""
TIMEOUT_S = 60
"""A run takes about 2 s in a heap that fits; one that has not finished in this many seconds counts as too small."""

DRIVER = """package NS.core

object MemoryBench {
    @JvmStatic
    fun main(args: Array<String>) {
        val way = args[0]; val orientation = args[1].toInt(); val size = args[2].toInt()
        val runtime = Runtime.getRuntime()
        System.gc()
        val before = runtime.totalMemory() - runtime.freeMemory()
        val peak = java.util.concurrent.atomic.AtomicLong(before)
        val running = java.util.concurrent.atomic.AtomicBoolean(true)
        val sampler = Thread {
            while (running.get()) { peak.set(Math.max(peak.get(), runtime.totalMemory() - runtime.freeMemory())); Thread.sleep(1) }
        }
        sampler.start()
        val source = ResizeVectors.Generated(WIDTH, HEIGHT, 48)
        val reduced = if (way == "band") BandReduce.prepare(source, orientation, size) else {
            val stored = ByteArray(WIDTH * HEIGHT * 4)
            val band = IntArray(WIDTH)
            for (y in 0 until HEIGHT) {
                source.readRows(y, 1, band)
                for (x in 0 until WIDTH) {
                    val p = band[x]; val o = (y * WIDTH + x) * 4
                    stored[o] = (p shr 16).toByte(); stored[o + 1] = (p shr 8).toByte(); stored[o + 2] = p.toByte(); stored[o + 3] = -1
                }
            }
            ReferenceResize.prepare(stored, WIDTH, HEIGHT, 4, orientation, size)
        }
        val out = ReferenceResize.bilinear(reduced.pixels, reduced.width, reduced.height, size)
        running.set(false)
        sampler.join()
        println("{\\"peak_bytes\\": ${peak.get() - before}, \\"out_bytes\\": ${out.size}}")
    }
}
""".replace("WIDTH", str(WIDTH)).replace("HEIGHT", str(HEIGHT))


def build(work: Path) -> tuple[Path, str]:
    """The Kotlin core of a generated Android library and the driver, compiled: ``(jar, driver class)``."""
    from carspotter.export.formats.tflite.package import android_library
    from carspotter.export.package_names import android_namespace
    from carspotter.export.platform_package import PackageInfo

    info = PackageInfo(
        name="bench",
        version="0",
        labels=("a", "b"),
        size=299,
        threshold=None,
        not_a_car=None,
        model="carspotter.tflite",
        others=(),
        model_sha256="0" * 64,
        golden=False,
    )
    android_library(work / "android", info)
    namespace = android_namespace(info.name)
    core = work / "android" / "src" / "main" / "kotlin" / Path(*namespace.split(".")) / "core"
    (core / "MemoryBench.kt").write_text(DRIVER.replace("NS", namespace))
    jar = work / "bench.jar"
    done = subprocess.run(
        [
            "kotlinc",
            "-language-version",
            "1.3",
            "-api-version",
            "1.3",
            *map(str, sorted(core.glob("*.kt"))),
            "-d",
            str(jar),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return jar, f"{namespace}.core.MemoryBench"


def run(jar: Path, main: str, way: str, orientation: int, size: int, heap_mib: int) -> dict | None:
    """One run in a JVM of ``heap_mib`` MiB (serial GC): its figures, or None when it ran out of memory (or spent over
    ``TIMEOUT_S`` collecting garbage in a heap that barely fits)."""
    try:
        done = subprocess.run(
            [
                "java",
                f"-Xmx{heap_mib}m",
                "-XX:+UseSerialGC",
                "-cp",
                os.pathsep.join([str(jar), *JARS]),
                main,
                way,
                str(orientation),
                str(size),
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return None
    if "OutOfMemoryError" in done.stderr:
        return None
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def smallest_heap(jar: Path, main: str, way: str, orientation: int, size: int) -> int:
    """The smallest ``-Xmx`` in MiB at which the run completes within ``TIMEOUT_S`` (binary search, 8 to 2048 MiB)."""
    low, high = HEAP_FLOOR_MIB, 2048  # low fails or is the answer; high completes
    while low < high:
        mid = (low + high) // 2
        if run(jar, main, way, orientation, size, mid) is None:
            low = mid + 1
        else:
            high = mid
    return high


def swift_computed(size: int) -> dict:
    """The Swift package's band path for the same photo, from its buffer sizes (BandReduce.swift: RGBA bands of at
    most 1 MiB, Int column offsets, Int64 sums, the reduced bytes, the resized bytes). Computed, not measured."""
    rows = max(1, (1 << 20) // (WIDTH * 4))
    kx, ky = max(1, WIDTH // size), max(1, HEIGHT // size)
    boxes = -(-WIDTH // kx) * -(-HEIGHT // ky)
    parts = {
        "band": rows * WIDTH * 4,
        "column_offsets": WIDTH * 8,
        "sums": boxes * 3 * 8,
        "reduced": boxes * 3,
        "resized": size * size * 3,
    }
    return {**parts, "total_bytes": sum(parts.values()), "whole_photo_rgba_bytes": WIDTH * HEIGHT * 4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--orientation", type=int, default=6, help="EXIF orientation of the stored photo (1..8)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    if shutil.which("kotlinc") is None or shutil.which("java") is None:
        raise SystemExit("kotlinc and java are needed: apt-get install kotlin")
    figures = {"photo": f"{WIDTH} x {HEIGHT}", "size": args.size, "orientation": args.orientation}
    with tempfile.TemporaryDirectory() as tmp:
        jar, driver = build(Path(tmp))
        for way in ("band", "whole"):
            sampled = run(jar, driver, way, args.orientation, args.size, 2048)
            figures[way] = {
                "sampled_peak_mib": round(sampled["peak_bytes"] / 2**20, 1),
                "smallest_xmx_mib": smallest_heap(jar, driver, way, args.orientation, args.size),
            }
    figures["swift_computed"] = swift_computed(args.size)
    for way in ("band", "whole"):
        f = figures[way]
        floor = "at most (the search's floor)" if f["smallest_xmx_mib"] == HEAP_FLOOR_MIB else "at the least"
        print(
            f"Kotlin core, {way:5s} path: peak heap {f['sampled_peak_mib']:7.1f} MiB sampled, "
            f"runs in -Xmx{f['smallest_xmx_mib']}m {floor} (measured, JVM {WIDTH} x {HEIGHT}, EXIF {args.orientation})"
        )
    s = figures["swift_computed"]
    print(
        f"Swift package, band path: {s['total_bytes'] / 2**20:.1f} MiB of buffers (computed from its buffer sizes, "
        f"not measured; the whole photo drawn as RGBA would be {s['whole_photo_rgba_bytes'] / 2**20:.0f} MiB)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
