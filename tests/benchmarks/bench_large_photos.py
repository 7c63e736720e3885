"""Large photos: decode time and peak memory with and without the reduced-scale JPEG decode,
and how much the reduced-scale decode moves the pixels and the answers.

    python tests/benchmarks/bench_large_photos.py [--full ../shared/data/stanford_cars_full] \
        [--run runs/NAME] [--repeats 5] [--json figures.json]

Part 1, phone-sized JPEGs (12, 48 and 108 megapixels, made by upscaling the largest photo
under ``--full`` with Lanczos and saving at quality 92, as phones do): for each, decode +
resize to 299 x 299 the way training and parity do (:func:`carspotter.model.photos.load_photo`,
reduced-scale decode on) and with every pixel decoded (off): median wall time over
``--repeats`` runs, and peak resident memory in a fresh process (``VmHWM`` after minus
before, MiB), and the pixel difference between the two inputs.

Part 2, real photos (every file under ``--full``): the reduced-scale decode at factors 1, 2
and 4 (the shipped :data:`carspotter.model.photos.DRAFT_FACTOR` is 4; 1 and 2 reduce more and
bound the effect) against the full decode: how many photos it reduces, max and mean
|d pixel| over the [299, 299, 3] inputs, and with ``--run`` the reference model's top-1
and ordered top-3 changes and max |dp|.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, os.path.dirname(__file__))
from timing import median_ms  # noqa: E402
SIZE = 299
PHONE_SIZES = {"12 MP (4032x3024)": (4032, 3024), "48 MP (8064x6048)": (8064, 6048), "108 MP (12000x9000)": (12000, 9000)}

_PEAK = r"""
import sys
from carspotter.model import photos

def hwm_kib():  # this process's peak RSS (VmHWM; unlike ru_maxrss it does not carry the parent's peak over exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])

before = hwm_kib()
if sys.argv[2] == "on":
    photos.load_photo(sys.argv[1], 299)
else:
    photos.resize(photos.decode_rgb(sys.argv[1]), 299)
print((hwm_kib() - before) / 1024)
"""


def _peak_mib(path: Path, mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path), mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def phone_photos(full: Path, repeats: int) -> list[dict]:
    """Part 1: one row per synthetic phone photo."""
    from PIL import Image

    from carspotter.model import photos

    source = max((p for p in full.rglob("*.jpg")), key=lambda p: (lambda s: s[0] * s[1])(Image.open(p).size))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in PHONE_SIZES.items():
            path = Path(tmp) / f"{size[0]}x{size[1]}.jpg"
            Image.open(source).convert("RGB").resize(size, Image.Resampling.LANCZOS).save(path, quality=92)
            timing = {}
            try:
                photos.decode_rgb(path)
            except photos.PhotoError as exc:  # over Pillow's pixel limit: only the reduced-scale decode reads it
                full_refused = exc.reason
            else:
                full_refused = None
            for mode, fn in (("on", lambda: photos.load_photo(path, SIZE)),
                             ("off", lambda: photos.resize(photos.decode_rgb(path), SIZE))):
                if mode == "off" and full_refused:
                    timing[mode] = None
                    continue
                timing[mode] = median_ms(fn, repeats, warmup=1)
            with Image.open(path) as im:
                scale = photos.draft_scale(im, SIZE)
            on = photos.load_photo(path, SIZE).astype(int)
            off = None if full_refused else photos.resize(photos.decode_rgb(path), SIZE).astype(int)
            refused = "refused (over Pillow's pixel limit)"
            rows.append({"photo": name, "file_mib": path.stat().st_size / 2**20, "scale": f"1/{scale}",
                         "ms_reduced": timing["on"], "ms_full": timing["off"] if off is not None else refused,
                         "peak_mib_reduced": _peak_mib(path, "on"),
                         "peak_mib_full": _peak_mib(path, "off") if off is not None else refused,
                         "max_abs_dpixel": int(np.abs(on - off).max()) if off is not None else "-",
                         "mean_abs_dpixel": float(np.abs(on - off).mean()) if off is not None else "-"})
            print(f"  {rows[-1]}", file=sys.stderr)
    return rows


def real_photos(full: Path, run_dir: str | None) -> list[dict]:
    """Part 2: one row per draft factor."""
    from carspotter.model import photos

    files = photos.find_photos(full)
    reference = [photos.resize(photos.decode_rgb(p), SIZE) for p in files]
    model = probs_ref = None
    if run_dir:
        from carspotter.contracts.runfolder import read_run
        from carspotter.model.runtimes import keras_probs, load_reference

        model = load_reference(read_run(run_dir))
        probs_ref = keras_probs(model, np.stack(reference).astype(np.float32))
    rows = []
    original = photos.DRAFT_FACTOR
    try:
        for factor in (1, 2, 4):
            photos.DRAFT_FACTOR = factor
            drafted = [photos.load_photo(p, SIZE) for p in files]
            changed = [i for i, (a, b) in enumerate(zip(drafted, reference)) if not np.array_equal(a, b)]
            diff = np.abs(np.stack(drafted).astype(int) - np.stack(reference))
            row = {"draft_factor": factor, "min_side_px_for_1/2": 2 * factor * SIZE, "photos": len(files),
                   "reduced": len(changed), "max_abs_dpixel": int(diff.max()),
                   "mean_abs_dpixel_of_reduced": float(diff[changed].mean()) if changed else 0.0}
            if model is not None:
                probs = keras_probs(model, np.stack(drafted).astype(np.float32))
                top3_ref, top3 = np.argsort(-probs_ref, 1)[:, :3], np.argsort(-probs, 1)[:, :3]
                row.update({"top1_changed": int((top3_ref[:, 0] != top3[:, 0]).sum()),
                            "top3_changed": int((top3_ref != top3).any(1).sum()),
                            "max_abs_dp": float(np.abs(probs - probs_ref).max())})
            rows.append(row)
            print(f"  {row}", file=sys.stderr)
    finally:
        photos.DRAFT_FACTOR = original
    return rows


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", default=str(REPO.parent / "shared" / "data" / "stanford_cars_full"))
    parser.add_argument("--run", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    full = Path(args.full)
    if not full.is_dir():
        print(f"{full}: no such folder; pass --full with original-size photos", file=sys.stderr)
        return 2
    phone, real = phone_photos(full, args.repeats), real_photos(full, args.run)
    print("Phone-sized JPEGs, decode + resize to 299 x 299 (reduced-scale decode vs every pixel):")
    print(_table(phone))
    print("\nReal photos under --full, reduced-scale decode vs every pixel:")
    print(_table(real))
    if args.json:
        Path(args.json).write_text(json.dumps({"phone": phone, "real": real}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
