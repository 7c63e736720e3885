"""Write a bundle's golden set (:mod:`carspotter.contracts.golden`): choose photos, write them, record the answers.

Choice (from the run's test split): about half spread over as many classes as possible
(round-robin over the classes, photos in name order), the rest the photos whose reference
top-1 / top-2 margin is smallest, the ones a runtime flips first.
"""

from __future__ import annotations

import io
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.contracts import box_vectors, golden, resize_vectors
from carspotter.model import photos, runtimes
from carspotter.util.atomic import atomic_write
from carspotter.export.jpeg_metadata import strip_metadata
from carspotter.model.formats import FORMATS
from carspotter.model.session_pool import SessionPool
from carspotter.measure.gates import measure
from carspotter.contracts.manifest_entries import FormatEntry
from carspotter.measure.metrics import topk
from carspotter.measure.parity_rule import APP_PATH_MIN_MARGIN, TOLERANCES, precision_for
from carspotter.contracts.photoset import PhotoSet
from carspotter.model.spec import InputSpec

DEFAULT_COUNT = 32
RECODE_QUALITY = 95
COVERAGE, MARGIN = "class coverage", "smallest margin"


def choose(truth: np.ndarray, probs: np.ndarray, names: list[str], count: int) -> list[tuple[int, str]]:
    """Indices of the golden photos and why each was chosen.

    Args:
        truth: ``[N]`` true classes; probs: ``[N, C]`` reference probabilities; names: N photo names.
        count: K wanted (all N when there are fewer).

    Returns:
        ``[(index, "class coverage" | "smallest margin")]``, coverage first.
    """
    count = min(count, len(truth))
    by_class: dict[int, list[int]] = {}
    for i in sorted(range(len(truth)), key=lambda i: names[i]):
        by_class.setdefault(int(truth[i]), []).append(i)
    coverage, round_ = [], 0
    while len(coverage) < (count + 1) // 2:
        row = [members[round_] for _, members in sorted(by_class.items()) if round_ < len(members)]
        if not row:
            break
        coverage += row[: (count + 1) // 2 - len(coverage)]
        round_ += 1
    ordered = np.sort(probs, axis=1)
    margins = ordered[:, -1] - ordered[:, -2]
    taken = set(coverage)
    rest = [i for i in np.argsort(margins, kind="stable") if i not in taken][: count - len(coverage)]
    return [(i, COVERAGE) for i in coverage] + [(int(i), MARGIN) for i in rest]


def app_photo(source: Path, box) -> tuple[bytes, str]:
    """The photo as an app would get it: ``(JPEG bytes, how it was made)``.

    A JPEG used whole keeps its exact coded data (:func:`~carspotter.export.jpeg_metadata.strip_metadata`,
    EXIF orientation kept); a cropped photo or another format is re-encoded as JPEG (upright, quality 95).
    """
    from PIL import Image

    data = source.read_bytes()
    if box is None and data[:2] == b"\xff\xd8":
        with Image.open(io.BytesIO(data)) as im:
            orientation = im.getexif().get(0x0112)
        return strip_metadata(data, orientation), "original JPEG, metadata removed (EXIF orientation kept)"
    image = photos.decode_rgb(source)
    if box is not None:
        image = photos.crop(image, box, source)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=RECODE_QUALITY)
    return (
        buf.getvalue(),
        f"re-encoded as JPEG quality {RECODE_QUALITY} ({'cropped to its box' if box else 'not a JPEG'})",
    )


def _reference_info() -> dict:
    import keras
    import PIL
    from PIL import features

    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "libjpeg-turbo": features.version("libjpeg_turbo"),
    }
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return {
        "model": "Keras reference (model.keras)",
        "backend": keras.backend.backend(),
        "device": "CPU:0",
        "machine": f"{platform.system()} {platform.machine()}",
        "versions": versions,
    }


@dataclass
class _Photo:
    index: int
    reason: str
    how: str


def _write_photos(
    folder: Path, ps: PhotoSet, chosen: list[tuple[int, str]], size: int
) -> tuple[np.ndarray, list[_Photo]]:
    """Write ``NNN.jpg`` (app photo) and ``NNN.png`` (our decoder's input from it); returns the inputs."""
    from PIL import Image

    folder.mkdir()
    pixels, made = np.zeros((len(chosen), size, size, 3), np.uint8), []
    for k, (i, reason) in enumerate(chosen):
        data, how = app_photo(ps.paths[i], ps.boxes[i] if ps.boxes else None)
        jpg = folder / f"{k:03d}.jpg"
        jpg.write_bytes(data)
        pixels[k] = photos.load_photo(jpg, size)
        Image.fromarray(pixels[k], "RGB").save(folder / f"{k:03d}.png", optimize=True)
        made.append(_Photo(i, reason, how))
    return pixels, made


def _variant_figures(
    bundle: Path, formats: dict[str, FormatEntry], pixels, reference, truth, labels, names, pool: SessionPool
) -> dict:
    """Every shipped variant measured on the golden inputs, as parity will re-measure it (sessions from export's pool)."""
    out = {}
    for fmt, entry in formats.items():
        spec = FORMATS[fmt]
        for name, record in entry.shipped().items():
            variant = spec.variant(name)
            probs = pool.session(spec.execution.measuring_runtime, variant, bundle / record.path).infer(pixels)
            out[f"{fmt}/{name}"] = measure(reference, probs, truth, labels, names, fmt, variant).to_json()
    return out


def _photo_entries(made: list, ps: PhotoSet, names: list[str], truth, labels: list[str], probs, boxes) -> list[dict]:
    """expected.json's ``photos``: each golden photo's files, class, why it was chosen, and the reference's answers
    (probabilities, margin, top 5, and its box when the run has a localizer)."""
    top5, ordered = topk(probs, min(5, len(labels))), np.sort(probs, axis=1)
    return [
        {
            "photo": names[k],
            "input": f"{golden.FOLDER}/{k:03d}.png",
            "source": ps.names[p.index],
            "label": int(truth[k]),
            "class": labels[truth[k]],
            "selected_for": p.reason,
            "photo_file": p.how,
            "probabilities": [float(v) for v in probs[k]],
            "margin": float(ordered[k, -1] - ordered[k, -2]),
            "top5": [{"index": int(j), "label": labels[j], "probability": float(probs[k, j])} for j in top5[k]],
            **({"box": [float(v) for v in boxes[k]]} if boxes is not None else {}),
        }
        for k, p in enumerate(made)
    ]


def _format_entries(formats: dict[str, FormatEntry]) -> dict:
    """expected.json's ``formats``: each format's default file, its variant and precision, and the device's."""
    return {
        fmt: {
            "path": e.path,
            "variant": e.default_variant,
            "precision": e.precision,
            "device_precision": precision_for(e.precision, FORMATS[fmt].execution.device_mode),
        }
        for fmt, e in formats.items()
    }


def write_golden(
    bundle: Path,
    count: int,
    ps: PhotoSet,
    reference: np.ndarray,
    model,
    spec: InputSpec,
    labels: list[str],
    formats: dict[str, FormatEntry],
    pool: SessionPool,
    box_model=None,
) -> dict | None:
    """Write ``bundle/golden/`` (photos, exact inputs, expected.json); returns the manifest's ``golden`` entry.

    Args:
        bundle: the bundle being built (its formats already written).
        count: K photos (0: no golden set, returns None).
        ps: the run's test photos, with their files and crop boxes; reference: ``[N, C]`` the
            reference's probabilities on them (used to choose).
        model: the Keras reference, run again on the exact inputs written.
        formats: the bundle's formats (every shipped variant is measured on the golden set).
        pool: export's session pool (each file was loaded when it was measured).
        box_model: the two-output model when the run has a localizer: each photo's expected ``box`` is its output.
    """
    if count <= 0:
        return None
    chosen = choose(ps.truth, reference, ps.names, count)
    pixels, made = _write_photos(bundle / golden.FOLDER, ps, chosen, spec.size)
    probs = runtimes.keras_probs(model, pixels)
    truth = ps.truth[[p.index for p in made]]
    names = [f"{golden.FOLDER}/{k:03d}.jpg" for k in range(len(made))]
    boxes = np.asarray(box_model.predict(pixels.astype(np.float32), verbose=0)[1]) if box_model is not None else None
    doc = {
        "schema_version": golden.SCHEMA_VERSION,
        "labels": labels,
        "input": spec.to_json(),
        "reference": _reference_info(),
        "tolerances": TOLERANCES,
        "formats": _format_entries(formats),
        "app_path": {
            "min_margin": APP_PATH_MIN_MARGIN,
            "rule": "photos whose reference top-1 / top-2 margin is at least min_margin keep their top-1 when "
            "the app decodes and resizes the JPEG itself; the others are reported",
        },
        "photos": _photo_entries(made, ps, names, truth, labels, probs, boxes),
        "variants": _variant_figures(bundle, formats, pixels, probs, truth, labels, names, pool),
    }
    atomic_write(bundle / golden.EXPECTED, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return _vectors_and_entry(bundle, spec.size, made, truth, box_model is not None)


def _vectors_and_entry(bundle: Path, size: int, made: list, truth: np.ndarray, boxes: bool) -> dict:
    """Write the golden set's resize and box vectors; the manifest's ``golden`` entry (``boxes``: the photos have the
    reference's boxes)."""
    vectors = resize_vectors.write_vectors(bundle / golden.FOLDER, size)
    box_entry = box_vectors.write_vectors(bundle / golden.FOLDER)
    files = [f for f in (bundle / golden.FOLDER).rglob("*") if f.is_file()]
    return {
        "count": len(made),
        "expected": golden.EXPECTED,
        "bytes": sum(f.stat().st_size for f in files),
        "classes": len({int(t) for t in truth}),
        "resize_vectors": vectors,
        "box_vectors": box_entry,
        "boxes": boxes,
        "selection": {COVERAGE: sum(p.reason == COVERAGE for p in made), MARGIN: sum(p.reason == MARGIN for p in made)},
    }
