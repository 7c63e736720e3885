"""Resize vectors: lossless photos and the exact model input the reference makes of each.

Every port of the reference resize (:func:`carspotter.model.photos.resize`; the Swift, Kotlin and
JavaScript packages in a bundle) must reproduce these bit for bit. They sit in the golden set,
``golden/resize/``, so a port is checked wherever it runs:

- ``NAME.ppm`` (binary PPM, ``P6``) or ``NAME.pam`` (``P7``, RGB_ALPHA): the photo, upright, 8 bits per channel;
  or, for photos too large to ship (a 12 MP camera frame; the ROI vectors of 640 px and more), no file: the photo column says ``gen:SEED`` and
  every port makes the photo itself with :func:`generated_photo` (a few integer operations per value);
- ``NAME.out.ppm``: its ``[S, S, 3]`` uint8 RGB input (RGBA composited on white first, as the decoder does);
- ``vectors.txt``: one line per vector, tab-separated: ``name``, ``photo file``, ``expected file``, ``width``,
  ``height``, ``channels``, ``S``, ``sha256`` of the expected pixels (row-major RGB bytes), ``orientation`` (the
  EXIF orientation 1..8 the stored photo carries: a port makes it upright first, as the decoder does) and
  ``roi`` (``x0,y0,x1,y1`` in the upright photo, :mod:`carspotter.model.roi`, or ``-`` for the whole photo);
  ``width`` and ``height`` are the stored photo's. Files written before ROIs have the first 8 columns only;
- ``bad_rois.txt``: ROIs every port must refuse (one line each: ``width``, ``height``, the four values as text,
  including ``NaN``, ``-1`` and ``10.5``, and the kind of fault), and edge ROIs it must accept (kind ``ok``).

The photos are synthetic (gradients, edges and noise, seeded) in the shapes where resizers part
ways: odd sizes, 1-pixel-wide and 1-pixel-high strips, an upscale, a 3x+ and a 10x+ downscale,
transparency, and the box pre-reduction with partial last boxes on both axes (1500 x 1100, a 12 MP
4032 x 3024 frame, and a transparent photo reduced after compositing); and regions of interest at odd offsets,
on photos in every EXIF orientation, 1 pixel wide, at the photo's edges, and on a 12 MP portrait frame where the
ROI's own size sets the box factors (partial boxes on both axes). Netpbm formats (https://netpbm.sourceforge.net/doc/pam.html) need no image library:
each port reads them in a few lines, so no decoder stands between the vector and the port.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from carspotter.util.errors import BundleError

FOLDER = "resize"
INDEX = "vectors.txt"
BAD_INDEX = "bad_rois.txt"


@dataclass(frozen=True)
class Vector:
    """One resize vector: a ``width x height`` photo with 3 (RGB) or 4 (RGBA) channels and what it is for."""

    name: str
    width: int
    height: int
    channels: int
    why: str
    orientation: int = 1
    roi: tuple[int, int, int, int] | None = None


VECTORS = (
    Vector("odd-497x231", 497, 231, 3, "odd sizes, a 1.7x / 0.8x stretch"),
    Vector("strip-1x613", 1, 613, 3, "1 pixel wide: every column replicates the edge; 2-row boxes down"),
    Vector("strip-613x1", 613, 1, 3, "1 pixel high; 2-column boxes across"),
    Vector("upscale-23x40", 23, 40, 3, "an upscale of 13x / 7.5x"),
    Vector("down3-1000x330", 1000, 330, 3, "a 3.3x downscale: 3-column boxes, then the bilinear"),
    Vector("down10-3011x97", 3011, 97, 3, "a 10x downscale across (10-column boxes, the last of one), an upscale down"),
    Vector("rgba-301x157", 301, 157, 4, "transparency, composited on white before the resize"),
    Vector("rgba-box-701x333", 701, 333, 4, "composited on white, then 2-column boxes (the last of one)"),
    Vector("gen-1500x1100", 1500, 1100, 3, "5 x 3 boxes, the last row of boxes 2 high (generated: gen:SEED)"),
    Vector("gen-4032x3024", 4032, 3024, 3, "a 12 MP camera frame: 13 x 10 boxes, partial on both axes (generated)"),
    Vector("gen-roi-odd-640x480", 640, 480, 3, "a ROI at odd offsets: 501 x 391 from (13, 7)", 1, (13, 7, 514, 398)),
    Vector(
        "gen-roi-orient6-640x480",
        640,
        480,
        3,
        "stored landscape, orientation 6: the ROI is in the upright 480 x 640",
        6,
        (31, 101, 470, 633),
    ),
    Vector(
        "gen-roi-orient5-700x300",
        700,
        300,
        3,
        "orientation 5 (transposed, mirrored): upright 300 x 700",
        5,
        (5, 3, 297, 699),
    ),
    Vector(
        "roi-orient3-edge-167x125",
        167,
        125,
        3,
        "orientation 3; the ROI reaches the right and bottom edges",
        3,
        (5, 0, 167, 125),
    ),
    Vector(
        "gen-roi-orient2-thin-640x480",
        640,
        480,
        3,
        "orientation 2 (mirrored); a ROI 1 pixel wide",
        2,
        (100, 10, 101, 470),
    ),
    Vector(
        "roi-rgba-orient8-201x129",
        201,
        129,
        4,
        "transparency and orientation 8; a ROI from (0, 0)",
        8,
        (0, 0, 100, 195),
    ),
    Vector(
        "gen-roi-orient7-box-1300x700",
        1300,
        700,
        3,
        "orientation 7; a 681 x 1203 ROI: 2 x 4 boxes, partial",
        7,
        (9, 61, 690, 1264),
    ),
    Vector(
        "gen-roi-orient6-4032x3024",
        4032,
        3024,
        3,
        "a 12 MP portrait frame (orientation 6), a 2015 x 2507 ROI: "
        "6 x 8 boxes from (501, 1003), partial on both axes (generated)",
        6,
        (501, 1003, 2516, 3510),
    ),
)
"""The vectors, in the order of ``vectors.txt``; names starting ``gen-`` are generated, not stored."""

GENERATED = "gen:"
"""Prefix of the photo column for a generated photo: ``gen:SEED`` (:func:`generated_photo`)."""


def generated_photo(width: int, height: int, seed: int) -> np.ndarray:
    """A photo every port makes for itself: ``[height, width, 3]`` uint8, a gradient with edges and noise.

    For pixel ``(x, y)`` and channel ``c``, with all arithmetic on unsigned 32-bit integers (wrapping):
    ``i = (y * width + x) * 3 + c``; ``z = i + seed * 0x9E3779B9``; then MurmurHash3's finalizer
    (``fmix32``: ``z ^= z >> 16; z *= 0x85EBCA6B; z ^= z >> 13; z *= 0xC2B2AE35; z ^= z >> 16``);
    ``noise = z % 81 - 40``; ``base`` is ``x * 255 // (width - 1)`` for c = 0 (0 if width is 1),
    ``y * 255 // (height - 1)`` for c = 1, ``((x // 7 + y // 5) % 2) * 200 + 20`` for c = 2; the value is
    ``base + noise`` clamped to 0..255.
    """
    u = np.uint32
    yy, xx = np.mgrid[0:height, 0:width].astype(np.uint32)
    base = np.stack(
        [
            xx * u(255) // u(max(1, width - 1)),
            yy * u(255) // u(max(1, height - 1)),
            ((xx // u(7) + yy // u(5)) % u(2)) * u(200) + u(20),
        ],
        axis=-1,
    ).astype(np.int32)
    z = (yy * u(width) + xx)[..., None] * u(3) + np.arange(3, dtype=np.uint32) + u((seed * 0x9E3779B9) & 0xFFFFFFFF)
    z ^= z >> u(16)
    z *= u(0x85EBCA6B)
    z ^= z >> u(13)
    z *= u(0xC2B2AE35)
    z ^= z >> u(16)
    return np.clip(base + (z % u(81)).astype(np.int32) - 40, 0, 255).astype(np.uint8)


def photo(v: Vector, seed: int) -> np.ndarray:
    """The vector's photo: ``[height, width, channels]`` uint8, a gradient with hard edges and noise (seeded)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : v.height, 0 : v.width]
    base = np.stack(
        [(xx * 255 // max(1, v.width - 1)), (yy * 255 // max(1, v.height - 1)), ((xx // 7 + yy // 5) % 2) * 200 + 20],
        axis=-1,
    )
    noisy = np.clip(base + rng.integers(-40, 41, base.shape), 0, 255).astype(np.uint8)
    if v.channels == 4:
        alpha = rng.integers(0, 256, (v.height, v.width, 1)).astype(np.uint8)
        alpha[: v.height // 4] = 255
        alpha[v.height // 4 : v.height // 3] = 0
        noisy = np.concatenate([noisy, alpha], axis=-1)
    return noisy


ORIENT = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}
"""What makes a stored photo upright for each EXIF orientation (Pillow's ``ImageOps.exif_transpose`` table)."""


def expected(image: np.ndarray, size: int, orientation: int = 1, roi=None) -> np.ndarray:
    """What the reference makes of a stored photo: ``[size, size, 3]`` uint8.

    Args:
        image: ``[H, W, 3 or 4]`` uint8 as stored (RGBA is composited on white, as the decoder does).
        size: S. orientation: its EXIF orientation 1..8. roi: ``(x0, y0, x1, y1)`` in the upright photo, or None.
    """
    from PIL import Image

    from carspotter.model import photos

    im = photos._to_rgb(Image.fromarray(image, "RGBA" if image.shape[2] == 4 else "RGB"))
    if orientation in ORIENT:
        im = im.transpose(getattr(Image.Transpose, ORIENT[orientation]))
    if roi is not None:
        im = photos.crop(im, roi)
    return photos.resize(np.asarray(im), size)


BAD_ROIS = (
    (640, 480, ("0", "0", "640", "480"), "ok"),
    (640, 480, ("639", "479", "640", "480"), "ok"),
    (640, 480, ("12.0", "7", "13", "8"), "ok"),
    (640, 480, ("-1", "0", "100", "100"), "negative"),
    (640, 480, ("0", "-3", "100", "100"), "negative"),
    (640, 480, ("10", "10", "10", "100"), "empty"),
    (640, 480, ("50", "90", "40", "100"), "empty"),
    (640, 480, ("0", "0", "641", "480"), "outside"),
    (640, 480, ("0", "0", "640", "481"), "outside"),
    (640, 480, ("700", "10", "800", "20"), "outside"),
    (640, 480, ("NaN", "0", "100", "100"), "not-a-number"),
    (640, 480, ("0", "0", "Infinity", "100"), "not-a-number"),
    (640, 480, ("10.5", "0", "100", "100"), "not-whole"),
)
"""``(width, height, (x0, y0, x1, y1) as text, kind)``: ROIs every port refuses, and edge ROIs (``ok``) it accepts."""


def write_pnm(path: Path, image: np.ndarray) -> None:
    """Write ``[H, W, 3]`` as binary PPM (P6) or ``[H, W, 4]`` as PAM (P7, RGB_ALPHA)."""
    h, w, c = image.shape
    header = (
        f"P6\n{w} {h}\n255\n"
        if c == 3
        else f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n"
    )
    path.write_bytes(header.encode("ascii") + np.ascontiguousarray(image, np.uint8).tobytes())


def read_pnm(path: Path) -> np.ndarray:
    """Read what :func:`write_pnm` wrote: ``[H, W, 3 or 4]`` uint8.

    Raises:
        BundleError: not a P6 / P7 file with MAXVAL 255, or shorter than its header says.
    """
    data = path.read_bytes()
    try:
        head = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)  # one whitespace byte, then the pixels
        if head:
            w, h, c, maxval, body = int(head[1]), int(head[2]), 3, head[3], data[head.end() :]
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
        generated = v.name.startswith("gen-")
        image = generated_photo(v.width, v.height, 1000 + k) if generated else photo(v, seed=1000 + k)
        out = expected(image, size, v.orientation, v.roi)
        name = f"{GENERATED}{1000 + k}" if generated else f"{v.name}.{'ppm' if v.channels == 3 else 'pam'}"
        if not generated:
            write_pnm(folder / name, image)
        write_pnm(folder / f"{v.name}.out.ppm", out)
        lines.append(
            "\t".join(
                [
                    v.name,
                    name,
                    f"{v.name}.out.ppm",
                    str(v.width),
                    str(v.height),
                    str(v.channels),
                    str(size),
                    hashlib.sha256(out.tobytes()).hexdigest(),
                    str(v.orientation),
                    ",".join(map(str, v.roi)) if v.roi else "-",
                ]
            )
        )
    (folder / INDEX).write_text(
        "# name\tphoto\texpected\twidth\theight\tchannels\tsize\tsha256 of the expected RGB bytes"
        "\torientation\troi\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    (folder / BAD_INDEX).write_text(
        "# width\theight\tx0\ty0\tx1\ty1\tkind (ok: accept; anything else: refuse)\n"
        + "".join("\t".join([str(w), str(h), *r, kind]) + "\n" for w, h, r, kind in BAD_ROIS),
        encoding="utf-8",
    )
    return {
        "folder": f"golden/{FOLDER}",
        "index": f"golden/{FOLDER}/{INDEX}",
        "count": len(VECTORS),
        "bad_rois": f"golden/{FOLDER}/{BAD_INDEX}",
        "vectors": [
            {
                "name": v.name,
                "width": v.width,
                "height": v.height,
                "channels": v.channels,
                "why": v.why,
                "orientation": v.orientation,
                "roi": list(v.roi) if v.roi else None,
            }
            for v in VECTORS
        ],
    }


@dataclass
class VectorResult:
    """One vector checked: ``differing`` pixel values (0 = bit-exact) and the largest difference (levels)."""

    name: str
    differing: int
    max_diff: int


def read_index(golden: Path) -> list[list[str]]:
    """The rows of ``golden/resize/vectors.txt`` (comment lines skipped), each with 10 fields (orientation ``1`` and
    roi ``-`` added to the 8 of a file written before ROIs).

    Raises:
        BundleError: missing, or a row without its 8 or 10 fields.
    """
    index = golden / FOLDER / INDEX
    if not index.is_file():
        raise BundleError(index, "no resize vectors; re-export the bundle with a golden set")
    rows = [
        line.split("\t") for line in index.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")
    ]
    for row in rows:
        if len(row) not in (8, 10):
            raise BundleError(index, f"row {row[0]!r} has {len(row)} fields, not 10; re-export the bundle")
    return [row if len(row) == 10 else row + ["1", "-"] for row in rows]


def check_vectors(golden: Path, resize=None) -> list[VectorResult]:
    """Run a resize (default: the reference's, via :func:`expected`) on every vector and compare bit for bit.

    Args:
        resize: ``([H, W, 3 or 4] uint8 as stored, S, orientation, roi or None) -> [S, S, 3] uint8``, the port under
            test (orientation applied, then the ROI cut, then the resize).
    """
    resize = resize or expected
    out = []
    for name, photo_file, expected_file, width, height, _channels, size, _sha, orientation, roi in read_index(golden):
        image = (
            generated_photo(int(width), int(height), int(photo_file[len(GENERATED) :]))
            if photo_file.startswith(GENERATED)
            else read_pnm(golden / FOLDER / photo_file)
        )
        box = None if roi == "-" else tuple(int(v) for v in roi.split(","))
        got = resize(image, int(size), int(orientation), box).astype(np.int16)
        want = read_pnm(golden / FOLDER / expected_file).astype(np.int16)
        diff = np.abs(got - want) if got.shape == want.shape else np.full(want.shape, 255, np.int16)
        out.append(VectorResult(name, int((diff > 0).sum()), int(diff.max())))
    return out
