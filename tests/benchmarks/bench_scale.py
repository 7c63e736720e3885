"""Scale: a dataset of many photos (scan, hash, split, disk cache) and a model with many classes.

    python tests/benchmarks/bench_scale.py photos [--photos 100000] [--classes 468] [--size 299] \
        [--workers 4] [--work DIR] [--json figures.json]
    python tests/benchmarks/bench_scale.py classes --run RUN_DIR --bundle BUNDLE_DIR [--json figures.json]

``photos``: builds ``--photos`` files under ``--work`` (default a temporary folder) from the
Stanford Cars photos in ``../shared``, each copy made distinct by a few bytes after the JPEG's
end-of-image marker (decoders ignore them; the sha256 differs, so the duplicate check sees
distinct photos), spread over ``--classes`` class folders (468: the eBay seed project's
count). Then, as ``carspotter train`` does them, one after another: scan (read the layout)
with the sha256 of every file, the seeded split, and the decode into the disk cache
(``--cache disk``: an ``.npy`` memory map of ``[N, size, size, 3]`` uint8). Per step: wall
time, rate, and the peak resident memory reached during the step (``VmHWM`` reset before
each step through ``/proc/self/clear_refs``; it counts the pages of the memory-mapped cache
file, which the kernel can drop) and the peak anonymous memory (``RssAnon`` sampled every
0.1 s: what the process itself holds), plus the cache file's size.

``classes``: figures of an existing large-class run and bundle (train it with synthetic labels
over real photos, e.g. 1,000 classes of ~6 photos: ``bench_scale.py labels`` writes such a
tree): label count in every format, manifest and labels.txt sizes, model sizes, and the time
of ``carspotter parity`` on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
STANFORD = REPO.parent / "shared" / "data" / "stanford_cars"


def _hwm_mib() -> float:
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024


def _rss_mib() -> float:
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS:")).split()[1]) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS to the current RSS (Linux >= 4.0)
        f.write("5")


def _anon_mib() -> float:
    return int(next(l for l in open("/proc/self/status") if l.startswith("RssAnon:")).split()[1]) / 1024


def _step(name: str, fn, count: int, rows: list):
    """Run one step; record wall time, rate, peak RSS (VmHWM: includes pages of a memory-mapped
    cache file, which the kernel can drop) and peak anonymous memory (RssAnon sampled every 0.1 s)."""
    import threading

    _reset_peak()
    base, anon = _rss_mib(), [_anon_mib()]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            anon.append(_anon_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - t0
    rows.append(
        {
            "step": name,
            "photos": count,
            "seconds": round(seconds, 1),
            "photos_per_s": round(count / seconds),
            "peak_rss_mib": round(_hwm_mib()),
            "peak_above_start_mib": round(_hwm_mib() - base),
            "peak_anonymous_mib": round(max(anon + [_anon_mib()])),
        }
    )
    print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    return out


def build_tree(dest: Path, photos: int, classes: int) -> float:
    """``photos`` distinct JPEG files over ``classes`` folders under ``dest``; returns GiB written."""
    from carspotter.model.photos import find_photos

    sources = find_photos(STANFORD)
    if not sources:
        raise SystemExit(f"{STANFORD}: no photos; the benchmark needs ../shared/data/stanford_cars")
    folders = [dest / f"class {c:04d}" for c in range(classes)]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    data = {}
    total = 0
    for i in range(photos):
        src = sources[i % len(sources)]
        blob = data.get(src) or data.setdefault(src, src.read_bytes())
        payload = blob + f"carspotter-bench-{i}".encode()  # after EOI: ignored by decoders, changes the sha256
        (folders[i % classes] / f"{i:06d}.jpg").write_bytes(payload)
        total += len(payload)
        if i and i % 20000 == 0:
            print(f"  built {i} of {photos} photos", file=sys.stderr, flush=True)
    return total / 2**30


def photos_benchmark(args) -> dict:
    from carspotter.train import dataset as ds
    from carspotter.train import store as store_mod

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="carspotter-scale-"))
    tree = work / "photos"
    rows: list[dict] = []
    try:
        if not tree.is_dir():
            gib = _step("build tree (copies)", lambda: build_tree(tree, args.photos, args.classes), args.photos, rows)
        else:
            gib = sum(p.stat().st_size for p in tree.rglob("*.jpg")) / 2**30
        data = _step("scan + sha256", lambda: ds.scan(tree, min_photos=3, workers=args.workers), args.photos, rows)
        parts = _step("split", lambda: ds.split(data, seed=1337), args.photos, rows)
        order = [p for s in ds.SPLITS for p in parts[s]]
        cache = work / "cache"
        shutil.rmtree(cache, ignore_errors=True)  # a finished cache would be reused: measure a fresh one
        cache.mkdir()
        store = _step(
            f"decode into disk cache ({args.size} px)",
            lambda: store_mod.decode(
                [data.root / p.path for p in order], [p.box for p in order], args.size, args.workers, "disk", cache
            ),
            len(order),
            rows,
        )
        cache_gib = sum(p.stat().st_size for p in cache.rglob("*.npy")) / 2**30
        return {
            "photos": args.photos,
            "classes": len(data.classes),
            "tree_gib": round(gib, 2),
            "cache_gib": round(cache_gib, 2),
            "decoded": int(store.ok.sum()),
            "cores": os.cpu_count(),
            "workers": args.workers,
            "steps": rows,
        }
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def write_labels_tree(dest: Path, classes: int) -> None:
    """Synthetic labels over real photos: the Stanford photos dealt round-robin into ``classes`` folders (symlinks)."""
    from carspotter.model.photos import find_photos

    sources = find_photos(STANFORD)
    for i, src in enumerate(sources):
        folder = dest / f"model {i % classes:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}{src.suffix}").symlink_to(src)


def _label_counts(bundle: Path, labels: list[str]) -> tuple[dict, dict]:
    """How many labels each place holds (the run's ``labels``, the manifest, each format's model and labels.txt), and
    manifest.json as read."""
    import onnx

    from carspotter.export.formats.tflite.metadata import read_metadata
    from carspotter.contracts.manifest import read_manifest
    from carspotter.contracts.runfolder import read_labels
    from carspotter.export.formats.coreml.inspect import coreml_structure

    manifest = read_manifest(bundle)
    counts = {
        "run labels.txt": len(labels),
        "manifest": len(manifest.labels),
        "coreml classifier": len(
            coreml_structure(bundle / "ios" / "Sources" / "CarSpotter" / "CarSpotterModel.mlpackage")["labels"]
        ),
        "tflite metadata": len(
            read_metadata(
                (bundle / "android" / "src" / "main" / "assets" / "carspotter" / "carspotter.tflite").read_bytes()
            )[1]
        ),
        "onnx metadata_props": len(
            json.loads(
                {p.key: p.value for p in onnx.load(bundle / "onnx" / "carspotter.onnx").metadata_props}["labels"]
            )
        ),
    }
    manifest = json.loads((bundle / "manifest.json").read_text())
    counts.update({e["labels"]: len(read_labels(bundle / e["labels"])) for e in manifest["formats"].values()})
    return counts, manifest


def classes_benchmark(args) -> dict:
    from carspotter.contracts.runfolder import read_labels

    bundle, run = Path(args.bundle), Path(args.run)
    labels = read_labels(run / "labels.txt")
    counts, manifest = _label_counts(bundle, labels)
    sizes = {
        "manifest.json KiB": (bundle / "manifest.json").stat().st_size / 1024,
        "labels.txt KiB": (run / "labels.txt").stat().st_size / 1024,
    }
    sizes.update(
        {
            f"{e['path']} MiB": e["size"] / 2**20
            for e in [{"path": k, "size": v["bytes"]} for k, v in manifest["files"].items()]
            if e["path"].endswith((".tflite", ".onnx", "weight.bin"))
        }
    )
    exe = str(Path(sys.executable).with_name("carspotter"))
    t0 = time.perf_counter()
    parity = subprocess.run([exe, "parity", str(bundle), "--run", str(run)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    doc = json.loads((bundle / "parity.json").read_text())
    return {
        "classes": len(labels),
        "label_counts": counts,
        "all_equal": len(set(counts.values())) == 1,
        "sizes": {k: round(v, 2) for k, v in sizes.items()},
        "parity_seconds": round(seconds, 1),
        "parity_exit": parity.returncode,
        "parity_passed": doc["passed"],
        "parity_photos": doc["photos"],
        "parity_results": [
            {
                k: r[k]
                for k in ("photo_set", "format", "target", "precision", "passed", "top1_agreement", "max_abs_diff")
            }
            for r in doc["results"]
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("photos")
    p.add_argument("--photos", type=int, default=100_000)
    p.add_argument("--classes", type=int, default=468)
    p.add_argument("--size", type=int, default=299)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--work", default=None, help="keep the tree and cache here (reused if present)")
    p.add_argument("--json", default=None)
    lab = sub.add_parser("labels")
    lab.add_argument("dest")
    lab.add_argument("--classes", type=int, default=1000)
    c = sub.add_parser("classes")
    c.add_argument("--run", required=True)
    c.add_argument("--bundle", required=True)
    c.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.what == "labels":
        write_labels_tree(Path(args.dest), args.classes)
        print(f"{args.dest}: {args.classes} synthetic classes over the Stanford Cars photos")
        return 0
    doc = photos_benchmark(args) if args.what == "photos" else classes_benchmark(args)
    print(json.dumps(doc, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
