"""Which phone accelerators can take a model file, checked with the platforms' own tools.

- ONNX: ONNX Runtime's mobile usability check (``python -m
  onnxruntime.tools.check_onnx_model_mobile_usability MODEL``, module
  ``onnxruntime.tools.mobile_helpers.usability_checker``): the model is optimized to the
  basic level as ORT Mobile would, then every node is checked against the ops the NNAPI
  execution provider (Android) and the CoreML execution provider (iOS; its MLProgram and
  NeuralNetwork model formats) support, with fixed input sizes required, as those EPs
  require them. :func:`onnx_mobile_usability` calls the same functions as that command and
  returns the counts instead of log lines.
- TFLite: LiteRT's model analyzer with GPU-delegate compatibility
  (``tf.lite.experimental.Analyzer.analyze(model_path=..., gpu_compatibility=True)``):
  :func:`litert_gpu_compatibility` keeps its verdict and the per-op warnings. Its output
  format is documented as unstable: a report it cannot read raises rather than guesses. The
  analyzer is also probed with an op the GPU delegate lacks (:func:`analyzer_rejects_unsupported_ops`);
  TensorFlow 2.21's passes it, so a "compatible" from it is recorded as unverified.
- Core ML: no tool off Apple platforms says which ops the Neural Engine takes (Xcode's
  performance report does, on a Mac); nothing is recorded.
"""

from __future__ import annotations

import contextlib
import functools
import io
import tempfile
from pathlib import Path

from carspotter.util.quiet import quiet

ONNX_EPS = {
    "NNAPI": None,
    "CoreML MLProgram": "coreml_supported_mlprogram_ops.md",
    "CoreML NeuralNetwork": "coreml_supported_neuralnetwork_ops.md",
}
"""The execution providers (and CoreML model formats) the ONNX check covers: the ``ep`` keys of its report."""


def onnx_mobile_usability(path: str | Path) -> dict:
    """ONNX Runtime's mobile usability check of one ``.onnx`` file, as numbers.

    Returns:
        ``{"tool", "nodes", "eps": {EP: {"supported", "partitions", "unsupported_ops", "dynamic_shape_nodes"}},
        "all_nodes": bool, "summary": str}``: ``nodes`` counted after ORT's basic-level optimization
        (what ORT Mobile runs), ``supported`` the nodes that EP takes, ``dynamic_shape_nodes`` those
        refused only because a shape is not fixed; ``all_nodes`` is True when every EP takes every node.

    Raises:
        onnx / onnxruntime errors for a file that is not a loadable ONNX model.
    """
    import onnxruntime as ort
    from onnxruntime.tools.mobile_helpers import usability_checker as uc

    path = Path(path)
    eps, nodes = {}, 0
    with tempfile.TemporaryDirectory() as tmp, quiet():
        optimized = Path(tmp) / path.name
        uc.optimize_model(path, optimized, use_external_initializers=True)
        model = uc.ModelProtoWithShapeInfo(optimized).model_with_shape_info
        for ep, ops_file in ONNX_EPS.items():
            info = (
                uc.check_nnapi_partitions(model, True)
                if ops_file is None
                else uc.check_coreml_partitions(model, True, ops_file)
            )
            nodes = info.num_nodes
            eps[ep] = {
                "supported": int(info.num_supported_nodes),
                "partitions": int(info.num_partitions),
                "unsupported_ops": sorted(info.unsupported_ops),
                "dynamic_shape_nodes": int(info.nodes_unsupported_due_to_dynamic_input),
            }
    all_nodes = nodes > 0 and all(e["supported"] == nodes for e in eps.values())
    summary = ", ".join(f"{ep} {e['supported']}/{nodes}" for ep, e in eps.items())
    return {
        "tool": f"onnxruntime.tools.check_onnx_model_mobile_usability (onnxruntime {ort.__version__})",
        "nodes": int(nodes),
        "eps": eps,
        "all_nodes": all_nodes,
        "summary": summary,
    }


def onnx_mobile_gate(report: dict) -> tuple[bool, str]:
    """The phone gate of an ONNX file: every node on every EP of :data:`ONNX_EPS` (a partly taken
    model runs the rest on the CPU, with a copy at each partition boundary)."""
    if report["all_nodes"]:
        return True, f"all {report['nodes']} nodes on NNAPI and CoreML EPs"
    reasons = sorted({op for e in report["eps"].values() for op in e["unsupported_ops"]})
    dynamic = max((e["dynamic_shape_nodes"] for e in report["eps"].values()), default=0)
    why = (f"; {dynamic} nodes refused for a dynamic shape" if dynamic else "") + (
        f"; unsupported ops: {', '.join(reasons)}" if reasons else ""
    )
    return False, f"mobile EPs take {report['summary']}{why}"


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


def accelerator_columns(report: dict | None) -> tuple[str, str]:
    """The table's "EP coverage" and "GPU delegate" cells from a variant's manifest ``accelerators``
    (:mod:`carspotter.model.accelerators`): ``NNAPI 218/218, CoreML 218/218`` (the CoreML figure is the
    lower of its two model formats) and ``yes`` / ``yes (unverified)`` (the analyzer also passed a probe op the GPU
    delegate lacks) / ``no (N ops)``; ``-`` where the format has no such check."""
    if not report:
        return "-", "-"
    cov = "-"
    if "eps" in report:
        n, eps = report["nodes"], report["eps"]
        coreml = min(v["supported"] for k, v in eps.items() if k.startswith("CoreML"))
        cov = f"NNAPI {eps['NNAPI']['supported']}/{n}, CoreML {coreml}/{n}"
    gpu = report.get("gpu_delegate")
    if gpu is None:
        return cov, "-"
    if not gpu["compatible"]:
        return cov, f"no ({gpu.get('incompatible_ops', len(gpu['warnings']))} ops)"
    return cov, "yes" if report.get("analyzer_rejects_unsupported_ops", True) else "yes (unverified)"


ACCELERATOR_NOTE = (
    "EP coverage: nodes ONNX Runtime's NNAPI and CoreML execution providers take, of all (its mobile "
    "usability check at export); GPU delegate: LiteRT's analyzer (gpu_compatibility=True) at export. "
    "Phones were not timed."
)
"""What the benchmark's accelerator columns (:func:`accelerator_columns`) mean, for its notes."""
