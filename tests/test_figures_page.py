"""docs/figures.md is generated from the records in docs/figures/ (tests/benchmarks/figures_page.py): never edited by
hand, every figure with its date, machine and command."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "tests" / "benchmarks"))

import figures_page  # noqa: E402


def test_the_page_is_what_the_records_give():
    text = figures_page.render(figures_page.load())
    assert figures_page.PAGE.read_text(encoding="utf-8") == text, (
        "docs/figures.md is out of date: run python tests/benchmarks/figures_page.py"
    )


def test_every_record_states_date_machine_and_command():
    records = figures_page.load()
    assert len(records) >= 4
    for r in records:
        assert r["date"][:4] == "2026" and r["machine"] and r["command"], r["id"]


@pytest.mark.parametrize(
    "bad, words", [({"id": "x", "title": "t"}, "needs date, machine, command, summary"), (None, "is also")]
)
def test_a_bad_record_is_refused_in_one_line(tmp_path, bad, words):
    good = {"id": "x", "title": "t", "date": "2026-12-06", "machine": "m", "command": "c", "summary": "s"}
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps(bad or good))
    with pytest.raises(ValueError, match=words):
        figures_page.load(tmp_path)
