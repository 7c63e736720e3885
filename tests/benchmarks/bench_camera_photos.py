"""Camera photos: which antialiasing before the bilinear step, measured; and what a 12-108 MP photo costs.

    python tests/benchmarks/bench_camera_photos.py --run runs/NAME [--full ../shared/data/stanford_cars_full] \
        [--cache /tmp/camera12] [--side 4032] [--noise 3] [--json out.json] [--cost-only]

Part 1 (with ``--run``): the run's reference model (Keras) on the original-size photos of its classes
(``--full``, one folder per class name) and on camera-size versions of the same photos, made once into
``--cache``: Lanczos-upscaled so the long side is ``--side`` px (4032: a 12 MP phone's width), seeded
Gaussian sensor noise (``--noise``: sigma in levels per channel, default 3; daylight), JPEG quality 92 with 4:2:0 chroma, as phones save.
Every candidate resize is applied to the same photos; the figures are top-1 with its Wilson 95 %
interval, the paired difference against the old reference with its Newcombe interval and the exact
McNemar test, on all photos, on those with a side of at least 2 x S, and on the run's test split. The
candidates:

- ``old``: the reference before December 2026: JPEG DCT draft decode (libjpeg 1/2, 1/4, 1/8 while
  both sides stay >= 4 x S), then MediaPipe's bilinear without antialiasing;
- ``bilinear``: every pixel decoded, then that bilinear (bare MediaPipe on the whole photo);
- ``box-floor``: the integer box pre-reduction with k = side // S, then the bilinear (the new reference,
  :func:`carspotter.model.reference_resize.resize`);
- ``box-ceil``: the same boxes with k = ceil(side / S) (reduced side at most S, then a slight upscale);
- ``pillow-antialias``: Pillow's ``Image.resize(BILINEAR)`` (antialiased, support scaled with the
  factor; floating point, not portable bit for bit): what a good antialiasing filter gives.

Part 2: decode + reference resize of synthetic 12, 48 and 108 MP JPEGs (Lanczos upscales of the largest
original): median time over 3 runs and the peak resident memory of a fresh process (VmHWM, MiB); and the same in
Node as the npm package does it (sharp decode with EXIF applied, then the package's ``resize.js``), with Node's
peak resident memory (``process.resourceUsage().maxRSS``), where Node and sharp are installed
(``CARSPOTTER_NODE_DIR``, default ``tests/js``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
SIZE = 299
NOISE_SIGMA = 3.0
QUALITY = 92
PHONE_SIZES = {"12 MP": (4032, 3024), "48 MP": (8064, 6048), "108 MP": (12000, 9000)}


def camera_version(src: Path, dst: Path, side: int, seed: int, noise: float = NOISE_SIGMA) -> None:
    """Write ``src`` upscaled (Lanczos) to a long side of ``side`` px, with sensor noise, as JPEG q92 4:2:0."""
    from PIL import Image

    with Image.open(src) as im:
        rgb = im.convert("RGB")
    scale = side / max(rgb.size)
    big = np.asarray(
        rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS), dtype=np.float32
    )
    big += np.random.default_rng(seed).normal(0.0, noise, big.shape).astype(np.float32)
    Image.fromarray(np.clip(np.rint(big), 0, 255).astype(np.uint8)).save(dst, quality=QUALITY, subsampling=2)


def old_reference(path: Path) -> np.ndarray:
    """The reference before this change: libjpeg draft decode (never below 4 x S), then the bilinear."""
    from PIL import Image, ImageOps

    from carspotter.model import photos, reference_resize

    with Image.open(path) as im:
        if im.format == "JPEG" and min(im.size) // 2 >= 4 * SIZE:
            im.draft("RGB", (4 * SIZE, 4 * SIZE))
        im.load()
        im = ImageOps.exif_transpose(im)
        rgb = photos._to_rgb(im)
    return reference_resize.bilinear(np.asarray(rgb), SIZE)


def candidates(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Every candidate on one fully decoded upright photo ``[H, W, 3]`` uint8 (``old`` is separate)."""
    from PIL import Image

    from carspotter.model import reference_resize as rr

    h, w = rgb.shape[:2]
    kx, ky = -(-w // SIZE), -(-h // SIZE)
    return {
        "bilinear": rr.bilinear(rgb, SIZE),
        "box-floor": rr.resize(rgb, SIZE),
        "box-ceil": rr.bilinear(_boxes(rgb, kx, ky), SIZE),
        "pillow-antialias": np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.Resampling.BILINEAR)),
    }


def _boxes(rgb: np.ndarray, kx: int, ky: int) -> np.ndarray:
    """Box averages with given factors (rounded half up), for the ``box-ceil`` candidate."""
    h, w = rgb.shape[:2]
    ys, xs = np.arange(0, h, ky), np.arange(0, w, kx)
    sums = np.add.reduceat(np.add.reduceat(rgb.astype(np.int64), ys, axis=0), xs, axis=1)
    n = np.diff(np.append(ys, h))[:, None, None] * np.diff(np.append(xs, w))[None, :, None]
    return ((sums + n // 2) // n).astype(np.uint8)


def _decoded_inputs(items: list, cache: Path, side: int, noise: float, test_names: set) -> tuple:
    """Every candidate's inputs of each photo and of its camera version (made in ``cache`` once); which photos have a
    side of 2 x S or more, and which are in the test split."""
    from carspotter.model import photos

    inputs = {"original": {}, "camera": {}}
    big, test = [], []
    t0 = time.time()
    for i, (path, label) in enumerate(items):
        cam = cache / f"{label:03d}_{path.stem}.jpg"
        if not cam.is_file():
            camera_version(path, cam, side, seed=i, noise=noise)
        for kind, file in (("original", path), ("camera", cam)):
            rgb = np.asarray(photos.decode_rgb(file))
            row = candidates(rgb)
            row["old"] = old_reference(file)
            for name, px in row.items():
                inputs[kind].setdefault(name, []).append(px)
            if kind == "original":
                big.append(max(rgb.shape[:2]) >= 2 * SIZE)
        test.append(path.name in test_names)
        if time.time() - t0 > 30 or i == len(items) - 1:
            print(f"  decoded {i + 1}/{len(items)} photos", file=sys.stderr)
            t0 = time.time()
    return inputs, big, test


def measure_accuracy(run_dir: str, full: Path, cache: Path, side: int, noise: float) -> list[dict]:
    """Part 1: one row per (photo set, candidate)."""
    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.intervals import paired_difference, wilson
    from carspotter.model import photos
    from carspotter.model.runtimes import keras_probs, load_reference

    run = read_run(run_dir)
    labels = run.labels
    test_names = {Path(r.path).name for r in run.split_rows("test")}
    items = [(p, k) for k, name in enumerate(labels) for p in photos.find_photos(full / name)]
    if not items:
        raise SystemExit(f"{full}: no photos of the run's classes; pass --full with one folder per class name")
    cache.mkdir(parents=True, exist_ok=True)
    inputs, big, test = _decoded_inputs(items, cache, side, noise, test_names)
    model = load_reference(run)
    truth = np.array([label for _, label in items])
    subsets = {"all": np.ones(len(items), bool), "side >= 2 x S": np.array(big), "test split": np.array(test)}
    rows = []
    for kind, by_name in inputs.items():
        right = {
            name: keras_probs(model, np.stack(px).astype(np.float32)).argmax(1) == truth for name, px in by_name.items()
        }
        for subset, mask in subsets.items():
            for name, ok in right.items():
                k, n = int(ok[mask].sum()), int(mask.sum())
                low, high = wilson(k, n)
                diff = paired_difference(ok[mask], right["old"][mask])
                rows.append(
                    {
                        "photos": kind,
                        "subset": subset,
                        "n": n,
                        "candidate": name,
                        "top1": k / n,
                        "low": low,
                        "high": high,
                        "vs_old": diff.difference,
                        "vs_old_low": diff.low,
                        "vs_old_high": diff.high,
                        "only_this": diff.only_a,
                        "only_old": diff.only_b,
                        "mcnemar_p": diff.p_value,
                    }
                )
                print(f"  {rows[-1]}", file=sys.stderr)
    return rows


_PEAK = r"""
import sys, time
from carspotter.model import photos

def hwm_kib():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])

before = hwm_kib()
t = time.perf_counter()
photos.load_photo(sys.argv[1], 299)
print((time.perf_counter() - t) * 1000, (hwm_kib() - before) / 1024)
"""


def measure_cost(full: Path, tmp: Path) -> list[dict]:
    """Part 2: decode + reference resize time (median of 3 fresh processes) and peak memory per phone size."""
    from PIL import Image

    source = max(full.rglob("*.jpg"), key=lambda p: (lambda s: s[0] * s[1])(Image.open(p).size))
    rows = []
    for name, size in PHONE_SIZES.items():
        path = tmp / f"{size[0]}x{size[1]}.jpg"
        if not path.is_file():
            Image.open(source).convert("RGB").resize(size, Image.Resampling.LANCZOS).save(path, quality=QUALITY)
        runs = [
            subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True) for _ in range(3)
        ]
        if runs[0].returncode:
            rows.append({"photo": name, "pixels": size[0] * size[1], "result": runs[0].stderr.strip().splitlines()[-1]})
        else:
            ms, mib = zip(*(map(float, r.stdout.split()) for r in runs))
            rows.append(
                {
                    "photo": name,
                    "pixels": size[0] * size[1],
                    "file_mib": round(path.stat().st_size / 2**20, 1),
                    "ms_median": round(float(np.median(ms))),
                    "peak_mib": round(max(mib)),
                }
            )
        print(f"  {rows[-1]}", file=sys.stderr)
    return rows


_NODE = r"""
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const [nodeDir, resizeJs, file] = process.argv.slice(2);
const sharp = createRequire(nodeDir + '/')('sharp');
const { resize } = await import(pathToFileURL(resizeJs).href);
const t0 = performance.now();
const { data, info } = await sharp(file).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
const t1 = performance.now();
resize(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height, info.channels, 299);
const t2 = performance.now();
console.log(JSON.stringify({ decode_ms: t1 - t0, resize_ms: t2 - t1, max_rss_mib: process.resourceUsage().maxRSS / 1024 }));
"""


def measure_node_cost(tmp: Path) -> list[dict]:
    """Part 2 in Node: the npm package's way (sharp decode, resize.js), median of 3 fresh processes per photo size."""
    import shutil

    node_dir = os.environ.get("CARSPOTTER_NODE_DIR", str(REPO / "tests" / "js"))
    if shutil.which("node") is None or not (Path(node_dir) / "node_modules" / "sharp").is_dir():
        return [{"skipped": f"Node.js or sharp missing ({node_dir}/node_modules)"}]
    script = tmp / "node_cost.mjs"
    script.write_text(_NODE)
    resize_js = REPO / "export" / "packages" / "onnx" / "resize.js"
    rows = []
    for name, size in PHONE_SIZES.items():
        path = tmp / f"{size[0]}x{size[1]}.jpg"
        runs = [
            json.loads(
                subprocess.run(
                    ["node", str(script), node_dir, str(resize_js), str(path)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            for _ in range(3)
        ]
        rows.append({"photo": name, **{k: round(float(np.median([r[k] for r in runs])), 1) for k in runs[0]}})
        print(f"  node {rows[-1]}", file=sys.stderr)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None)
    parser.add_argument("--full", default=str(REPO.parent / "shared" / "data" / "stanford_cars_full"))
    parser.add_argument("--cache", default="/tmp/carspotter-camera")
    parser.add_argument("--side", type=int, default=4032)
    parser.add_argument("--noise", type=float, default=NOISE_SIGMA)
    parser.add_argument("--json", default=None)
    parser.add_argument("--cost-only", action="store_true")
    args = parser.parse_args()
    full, cache = Path(args.full), Path(args.cache)
    if not full.is_dir():
        print(f"{full}: no such folder; pass --full with original-size photos", file=sys.stderr)
        return 2
    cache.mkdir(parents=True, exist_ok=True)
    result = {"cost": measure_cost(full, cache)}
    result["node_cost"] = measure_node_cost(cache)
    if args.run and not args.cost_only:
        result["accuracy"] = measure_accuracy(
            args.run, full, cache / f"side{args.side}-noise{args.noise:g}", args.side, args.noise
        )
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
