"""One helper turns an exception into a line (carspotter.util.errors.one_line), one context manager wraps a library
call into our error (step); both safe on empty and multi-line messages."""

from __future__ import annotations

import pytest

from carspotter.util.errors import CarspotterError, ExportError, one_line, step


@pytest.mark.parametrize(
    "exc, line",
    [
        (ValueError(""), "ValueError"),  # empty: IndexError before (str(exc).splitlines()[0])
        (ValueError("   \n\n"), "ValueError"),
        (RuntimeError("\nfirst real line\nsecond"), "RuntimeError: first real line"),
        (KeyError("k"), "KeyError: 'k'"),
        (OSError(2, "No such file"), "FileNotFoundError: [Errno 2] No such file"),
    ],
)
def test_one_line(exc, line):
    assert one_line(exc) == line


def test_one_line_cuts_long_messages():
    assert one_line(ValueError("x" * 500), 10) == "ValueError: " + "x" * 10


def test_step_wraps_library_errors_and_keeps_ours():
    with pytest.raises(ExportError, match=r"^golden set of R: ZeroDivisionError: division by zero$") as caught:
        with step(ExportError, "golden set of R"):
            1 / 0
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    with pytest.raises(ExportError, match=r"^onnx fp16 conversion failed: the photo is bad$"):
        with step(ExportError, lambda: "onnx fp16 conversion failed"):
            raise CarspotterError("the photo is bad")
    with pytest.raises(ExportError, match=r"^x: IndexError$"):
        with step(ExportError, "x"):
            raise IndexError()


def test_step_lets_interrupts_through_and_changes_nothing_without_error():
    with pytest.raises(KeyboardInterrupt):
        with step(ExportError, "x"):
            raise KeyboardInterrupt
    state = {"what": "first"}
    with step(ExportError, lambda: state["what"]):
        state["what"] = "second"
    with pytest.raises(ExportError, match="^second: ValueError: v$"):
        with step(ExportError, lambda: state["what"]):
            raise ValueError("v")
