"""Which phone accelerators can take a TFLite file: LiteRT's model analyzer with GPU-delegate compatibility
(``tf.lite.experimental.Analyzer.analyze(model_path=..., gpu_compatibility=True)``): :func:`litert_gpu_compatibility`
keeps its verdict and the per-op warnings. Its output format is documented as unstable: a report it cannot read
raises rather than guesses. The analyzer is also probed with an op the GPU delegate lacks
(:func:`analyzer_rejects_unsupported_ops`); TensorFlow 2.21's passes it, so a "compatible" from it is recorded as
unverified. (Core ML: no tool off Apple platforms says which ops the Neural Engine takes; nothing is recorded.)
"""

from __future__ import annotations

import contextlib
import functools
import io
from pathlib import Path


def litert_gpu_compatibility(path: str | Path) -> dict:
    """LiteRT's analyzer on one ``.tflite`` file, GPU-delegate compatibility only.

    Returns:
        ``{"tool", "gpu_delegate": {"compatible": bool, "incompatible_ops": int, "warnings": [str]},
        "analyzer_rejects_unsupported_ops": bool, "summary": str}``;
        ``warnings`` are the analyzer's "GPU COMPATIBILITY WARNING" lines for ops (op and reason; the first 20),
        ``incompatible_ops`` how many there are.

    Raises:
        RuntimeError: the analyzer's report has neither verdict line (its format changed).
    """
    import tensorflow as tf

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_path=str(path), gpu_compatibility=True)
    text = out.getvalue()
    lines = [line.strip() for line in text.splitlines() if "GPU COMPATIBILITY WARNING" in line]
    warnings = [line for line in lines if "Subgraph#" not in line]  # one line per op, plus one per subgraph
    if "looks compatible with GPU delegate" in text and not lines:
        compatible = True
    elif lines or "isn't compatible with GPU delegate" in text or "is not compatible" in text:
        compatible = False
    else:
        raise RuntimeError(
            f"{path}: tf.lite.experimental.Analyzer printed no GPU-delegate verdict (its output changed?)"
        )
    probe = analyzer_rejects_unsupported_ops()
    summary = "GPU delegate: compatible" if compatible else f"GPU delegate: {len(warnings)} incompatible ops"
    if compatible and not probe:
        summary += " (unverified: this analyzer also passes an op the GPU delegate lacks)"
    return {
        "tool": f"tf.lite.experimental.Analyzer gpu_compatibility=True (tensorflow {tf.__version__})",
        "gpu_delegate": {"compatible": compatible, "incompatible_ops": len(warnings), "warnings": warnings[:20]},
        "analyzer_rejects_unsupported_ops": probe,
        "summary": summary,
    }


@functools.lru_cache(maxsize=1)
def analyzer_rejects_unsupported_ops() -> bool:
    """Whether this TensorFlow's analyzer flags a probe model whose only op the GPU delegate does not have
    (WHERE: absent from TensorFlow's ``lite/tools/versioning/gpu_compatibility.cc``, whose default case
    answers "Not supported op"). Measured 2026-12-01: TensorFlow 2.21's analyzer passes it, and passes
    RFFT2D and UNSORTED_SEGMENT_SUM too, so its "compatible" is recorded as unverified there."""
    import tensorflow as tf

    fn = tf.function(
        lambda x: tf.cast(tf.where(x > 0), tf.float32), input_signature=[tf.TensorSpec([1, 8], tf.float32)]
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        flat = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn).convert()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tf.lite.experimental.Analyzer.analyze(model_content=flat, gpu_compatibility=True)
    return "GPU COMPATIBILITY WARNING" in out.getvalue()


def accelerator_cells(report: dict | None) -> tuple[str, str]:
    """The benchmark's "EP coverage" and "GPU delegate" cells for a TFLite variant's manifest ``accelerators``: ``-``
    and ``yes`` / ``yes (unverified)`` (the analyzer also passed a probe op the GPU delegate lacks) / ``no (N ops)``."""
    gpu = (report or {}).get("gpu_delegate")
    if gpu is None:
        return "-", "-"
    if not gpu["compatible"]:
        return "-", f"no ({gpu.get('incompatible_ops', len(gpu['warnings']))} ops)"
    return "-", "yes" if report.get("analyzer_rejects_unsupported_ops", True) else "yes (unverified)"


NOTE = "GPU delegate: LiteRT's analyzer (gpu_compatibility=True) at export"
"""What the benchmark's GPU delegate column means."""
