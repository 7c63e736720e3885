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
    out = subprocess.run(
        ["node", str(REPO / "tests" / "js" / "check_page.mjs"), chromium, str(page)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")},
        cwd=NODE_DIR,
    )
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
    expected = {
        f"{p['photo']}|{key}|{rank}": f"{row['probability']:.3f}"
        for p in doc["photos"]
        for key, rows in p["top"].items()
        for rank, row in enumerate(rows, 1)
    }
    assert {k: v for k, v in shown.items() if k != "agree"} == expected
    assert shown["agree"] == f"{sum(p['agree'] for p in doc['photos'])} of {len(doc['photos'])}"
    assert len(seen["images"]) == 3 * len(doc["photos"])  # original, exact input, heatmap


def test_parity_page_in_chromium_shows_parity_json(pipeline, tmp_path, capsys):
    run_dir, bundle = pipeline
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    for stale in ("parity.json", "parity.html"):
        (copy / stale).unlink(missing_ok=True)
    assert main(["parity", str(copy), "--run", str(run_dir), "--no-app-paths", "--reference-backends", "none"]) == 0
    capsys.readouterr()
    assert main(["verify", str(copy)]) == 0  # parity.html is written after export, like parity.json: not hashed
    seen = open_in_chromium(copy / "parity.html")
    assert seen["loaded"] and seen["console"] == [] and seen["pageErrors"] == [] and seen["external"] == []
    doc = json.loads((copy / "parity.json").read_text())
    assert seen["figures"] == doc
    shown = dict(seen["checks"])
    assert shown["verdict"] == ("PASSED" if doc["passed"] else "FAILED")
    for r in doc["results"]:
        key = f"{r['photo_set']}|{r['format']}|{r['target']}"
        assert shown[f"{key}|agreement"] == f"{r['top1_agreement']:.2%}"
        assert shown[f"{key}|near_ties"] == str(r["near_ties"])
        assert shown[f"{key}|max_abs_diff"] == f"{r['max_abs_diff']:.2e}"
        for f in r["flagged"]:
            for side in ("reference", "format"):
                for rank, (_, p) in enumerate(f[side], 1):
                    assert shown[f"{key}|{f['photo']}|{side}|{rank}"] == f"{p:.3f}"
    manifest = json.loads((copy / "manifest.json").read_text())
    for fmt, entry in manifest["formats"].items():
        for name, v in entry["variants"].items():
            assert shown[f"variant|{fmt}|{name}|agreement"] == f"{v['figures']['top1_agreement']:.2%}"
    flagged = sum(len(r["flagged"]) for r in doc["results"])
    assert len(seen["images"]) == flagged and all(i["complete"] and i["width"] > 0 for i in seen["images"])


def test_parity_page_shows_a_mismatch_with_its_thumbnail():
    import numpy as np

    from carspotter.parity.page import render
    from carspotter.measure.parity_rule import compare_top3

    ref = np.array([[0.5, 0.3, 0.2, 0.0], [0.4, 0.35, 0.25, 0.0]])
    cand = np.array([[0.3, 0.5, 0.2, 0.0], [0.4, 0.35, 0.25, 0.0]])
    result = compare_top3(
        ref,
        cand,
        labels=["a", "b", "c", "d"],
        photos=["p1.jpg", "p2.jpg"],
        tau=1e-3,
        max_abs_diff_limit=0.05,
        format="onnx",
        target="cpu",
        precision="fp32",
    )
    assert [f["photo"] for f in result.flagged] == ["p1.jpg"] and result.flagged[0]["kind"] == "mismatch"
    assert result.flagged[0]["reference"][0] == ["a", 0.5] and result.flagged[0]["format"][0] == ["b", 0.5]
    doc = {
        "passed": False,
        "photos": 2,
        "photo_source": "test",
        "created": "now",
        "rule": "top-3",
        "results": [result.to_json()],
        "app_paths": [],
        "failed_checks": [],
        "skipped_checks": [],
    }
    html = render(doc, "b", lambda s, name: np.full((64, 64, 3), 128, np.uint8) if name == "p1.jpg" else None)
    assert "FAILED" in html and "p1.jpg" in html and "mismatch" in html and html.count("data:image/jpeg;base64,") == 1


def test_run_report_page_in_chromium_shows_report_json(pipeline):
    run_dir, _ = pipeline
    seen = open_in_chromium(run_dir / "report.html")
    _clean_load(seen)
    doc = json.loads((run_dir / "report.json").read_text())
    shown = dict(seen["checks"])
    for split, r in doc["splits"].items():
        assert shown[f"{split}|top1"] == f"{r['top1']:.1%}" and shown[f"{split}|top3"] == f"{r['top3']:.1%}"
        assert shown[f"{split}|macro_f1"] == f"{r['macro_f1']:.3f}"
    test = doc["splits"]["test"]
    for name, v in test["per_class"].items():
        for k in ("precision", "recall", "f1"):
            assert shown[f"pc|{name}|{k}"] == f"{v[k]:.2f}"
    for pair in test["confused_pairs"]:
        assert shown[f"pair|{pair['true']}|{pair['predicted']}"] == str(pair["count"])
    figures = seen["figures"]
    assert figures["heatmap_layer"] == "inception_v3/mixed10"
    assert len(seen["images"]) == 3 + 2 * len(
        figures["examples"]
    )  # curves, reliability, risk-coverage; input + heatmap
    assert all(e["true"] != e["predicted"] for e in figures["examples"])
    assert str(run_dir.parent) not in (run_dir / "report.html").read_text()


def test_report_command_rewrites_the_page_with_the_same_figures(pipeline, tmp_path, capsys):
    import re

    run_dir, _ = pipeline
    copy = tmp_path / "runs" / "small"
    shutil.copytree(run_dir, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    capsys.readouterr()
    html = (copy / "report.html").read_text()
    doc = json.loads((copy / "report.json").read_text())
    for split, r in doc["splits"].items():
        assert re.search(rf"data-check='{split}\|top1'>([^<]*)<", html).group(1) == f"{r['top1']:.1%}"
        assert re.search(rf"data-check='{split}\|macro_f1'>([^<]*)<", html).group(1) == f"{r['macro_f1']:.3f}"
