"""Remove metadata from a JPEG without re-encoding it: the golden photos keep their exact pixels.

Pillow cannot drop metadata without decoding and re-encoding the image (which changes the
pixels), so this walks the JPEG's marker segments (ITU-T T.81, Annex B.1.1: every segment
is ``FF xx`` + a 16-bit big-endian length, except SOI, EOI, RSTn and TEM; entropy-coded data
follows each SOS header up to the next marker that is not a stuffed ``FF 00`` or an RSTn).

Kept: SOI; APP0 (JFIF/JFXX); APP2 ``ICC_PROFILE`` (colour profile: decoders that manage
colour need it); APP14 ``Adobe`` (says how to read the colour channels); every coding
segment (DQT, DHT, SOFn, DRI, DAC, DNL, SOS and its data) up to the first EOI.
Removed: APP1 (Exif with GPS, camera serial numbers, thumbnails; XMP), APP2 ``MPF``
(CIPA DC-007 multi-picture index) and every other APPn, COM (comments), and everything after
the first EOI (MPF's secondary images, trailers). A new APP1 holding only the EXIF
Orientation tag is written when the photo had one, so apps still rotate it upright.
"""

from __future__ import annotations

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
APP0, APP1, APP2, APP14, COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xFE
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0..7
_ORIENTATION = 0x0112


def orientation_app1(orientation: int) -> bytes:
    """An APP1 segment holding an EXIF block with only the Orientation tag (1..8)."""
    from PIL import Image

    exif = Image.Exif()
    exif[_ORIENTATION] = int(orientation)
    payload = exif.tobytes()  # b"Exif\0\0" + TIFF header and IFD0
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    return bytes([0xFF, APP1]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _entropy_end(data: bytes, i: int) -> int:
    """Index of the first marker after entropy-coded data starting at ``i``."""
    n = len(data)
    while True:
        k = data.find(b"\xff", i)
        if k < 0 or k + 1 >= n:
            raise ValueError("truncated JPEG: no marker after the scan data")
        nxt = data[k + 1]
        if nxt == 0x00 or nxt in _STANDALONE or nxt == 0xFF:
            i = k + (1 if nxt == 0xFF else 2)
            continue
        return k


def _keep(marker: int, body: bytes) -> bool:
    if marker == APP0:
        return body.startswith((b"JFIF\x00", b"JFXX\x00"))
    if marker == APP2:
        return body.startswith(b"ICC_PROFILE\x00")
    if marker == APP14:
        return body.startswith(b"Adobe")
    return not (0xE0 <= marker <= 0xEF or marker == COM)


def strip_metadata(data: bytes, orientation: int | None = None) -> bytes:
    """The same JPEG with every metadata segment removed (see the module docstring).

    Args:
        data: a JPEG file's bytes.
        orientation: EXIF Orientation (1..8) to write back, or None for none.

    Returns:
        JPEG bytes whose decoded pixels are those of ``data``.

    Raises:
        ValueError: not a JPEG, or truncated.
    """
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI marker)")
    out, i, n = [b"\xff\xd8"], 2, len(data)
    orientation_written = orientation is None
    while i < n:
        if data[i] != 0xFF:
            raise ValueError(f"expected a marker at byte {i}")
        while i + 1 < n and data[i + 1] == 0xFF:  # fill bytes
            i += 1
        if i + 1 >= n:
            break
        marker = data[i + 1]
        if marker == EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _STANDALONE:
            out.append(data[i : i + 2])
            i += 2
            continue
        if i + 4 > n:
            raise ValueError("truncated JPEG segment header")
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        end = i + 2 + length
        if length < 2 or end > n:
            raise ValueError(f"truncated JPEG segment at byte {i}")
        if not orientation_written and marker != APP0:
            out.append(orientation_app1(orientation))
            orientation_written = True
        if marker == SOS:
            end = _entropy_end(data, end)
            out.append(data[i:end])
        elif _keep(marker, data[i + 4 : end]):
            out.append(data[i:end])
        i = end
    raise ValueError("truncated JPEG: no EOI marker")
