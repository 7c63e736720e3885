"""Box vectors: the two-pass box logic's inputs and the ROI the reference makes of each.

Every package ports :mod:`carspotter.model.two_pass` (box output -> ROI -> pass 2 or not) and must give the same
integers on these rows, which sit in the golden set as ``golden/two_pass/box_vectors.txt``: one line per case,
tab-separated:

``region`` (``x0,y0,x1,y1``: what pass 1 saw), ``box`` (the four float32 outputs as 8-digit hexadecimal IEEE 754
bit patterns, comma-separated, so that no decimal parsing stands between the case and the port), ``box_text`` (the
same values in decimal, for people), ``roi`` (``x0,y0,x1,y1`` or ``-`` for no box) and ``pass`` (``1`` or ``2``).

The cases: seeded random boxes over regions from 40 x 40 to 12 MP, in both orientations and at odd offsets, plus the
edges: NaN and infinities, values outside 0..1, reversed and degenerate boxes, boxes just under and over the
second-pass threshold and the minimum side, and values one float32 step either side of a pixel boundary.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from carspotter.model.roi import Roi
from carspotter.model.two_pass import box_to_roi, needs_second_pass
from carspotter.util.errors import BundleError

FOLDER = "two_pass"
INDEX = "box_vectors.txt"


def _bits(value: np.float32) -> str:
    return struct.pack(">f", float(value)).hex()


def _from_bits(text: str) -> float:
    return struct.unpack(">f", bytes.fromhex(text))[0]


def cases(seed: int = 2026) -> list[tuple[Roi, np.ndarray]]:
    """The ``(region, box float32[4])`` cases of the module docstring, in file order."""
    rng = np.random.default_rng(seed)
    f = np.float32
    regions = [
        Roi(0, 0, 4032, 3024),
        Roi(0, 0, 3024, 4032),
        Roi(0, 0, 640, 480),
        Roi(13, 7, 514, 398),
        Roi(0, 0, 40, 40),
        Roi(501, 1003, 2516, 3510),
        Roi(0, 0, 8064, 6048),
    ]
    out = []
    for region in regions:
        for _ in range(24):
            a, b = np.sort(rng.uniform(-0.05, 1.05, 2)), np.sort(rng.uniform(-0.05, 1.05, 2))
            out.append((region, np.array([a[0], b[0], a[1], b[1]], f)))
    whole = Roi(0, 0, 4032, 3024)
    third = f(1) / f(3)
    edges = [
        [np.nan, 0.1, 0.5, 0.5],
        [0.1, 0.1, np.inf, 0.5],
        [-np.inf, 0, 1, 1],
        [0, 0, 1, 1],
        [-1, -1, 2, 2],
        [0.6, 0.2, 0.4, 0.8],
        [0.5, 0.5, 0.5, 0.5],
        [0.25, 0.25, 0.75, 0.75],
        [0.05, 0.05, 0.95, 0.95],
        [0.0, 0.0, 0.9, 1.0],
        [0.0, 0.0, 0.89, 1.0],
        [third, third, 2 * third, 2 * third],
        [np.nextafter(f(0.25), f(0)), 0.25, np.nextafter(f(0.75), f(1)), 0.75],
        [0.1, 0.1, 0.1 + 7 / 4032, 0.9],
        [0.1, 0.1, 0.1 + 9 / 4032, 0.9],
    ]
    out += [(whole, np.array(e, f)) for e in edges]
    out += [(Roi(0, 0, 40, 40), np.array([0, 0, 0.2, 0.2], f)), (Roi(0, 0, 40, 40), np.array([0, 0, 0.19, 0.5], f))]
    return out


def write_vectors(golden: Path) -> dict:
    """Write ``golden/two_pass/box_vectors.txt``; returns the manifest's ``box_vectors`` entry."""
    folder = golden / FOLDER
    folder.mkdir()
    lines = []
    for region, box in cases():
        roi = box_to_roi(box, region)
        lines.append(
            "\t".join(
                [
                    region.text(),
                    ",".join(_bits(v) for v in box),
                    ",".join(repr(float(v)) for v in box),
                    roi.text() if roi else "-",
                    "2" if needs_second_pass(roi, region) else "1",
                ]
            )
        )
    (folder / INDEX).write_text(
        "# region\tbox (float32 bits, hex)\tbox (decimal)\troi\tpass\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    return {"index": f"golden/{FOLDER}/{INDEX}", "count": len(lines)}


def check_vectors(golden: Path, port=None) -> list[str]:
    """Run a port of the box logic on every row; returns the rows it got wrong (empty: all agree).

    Args:
        port: ``(box floats[4], region Roi) -> (Roi or None, second pass bool)``; default the reference's.

    Raises:
        BundleError: the file is missing or a row is malformed.
    """
    port = port or (lambda box, region: (box_to_roi(box, region), needs_second_pass(box_to_roi(box, region), region)))
    index = golden / FOLDER / INDEX
    if not index.is_file():
        raise BundleError(index, "no box vectors; re-export the bundle with a golden set")
    wrong = []
    for line in index.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            region_text, bits, _, roi_text, pass_text = line.split("\t")
            region = Roi(*(int(v) for v in region_text.split(",")))
            box = [_from_bits(b) for b in bits.split(",")]
        except ValueError:
            raise BundleError(index, f"malformed row {line[:60]!r}; re-export the bundle") from None
        roi, second = port(box, region)
        if (roi.text() if roi else "-") != roi_text or ("2" if second else "1") != pass_text:
            wrong.append(line)
    return wrong
