"""TensorFlow's start-up lines stay out of the console unless asked for (``--verbose`` / CARSPOTTER_VERBOSE=1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

NOISE = ("absl::InitializeLog", "oneDNN custom operations")
# keras imports TensorFlow itself: the hook catches the first import wherever it comes from, and imports nothing early
SCRIPT = (
    "import sys; from carspotter.util.quiet import quiet_tensorflow_import; quiet_tensorflow_import(); "
    "assert 'tensorflow' not in sys.modules; import keras, tensorflow as tf; tf.constant([1.0]) * 2; "
    "print('after', file=sys.stderr)"
)


def _stderr(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CARSPOTTER_VERBOSE")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env={**clean, **env}, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stderr


def test_tensorflow_imports_quietly_by_default():
    err = _stderr()
    assert err.strip().splitlines() == ["after"], err


@pytest.mark.parametrize("value", ["1", "yes"])
def test_verbose_brings_the_start_up_lines_back(value):
    err = _stderr(CARSPOTTER_VERBOSE=value)
    assert any(n in err for n in NOISE) and err.strip().endswith("after"), err
