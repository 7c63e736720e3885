"""Two-pass recognition by the npm package against the Python reference, on composite 12 MP scenes.

Shared by ``tests/test_npm_two_pass.py`` and ``tests/benchmarks/bench_npm_two_pass.py``. Scene ``i`` pastes photo
``i // C`` of class ``i % C`` (the run's classes, photos sorted by name) into a 4032 x 3024 scene
(:func:`carspotter.measure.composites.compose`, seed ``i``) at 50 % or 30 % of its width (alternating every ``C``
scenes); every fourth scene (``i % 4 == 3``) is given a region for pass 1, the car's box grown by half its size on each
side (kept in the scene), so the ``roi`` argument is compared too. Each scene is written as raw RGB bytes (``.rgb``,
row-major, no header: a PNG of 12 MP takes seconds to write and to read) with its reference answer:
:func:`carspotter.model.localizer.two_pass` with the run's Keras two-output model. ``tests/js/two_pass_scenes.mjs``
(Node) and ``tests/js/two_pass_page.mjs`` (headless Chromium) give the package's ``twoPass`` answers.

Agreement on a scene: the same number of passes, the same ROI within 1 pixel on each coordinate (or none on both),
and the same top-1.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

NODE_DIR = Path(__file__).resolve().parent / "js"
SHARES = (0.5, 0.3)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def car_photos(labels: list[str], photos: Path) -> list[list[Path]]:
    """The photos of each class (``photos/<label>/``), sorted by name."""
    return [sorted(p for p in (photos / label).iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) for label in labels]


def _region(box, width: int, height: int) -> list[int]:
    """The car's box grown by half its width and height on each side, inside the scene: x0, y0, x1, y1."""
    mx, my = box.width // 2, box.height // 2
    return [max(0, box.x0 - mx), max(0, box.y0 - my), min(width, box.x1 + mx), min(height, box.y1 + my)]


def make_scenes(run_dir: Path, photos: Path, indices, dest: Path, infer=None) -> list[dict]:
    """Scenes ``indices`` written to ``dest`` as ``scene-<i>.rgb``, each with its reference answer.

    Args:
        infer: ``[N, S, S, 3] -> (probabilities, box)``; default the run's two-output model's predict.

    Returns:
        per scene: file (name in ``dest``), width, height, region (or None), label, share, seed, and ``reference``:
        passes, roi (or None), found (or None), box, top1, probabilities.
    """
    from PIL import Image

    from carspotter.contracts.runfolder import read_run
    from carspotter.measure.composites import compose
    from carspotter.model.localizer import load_two_output, two_pass
    from carspotter.model.roi import Roi

    run = read_run(run_dir)
    if infer is None:
        model = load_two_output(run_dir)
        infer = lambda x: model.predict(x, verbose=0)  # noqa: E731
    files = car_photos(run.labels, photos)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i in indices:
        k, c = i % len(files), len(files)
        photo = files[k][(i // c) % len(files[k])]
        share = SHARES[(i // c) % len(SHARES)]
        scene = compose(np.asarray(Image.open(photo).convert("RGB")), share, seed=i)
        h, w = scene.pixels.shape[:2]
        region = _region(scene.box, w, h) if i % 4 == 3 else None
        answer = two_pass(infer, scene.pixels, run.input.size, Roi(*region) if region else None)
        name = f"scene-{i:04d}.rgb"
        scene.pixels.tofile(dest / name)
        out.append(
            {
                "file": name,
                "width": w,
                "height": h,
                "region": region,
                "label": k,
                "share": share,
                "seed": i,
                "reference": {
                    "passes": answer.passes,
                    "roi": list(answer.roi) if answer.roi else None,
                    "found": list(answer.found) if answer.found else None,
                    "box": [float(v) for v in answer.box],
                    "top1": int(np.argmax(answer.probabilities)),
                    "probabilities": [float(v) for v in answer.probabilities],
                },
            }
        )
    return out


def write_list(scenes: list[dict], dest: Path, name: str = "scenes.json") -> Path:
    """``dest/name``: what the Node script and the page read (file, width, height, region per scene)."""
    path = dest / name
    path.write_text(json.dumps([{k: s[k] for k in ("file", "width", "height", "region")} for s in scenes]))
    return path


def node_answers(pkg: Path, scenes: list[dict], dest: Path, timeout: int = 600) -> list[dict]:
    """The package's ``twoPass`` on each scene in Node (``tests/js/two_pass_scenes.mjs``): passes, roi, found, box,
    top1, probabilities, ms. ``pkg`` must resolve onnxruntime-node and sharp (a ``node_modules`` beside it)."""
    done = subprocess.run(
        ["node", str(NODE_DIR / "two_pass_scenes.mjs"), str(pkg), str(write_list(scenes, dest))],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"two_pass_scenes.mjs failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def chromium_answers(chromium: str, root: Path, pkg: Path, scenes: list[dict], dest: Path, timeout: int = 900) -> list:
    """The package's ``twoPass`` on each scene in headless Chromium (``tests/js/two_pass_page.mjs``: onnxruntime-web,
    ``pkg`` and ``dest`` below ``root``, which holds ``node_modules``), as :func:`node_answers` answers.

    Raises:
        RuntimeError: the page failed or logged a page error (its message)."""
    listing = write_list(scenes, dest, "chromium.json")
    done = subprocess.run(
        ["node", str(NODE_DIR / "two_pass_page.mjs"), chromium, str(root), str(pkg), str(listing)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"error": done.stderr[-2000:]}
    if "error" in out or out.get("pageErrors"):
        raise RuntimeError(f"two_pass_page.mjs failed: {out.get('error') or out['pageErrors']}")
    return out["result"]


def agreement(reference: dict, got: dict) -> dict:
    """One scene: same passes, ROI within 1 pixel on each coordinate (or None on both), same top-1, and all three;
    the largest |difference| of a box coordinate and of a probability (the final answer's)."""
    ra, ga = reference["roi"], got["roi"]
    roi = (ra is None and ga is None) or (
        ra is not None and ga is not None and max(abs(a - b) for a, b in zip(ra, ga)) <= 1
    )
    passes, top1 = reference["passes"] == got["passes"], reference["top1"] == got["top1"]
    return {
        "passes": passes,
        "roi": bool(roi),
        "roi_exact": ra == ga,
        "top1": top1,
        "agree": bool(passes and roi and top1),
        "box_max_abs_diff": float(np.abs(np.subtract(reference["box"], got["box"])).max()),
        "max_abs_dp": float(np.abs(np.subtract(reference["probabilities"], got["probabilities"])).max()),
    }
