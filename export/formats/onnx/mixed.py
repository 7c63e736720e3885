"""ONNX's sensitivity-guided int8 variant (``int8-qdq-mixed``): static QDQ int8 as ``int8-qdq``, with the nodes of the
layers most sensitive to int8 weights left in float32.

The plan comes from :mod:`carspotter.measure.sensitivity`: each layer's kernel quantized alone to int8 (linear,
symmetric, per output channel, as ``quantize_static(per_channel=True)`` quantizes it) in Keras, the pooled-feature drift
on the first ``SENSITIVITY_PHOTOS`` representative photos (the QDQ calibration reads
all); then the same budgeted choice as Core ML's mixed plan,
between 8 bits and float (32), within :data:`FLOAT_BUDGET` bits per weight. Activation quantization is not in the
simulation: the gate judges the real file. The float layers' Conv / Gemm nodes (matched by their weights,
:func:`carspotter.measure.sensitivity.match_layers`) go to ``quantize_static(nodes_to_exclude=...)``, onnxruntime's
way to keep chosen nodes unquantized.
"""

from __future__ import annotations

from dataclasses import replace

from carspotter.measure.sensitivity import (
    SENSITIVITY_PHOTOS,
    WeightLayers,
    layer_sensitivity,
    match_layers,
    most_sensitive,
    plan,
    plan_bits,
)

FLOAT_BUDGET = 8.5
"""Mean bits per weight the plan may spend: 8 for int8 weights, 32 for a layer kept in float, so about 2 % of the
weights stay float and the file is at most about 1.06 times the all-int8 one."""


def _weights_by_node(proto) -> dict:
    """Conv and Gemm node name -> its weight initializer in ``[out, in, kh, kw]`` / ``[out, in]`` layout."""
    from onnx import numpy_helper

    inits = {i.name: i for i in proto.graph.initializer}
    out = {}
    for node in proto.graph.node:
        if node.op_type not in ("Conv", "Gemm") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        trans_b = any(a.name == "transB" and a.i for a in node.attribute)
        out[node.name] = w if node.op_type == "Conv" or trans_b else w.T
    return out


def excluded_nodes(build, proto) -> tuple[list[str], dict]:
    """``(names of the nodes to keep in float, plan facts for the manifest)`` for ``proto`` (the fp32 graph of
    ``build.model``). The sensitivity shows its progress (about 2 minutes for InceptionV3 on 2 cores).

    Raises:
        ValueError: no representative photos, or no weight layer matched a node.
    """
    if build.representative is None or len(build.representative) == 0:
        raise ValueError("int8-qdq-mixed needs representative photos")
    weights = WeightLayers(build.model)
    pixels = build.representative[:SENSITIVITY_PHOTOS]
    # the same photos as Core ML's mixed plan (the first of one representative set): measured once per export
    s8 = build.shared(("sensitivity", 8, len(pixels)), lambda: layer_sensitivity(weights, pixels, nbits=8))
    bits = plan({8: s8, 32: [replace(s, drift=0.0) for s in s8]}, FLOAT_BUDGET)
    names = match_layers(weights, _weights_by_node(proto))
    if not names:
        raise ValueError("no weight layer of the model matched a Conv or Gemm node of the ONNX graph")
    kept = sorted(n for n, b in bits.items() if b == 32)
    facts = {
        "method": f"per-layer sensitivity (each layer's weights quantized alone to int8, pooled-feature drift on "
        f"{len(pixels)} representative photos), layers kept in float chosen to minimize the summed squared "
        f"drift within {FLOAT_BUDGET:g} bits per weight; activations quantized everywhere else",
        "bits_per_weight": round(plan_bits(s8, bits), 3),
        "layers_float": kept,
        "nodes_to_exclude": [names[n] for n in kept if n in names],
        "layers_int8": sum(b == 8 for b in bits.values()),
        "unmatched": sorted(set(bits) - set(names)),
        "most_sensitive": most_sensitive(s8),
    }
    return facts["nodes_to_exclude"], facts
