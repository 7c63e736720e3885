"""The HTML reports opened as a person would: headless Chromium (Debian's ``chromium``) through
puppeteer-core (tests/js). Each page must load from disk with no console error, no request
beyond itself and its data: images, every image decoded, and show the numbers its JSON holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from carspotter.cli import main
from conftest import REPO, SAMPLE

NODE_DIR = Path(os.environ.get("CARSPOTTER_NODE_DIR", REPO / "tests" / "js"))


def open_in_chromium(page: Path) -> dict:
    """What ``tests/js/check_page.mjs`` saw when Chromium opened ``page`` (skips with the reason if it cannot run)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `nox -s tests` installs it as root)")
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "puppeteer-core").is_dir():
        pytest.skip(f"node or puppeteer-core missing under {NODE_DIR} (npm ci --prefix tests/js)")
    out = subprocess.run(["node", str(REPO / "tests" / "js" / "check_page.mjs"), chromium, str(page)],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")},
                         cwd=NODE_DIR)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _clean_load(seen: dict) -> None:
    assert seen["loaded"]
    assert seen["console"] == [] and seen["pageErrors"] == []
    assert seen["external"] == [] and seen["failed"] == []
    assert seen["images"] and all(i["complete"] and i["width"] > 0 for i in seen["images"])


def test_predict_report_in_chromium_shows_the_json_numbers(pipeline, tmp_path, capsys):
    run_dir, bundle = pipeline
    photos = sorted(SAMPLE.rglob("*.jpg"))[:3]
    report = tmp_path / "report"
    assert main(["predict", str(bundle), *map(str, photos), "--run", str(run_dir), "--report", str(report)]) == 0
    capsys.readouterr()
    seen = open_in_chromium(report / "predict.html")
    _clean_load(seen)
    doc = json.loads((report / "predict.json").read_text())
    assert seen["figures"] == doc
    shown = dict(seen["checks"])
    expected = {f"{p['photo']}|{key}|{rank}": f"{row['probability']:.3f}"
                for p in doc["photos"] for key, rows in p["top"].items() for rank, row in enumerate(rows, 1)}
    assert {k: v for k, v in shown.items() if k != "agree"} == expected
    assert shown["agree"] == f"{sum(p['agree'] for p in doc['photos'])} of {len(doc['photos'])}"
    assert len(seen["images"]) == 3 * len(doc["photos"])  # original, exact input, heatmap
