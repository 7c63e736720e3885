"""Which phone accelerators can take an ONNX file: ONNX Runtime's mobile usability check (``python -m
onnxruntime.tools.check_onnx_model_mobile_usability MODEL``, module ``onnxruntime.tools.mobile_helpers.usability_checker``):
the model is optimized to the basic level as ORT Mobile would, then every node is checked against the ops the NNAPI
execution provider (Android) and the CoreML execution provider (iOS; its MLProgram and NeuralNetwork model formats)
support, with fixed input sizes required, as those EPs require them. :func:`onnx_mobile_usability` calls the same
functions as that command and returns the counts instead of log lines; :func:`onnx_mobile_gate` is what the default
variant must show; :func:`accelerator_cells` the benchmark's cells.
"""

from __future__ import annotations

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
    with tempfile.TemporaryDirectory() as tmp, quiet("usability_checker"):
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


def accelerator_cells(report: dict | None) -> tuple[str, str]:
    """The benchmark's "EP coverage" and "GPU delegate" cells for an ONNX variant's manifest ``accelerators``:
    ``NNAPI 218/218, CoreML 218/218`` (the CoreML figure is the lower of its two model formats) and ``-``."""
    if not report or "eps" not in report:
        return "-", "-"
    n, eps = report["nodes"], report["eps"]
    coreml = min(v["supported"] for k, v in eps.items() if k.startswith("CoreML"))
    return f"NNAPI {eps['NNAPI']['supported']}/{n}, CoreML {coreml}/{n}", "-"


NOTE = "EP coverage: nodes ONNX Runtime's NNAPI and CoreML execution providers take, of all (its mobile usability check at export)"
"""What the benchmark's EP coverage column means."""
