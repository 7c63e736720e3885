"""Property-based fuzzing of the bundle readers (hypothesis): ``manifest.json`` and ``carspotter.json``.

Shared by the brief run in the test suite (``tests/test_bundle_readers_fuzz.py``) and the long one
(``tests/benchmarks/fuzz_bundle_readers.py``). The inputs are a real bundle's own files, mutated: a value anywhere in
the document replaced by any JSON value (paths escaping the folder, absolute, with NUL or backslashes, huge numbers,
deep nesting), keys dropped or added, the bytes truncated or flipped. The property: the reader returns a valid object
or raises :class:`carspotter.util.errors.BundleError` (the CLI's one line, exit 2), never another exception.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

PATHS = st.sampled_from(
    [
        "../outside.txt",
        "/etc/passwd",
        "a/../../b",
        "ok/../x",
        "C:\\x",
        "a\\b",
        "a\x00b",
        "",
        ".",
        "./x",
        "a//b",
        "onnx/carspotter.onnx",
        "manifest.json",
        "ü/ß.bin",
    ]
)
"""Path-shaped strings, the ones an attacker would try first."""

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=40), PATHS
)

JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
"""Any JSON-like value (NaN included: Python's json writes it)."""


def _locations(doc, prefix=()):
    """Every ``(path of keys, value)`` in a JSON document, the root included."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _locations(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _locations(v, prefix + (i,))


def _set(doc, where, value):
    if not where:
        return value
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    return doc


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """``original`` (a JSON file's bytes) mutated: a value replaced, a key dropped, or the bytes damaged."""
    how = draw(st.sampled_from(["replace", "replace", "drop", "add", "bytes"]))
    if how == "bytes":
        data = bytearray(original)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data[: draw(st.integers(0, len(data)))]) if draw(st.booleans()) else bytes(data)
    doc = json.loads(original)
    places = list(_locations(doc))
    where, value = places[draw(st.integers(0, len(places) - 1))]
    if how == "drop" and isinstance(value, dict) and value:
        value.pop(draw(st.sampled_from(sorted(value))))
    elif how == "add" and isinstance(value, dict):
        value[draw(st.one_of(PATHS, st.text(max_size=10)))] = draw(JSON_VALUES)
    else:
        doc = _set(doc, where, draw(JSON_VALUES))
    return json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8")


def check_reader(read, path, data: bytes) -> str:
    """Write ``data`` at ``path`` and call ``read()``: ``"ok"`` or ``"refused"``; any other exception propagates (the
    property fails)."""
    from carspotter.util.errors import BundleError

    path.write_bytes(data)
    try:
        read()
    except BundleError as exc:
        assert "\n" not in str(exc), str(exc)  # one line
        return "refused"
    return "ok"
