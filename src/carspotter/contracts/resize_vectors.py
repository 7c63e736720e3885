"""Resize vectors: lossless photos and the exact model input the reference makes of each.

Every port of the reference resize (:func:`carspotter.model.photos.resize`; the Swift, Kotlin and
JavaScript packages in a bundle) must reproduce these bit for bit. They sit in the golden set,
``golden/resize/``, so a port is checked wherever it runs:

- ``NAME.ppm`` (binary PPM, ``P6``) or ``NAME.pam`` (``P7``, RGB_ALPHA): the photo, upright, 8 bits per channel;
- ``NAME.out.ppm``: its ``[S, S, 3]`` uint8 RGB input (RGBA composited on white first, as the decoder does);
- ``vectors.txt``: one line per vector, tab-separated: ``name``, ``photo file``, ``expected file``, ``width``,
  ``height``, ``channels``, ``S``, ``sha256`` of the expected pixels (row-major RGB bytes).

The photos are synthetic (gradients, edges and noise, seeded) in the shapes where resizers part
ways: odd sizes, 1-pixel-wide and 1-pixel-high strips, an upscale, a 3x+ and a 10x+ downscale, and
transparency. Netpbm formats (https://netpbm.sourceforge.net/doc/pam.html) need no image library:
each port reads them in a few lines, so no decoder stands between the vector and the port.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.util.errors import BundleError

FOLDER = "resize"
INDEX = "vectors.txt"


@dataclass(frozen=True)
class Vector:
    """One resize vector: a ``width x height`` photo with 3 (RGB) or 4 (RGBA) channels and what it is for."""

    name: str
    width: int
    height: int
    channels: int
    why: str


VECTORS = (
    Vector("odd-497x231", 497, 231, 3, "odd sizes, a 1.7x / 0.8x stretch"),
    Vector("strip-1x613", 1, 613, 3, "1 pixel wide: every column replicates the edge"),
    Vector("strip-613x1", 613, 1, 3, "1 pixel high"),
    Vector("upscale-23x40", 23, 40, 3, "an upscale of 13x / 7.5x"),
    Vector("down3-1000x330", 1000, 330, 3, "a 3.3x downscale (no antialiasing: samples skip pixels)"),
    Vector("down10-3011x97", 3011, 97, 3, "a 10x downscale across, an upscale down"),
    Vector("rgba-301x157", 301, 157, 4, "transparency, composited on white before the resize"),
)


def photo(v: Vector, seed: int) -> np.ndarray:
    """The vector's photo: ``[height, width, channels]`` uint8, a gradient with hard edges and noise (seeded)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:v.height, 0:v.width]
    base = np.stack([(xx * 255 // max(1, v.width - 1)), (yy * 255 // max(1, v.height - 1)),
                     ((xx // 7 + yy // 5) % 2) * 200 + 20], axis=-1)
    noisy = np.clip(base + rng.integers(-40, 41, base.shape), 0, 255).astype(np.uint8)
    if v.channels == 4:
        alpha = rng.integers(0, 256, (v.height, v.width, 1)).astype(np.uint8)
        alpha[: v.height // 4] = 255
        alpha[v.height // 4: v.height // 3] = 0
        noisy = np.concatenate([noisy, alpha], axis=-1)
    return noisy


def expected(image: np.ndarray, size: int) -> np.ndarray:
    """What the reference makes of ``image`` (``[H, W, 3 or 4]`` uint8): ``[size, size, 3]`` uint8."""
    from PIL import Image

    from carspotter.model import photos

    rgb = image if image.shape[2] == 3 else np.asarray(photos._to_rgb(Image.fromarray(image, "RGBA")))
    return photos.resize(rgb, size)


def write_pnm(path: Path, image: np.ndarray) -> None:
    """Write ``[H, W, 3]`` as binary PPM (P6) or ``[H, W, 4]`` as PAM (P7, RGB_ALPHA)."""
    h, w, c = image.shape
    header = (f"P6\n{w} {h}\n255\n" if c == 3 else
              f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n")
    path.write_bytes(header.encode("ascii") + np.ascontiguousarray(image, np.uint8).tobytes())


def read_pnm(path: Path) -> np.ndarray:
    """Read what :func:`write_pnm` wrote: ``[H, W, 3 or 4]`` uint8.

    Raises:
        BundleError: not a P6 / P7 file with MAXVAL 255, or shorter than its header says.
    """
    data = path.read_bytes()
    try:
        if data[:2] == b"P6":
            magic, w, h, maxval, rest = data.split(maxsplit=4)
            w, h, c, body = int(w), int(h), 3, rest
        elif data[:2] == b"P7":
            head, body = data.split(b"ENDHDR\n", 1)
            fields = dict(line.split(b" ", 1) for line in head.splitlines()[1:])
            w, h, c, maxval = int(fields[b"WIDTH"]), int(fields[b"HEIGHT"]), int(fields[b"DEPTH"]), fields[b"MAXVAL"]
        else:
            raise ValueError("not P6 or P7")
        if int(maxval) != 255 or len(body) < w * h * c:
            raise ValueError(f"MAXVAL {int(maxval)}, {len(body)} bytes for {w}x{h}x{c}")
    except ValueError as exc:
        raise BundleError(path, f"not a resize vector image ({exc}); re-export the bundle") from None
    return np.frombuffer(body[: w * h * c], np.uint8).reshape(h, w, c)


def write_vectors(golden: Path, size: int) -> dict:
    """Write ``golden/resize/`` for input side ``size``; returns the manifest's ``resize_vectors`` entry."""
    folder = golden / FOLDER
    folder.mkdir()
    lines = []
    for k, v in enumerate(VECTORS):
        image = photo(v, seed=1000 + k)
        out = expected(image, size)
        name = f"{v.name}.{'ppm' if v.channels == 3 else 'pam'}"
        write_pnm(folder / name, image)
        write_pnm(folder / f"{v.name}.out.ppm", out)
        lines.append("\t".join([v.name, name, f"{v.name}.out.ppm", str(v.width), str(v.height), str(v.channels), str(size),
                                hashlib.sha256(out.tobytes()).hexdigest()]))
    (folder / INDEX).write_text("# name\tphoto\texpected\twidth\theight\tchannels\tsize\tsha256 of the expected RGB bytes\n"
                                + "\n".join(lines) + "\n", encoding="utf-8")
    return {"folder": f"golden/{FOLDER}", "index": f"golden/{FOLDER}/{INDEX}", "count": len(VECTORS),
            "vectors": [{"name": v.name, "width": v.width, "height": v.height, "channels": v.channels, "why": v.why}
                        for v in VECTORS]}


@dataclass
class VectorResult:
    """One vector checked: ``differing`` pixel values (0 = bit-exact) and the largest difference (levels)."""

    name: str
    differing: int
    max_diff: int


def read_index(golden: Path) -> list[list[str]]:
    """The rows of ``golden/resize/vectors.txt`` (comment lines skipped).

    Raises:
        BundleError: missing, or a row without its 8 fields.
    """
    index = golden / FOLDER / INDEX
    if not index.is_file():
        raise BundleError(index, "no resize vectors; re-export the bundle with a golden set")
    rows = [line.split("\t") for line in index.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for row in rows:
        if len(row) != 8:
            raise BundleError(index, f"row {row[0]!r} has {len(row)} fields, not 8; re-export the bundle")
    return rows


def check_vectors(golden: Path, resize=None) -> list[VectorResult]:
    """Run a resize (default: the reference's, via :func:`expected`) on every vector and compare bit for bit.

    Args:
        resize: ``([H, W, 3 or 4] uint8, S) -> [S, S, 3] uint8``, the port under test.
    """
    resize = resize or expected
    out = []
    for name, photo_file, expected_file, *_, size, _sha in read_index(golden):
        got = resize(read_pnm(golden / FOLDER / photo_file), int(size)).astype(np.int16)
        want = read_pnm(golden / FOLDER / expected_file).astype(np.int16)
        diff = np.abs(got - want) if got.shape == want.shape else np.full(want.shape, 255, np.int16)
        out.append(VectorResult(name, int((diff > 0).sum()), int(diff.max())))
    return out
