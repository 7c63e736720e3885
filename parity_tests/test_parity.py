"""Every parity check of the bundle as a test: CPU checks always run; GPU checks (Keras on the GPU,
ONNX Runtime's CUDA execution provider) and Core ML predict (macOS) are skipped with the reason
where this machine cannot run them."""

from __future__ import annotations

import warnings

import pytest

from carspotter.parity.checks import run_check


def test_check(parity, check):
    ctx, report = parity
    outcome = report.add(run_check(ctx, check))
    if outcome.result is not None:
        print(outcome.result)
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "missed":  # an app path's gate, reported (enforced with --app-gate)
        warnings.warn(f"{check.id}: {outcome.message}")
        return
    assert outcome.passed, outcome.message
