"""The golden set inside a bundle: photos, exact model inputs and the reference's answers.

``bundles/NAME/golden/`` holds K photos of the run's test split:

- ``NNN.jpg``: the photo as an app would get it (JPEG, EXIF orientation kept, every other
  metadata segment removed);
- ``NNN.png``: the exact model input, ``[S, S, 3]`` uint8 RGB, lossless: what our decoder
  (:mod:`carspotter.model.photos`) makes of ``NNN.jpg``;
- ``expected.json``: the Keras reference's full probability vector for each exact input, its
  top-5, the reference's backend, device and library versions, and the tolerance table.

With it a bundle checks itself anywhere (:mod:`carspotter.parity.checks`), without the run
folder or the training photos, and apps check their own runtime (the self-tests next to each
model read the same files). :func:`read_golden` validates everything it reads and names the
file and the problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np

from carspotter.util.errors import BundleError

FOLDER = "golden"
EXPECTED = f"{FOLDER}/expected.json"
SCHEMA_VERSION = 1

_photo = {
    "type": "object",
    "required": ["photo", "input", "label", "probabilities", "top5", "margin"],
    "properties": {
        "photo": {"type": "string", "pattern": "^golden/[^/]+\\.jpg$"},
        "input": {"type": "string", "pattern": "^golden/[^/]+\\.png$"},
        "label": {"type": "integer", "minimum": 0},
        "probabilities": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}},
        "margin": {"type": "number"},
    },
}
EXPECTED_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "labels", "input", "reference", "tolerances", "formats", "app_path", "photos"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "labels": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "input": {"type": "object", "required": ["shape"]},
        "reference": {"type": "object", "required": ["model", "backend", "device", "versions"]},
        "tolerances": {"type": "object"},
        "formats": {"type": "object"},
        "app_path": {"type": "object", "required": ["min_margin"]},
        "photos": {"type": "array", "items": _photo, "minItems": 1},
        "variants": {"type": "object"},
    },
}
"""JSON Schema of ``golden/expected.json``."""


@dataclass
class GoldenSet:
    """A bundle's golden set, validated.

    Attributes:
        bundle: the bundle folder.
        doc: expected.json as read.
        probabilities: ``[K, C]`` the reference's probabilities on the exact inputs.
        truth: ``[K]`` true class indices.
        names: K photo names (``golden/NNN.jpg``).
        size: S, the input side.
    """

    bundle: Path
    doc: dict
    probabilities: np.ndarray
    truth: np.ndarray
    names: list[str]
    size: int

    @property
    def photos(self) -> list[dict]:
        return self.doc["photos"]

    def exact_inputs(self) -> np.ndarray:
        """``[K, S, S, 3]`` uint8 RGB from the PNGs.

        Raises:
            BundleError: a PNG that is not an ``S x S`` RGB image (names the file).
        """
        from PIL import Image, UnidentifiedImageError

        out = np.zeros((len(self.photos), self.size, self.size, 3), np.uint8)
        for i, entry in enumerate(self.photos):
            path = self.bundle / entry["input"]
            try:
                with Image.open(path) as im:
                    if im.format != "PNG" or im.mode != "RGB" or im.size != (self.size, self.size):
                        raise BundleError(
                            f"{path}: {im.format} {im.size[0]}x{im.size[1]} {im.mode}, expected a "
                            f"{self.size}x{self.size} RGB PNG (the exact model input); export again"
                        )
                    out[i] = np.asarray(im)
            except (UnidentifiedImageError, OSError) as exc:
                raise BundleError(f"{path}: not a readable PNG ({exc}); export again") from None
        return out

    def decoded_photos(self) -> tuple[np.ndarray, list[tuple[str, str]]]:
        """The golden JPEGs through our own decoder (:func:`carspotter.model.photos.load_photo`).

        Returns:
            ``([K, S, S, 3] uint8, [(name, reason)] of photos that did not decode)``.
        """
        from carspotter.model import photos

        loaded = photos.load_photos([self.bundle / p["photo"] for p in self.photos], self.size)
        return loaded.pixels, [(str(Path(p).relative_to(self.bundle)), r) for p, r in loaded.skipped]


def read_golden(bundle: str | Path, labels: list[str], size: int) -> GoldenSet | None:
    """Read and validate ``golden/expected.json`` of a bundle; None when it has no golden set.

    Args:
        bundle: the bundle folder.
        labels: the model's C class names (from the manifest).
        size: S, the model's input side.

    Raises:
        BundleError: expected.json truncated or not valid, class count or labels that differ
            from the model's, a probability row of the wrong length, or a photo file missing.
    """
    bundle = Path(bundle)
    path = bundle / EXPECTED
    if not path.is_file():
        if (bundle / FOLDER).exists():
            raise BundleError(f"{path}: missing; the golden set cannot be checked (export again)")
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.validate(doc, EXPECTED_SCHEMA)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON, truncated or damaged ({exc}); export again") from None
    except jsonschema.ValidationError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "(top level)"
        raise BundleError(
            f"{path}: does not match the golden-set schema ({exc.message[:200]} at {where}); export again"
        ) from None
    if len(doc["labels"]) != len(labels):
        raise BundleError(f"{path}: {len(doc['labels'])} classes, but the model has {len(labels)}; export again")
    if doc["labels"] != list(labels):
        first = next(i for i, (a, b) in enumerate(zip(doc["labels"], labels)) if a != b)
        raise BundleError(
            f"{path}: labels differ from the model's (index {first}: {doc['labels'][first]!r} != "
            f"{labels[first]!r}); export again"
        )
    for i, entry in enumerate(doc["photos"]):
        if len(entry["probabilities"]) != len(labels):
            raise BundleError(
                f"{path}: photo {i} ({entry['photo']}) has {len(entry['probabilities'])} probabilities, "
                f"the model has {len(labels)} classes; export again"
            )
        if entry["label"] >= len(labels):
            raise BundleError(
                f"{path}: photo {i} ({entry['photo']}) has label {entry['label']}, outside 0..{len(labels) - 1}"
            )
        for key in ("photo", "input"):
            if not (bundle / entry[key]).is_file():
                raise BundleError(f"{bundle / entry[key]}: listed in {EXPECTED} but missing; export again")
    return GoldenSet(
        bundle,
        doc,
        np.array([p["probabilities"] for p in doc["photos"]], dtype=np.float64),
        np.array([p["label"] for p in doc["photos"]], dtype=np.int64),
        [p["photo"] for p in doc["photos"]],
        size,
    )
