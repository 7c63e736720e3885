"""Core ML's sensitivity-guided mixed-precision variant (``palettized-mixed``): each layer palettized to 4 or 6 bits
or kept at 8 (linear, per output channel), as a plan chooses within the all-6-bit file's size, all iOS 16 ops
(``constexpr_lut_to_dense``, ``constexpr_affine_dequantize``).

The plan comes from :mod:`carspotter.measure.sensitivity` (each layer compressed alone at 4, 6 and 8 bits in Keras, on
the variant's representative photos; the widths chosen to minimize the summed squared drift within the budget) and
is applied with coremltools' per-op configs (``OptimizationConfig.op_name_configs``: the coremltools "Optimizing
models: per-op configuration" guide): first ``linear_quantize_weights`` on the 8-bit ops, then ``palettize_weights``
at 6 bits with the 8-bit ops excluded and the 4-bit ops at 4. Keras layers are matched to the program's ``conv`` /
``linear`` ops by their weights: the op's fp16 weight equals the layer's kernel with its BatchNormalization folded
in, in Core ML's layout (``[out, in, kh, kw]``).
"""

from __future__ import annotations

import numpy as np


from carspotter.measure.sensitivity import (
    WIDTHS,
    WeightLayers,
    layer_sensitivity,
    match_layers,
    most_sensitive,
    plan,
    plan_bits,
)
from carspotter.export.formats.coreml.library import LOGGERS
from carspotter.util.quiet import quiet

BUDGET_BITS = 6.0
"""Mean bits per weight the plan may spend: the all-6-bit file's size, so the mixed file is never the larger.
Simulated in Keras on the 10-class run (76 representative photos the sensitivity did not use; pooled-feature drift,
top-1 agreement with the reference): every layer at 6 bits 17.1 %, 84.2 % [74.4, 90.7]; the earlier plan (the stem and
the most sensitive 2 % of the weights at 8 bits, paid for at 4) 5.7 %, 94.7 % [87.2, 97.9]; this plan 4.1 %, 96.1 %
[89.0, 98.6] (Wilson 95 %; the agreements overlap, the drifts rank the plans; docs/figures-history.md)."""


def op_names(mlmodel, weights: WeightLayers) -> dict[str, str]:
    """Keras weight layer name -> the name of the program's ``conv`` / ``linear`` op that holds its weights (matched
    by value: :func:`carspotter.measure.sensitivity.match_layers`); layers without a match are absent."""
    ops = [op for op in mlmodel._mil_program.functions["main"].operations if op.op_type in ("conv", "linear")]
    return match_layers(weights, {op.name: op.weight.val for op in ops if op.weight.val is not None})


def compress(mlmodel, build):
    """``mlmodel`` (an fp16 mlprogram of ``build.model``) compressed by the plan; returns ``(mlmodel, plan facts)``.
    The sensitivity shows its progress; the converter's own output is kept quiet.

    Raises:
        ValueError: no representative photos (the variant is a calibrated one), or no layer matched an op.
    """
    import coremltools.optimize.coreml as cto

    if build.representative is None or len(build.representative) == 0:
        raise ValueError("the mixed plan needs representative photos")
    weights = WeightLayers(build.model, cluster=kmeans_1d)
    pixels = (
        build.representative
    )  # the first SENSITIVITY_PHOTOS (VariantSpec.calibration_limit): its gate leaves them out
    # the same photos as ONNX's int8 plan (the first of one representative set): its 8-bit sensitivity is shared
    sens = {
        b: build.shared(("sensitivity", b, len(pixels)), lambda b=b: layer_sensitivity(weights, pixels, nbits=b))
        for b in WIDTHS
    }
    bits = plan(sens, BUDGET_BITS)
    names = op_names(mlmodel, weights)
    if not names:
        raise ValueError("no weight layer of the model matched an op of the Core ML program")
    high = {names[n] for n, b in bits.items() if b == 8 and n in names}
    low = {names[n] for n, b in bits.items() if b == 4 and n in names}
    configs = {**{n: None for n in high}, **{n: cto.OpPalettizerConfig(mode="kmeans", nbits=4) for n in low}}
    with quiet(*LOGGERS):
        if high:
            mlmodel = cto.linear_quantize_weights(
                mlmodel,
                config=cto.OptimizationConfig(
                    op_name_configs={
                        n: cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8") for n in high
                    }
                ),
            )
        mlmodel = cto.palettize_weights(
            mlmodel,
            config=cto.OptimizationConfig(
                global_config=cto.OpPalettizerConfig(mode="kmeans", nbits=6), op_name_configs=configs
            ),
        )
    by_bits = {b: sorted(n for n, v in bits.items() if v == b) for b in (8, 6, 4)}
    facts = {
        "method": "per-layer sensitivity (each layer compressed alone at 4, 6 and 8 bits, pooled-feature drift on "
        f"{len(pixels)} representative photos), widths chosen to minimize the summed squared drift within "
        f"{BUDGET_BITS:g} bits per weight",
        "bits_per_weight": round(plan_bits(sens[WIDTHS[0]], bits), 3),
        "layers_8bit": by_bits[8],
        "layers_4bit": by_bits[4],
        "layers_6bit": len(by_bits[6]),
        "unmatched": sorted(set(bits) - set(names)),
        "most_sensitive": most_sensitive(sens[WIDTHS[0]]),
    }
    return mlmodel, facts


def kmeans_1d(values: np.ndarray, k: int) -> np.ndarray:
    """``values`` replaced by their cluster's centroid from optimal 1-D k-means with ``k`` clusters over the fp16 values:
    the distinct values weighted by their counts, clustered by the kmeans1d that coremltools vendors and its
    palettizer runs on an fp16 weight tensor of 10,000 values or more (``coremltools._deps``, pinned coremltools 9.0:
    a private module, used for fidelity to the converter); smaller tensors differ from the converter's one
    scikit-learn k-means++ run only by that run's local optimum."""
    from coremltools._deps import _kmeans1d

    half = values.astype(np.float16).astype(np.float64).ravel()
    distinct, inverse, counts = np.unique(half, return_inverse=True, return_counts=True)
    if len(distinct) <= k:
        return half.reshape(values.shape).astype(values.dtype)
    result = _kmeans1d.cluster(distinct, k, weights=counts.astype(np.float64))
    centroids = np.asarray(result.centroids)
    return centroids[np.asarray(result.clusters)[inverse.ravel()]].reshape(values.shape).astype(values.dtype)
