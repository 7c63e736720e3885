"""Per-layer sensitivity to weight compression, and a mixed-precision plan from it.

**Sensitivity** of a layer: the drift of the model's pooled features (the head's input) when that layer alone has its
weights palettized, measured in Keras on a set of photos. The compression is simulated as the converters apply it:
a convolution followed by BatchNormalization is compressed with the normalization folded in (the converters fold it
before compressing: each output channel scaled by ``gamma / sqrt(var + eps)``), one k-means look-up table of
``2^nbits`` entries per weight tensor (coremltools' ``OpPalettizerConfig(mode="kmeans")``, per tensor), then unfolded
again for Keras. This is the "compress one layer alone" analysis of coremltools' and LiteRT's selective-compression
guides, run without converting a file per layer (94 conversions of InceptionV3 would take an hour here).

**Plan**: each layer gets a width from ``(4, 6, 8)`` bits so that the sum over layers of the squared drift at the
chosen widths is smallest while the weight bits stay within the all-6-bit file's (a multiple-choice knapsack, solved
by Lagrangian relaxation as in the mixed-precision literature: HAWQ-V3, Yao et al. 2021, poses the same budgeted
choice as an integer program; errors of independent layers add in variance, hence the squares). The head's layers
act after the pooled features the drift is measured on, so they stay at the widest width. :func:`simulate` runs a
whole plan in Keras, so plans are compared before any conversion; the format's converter then applies the chosen
plan (Core ML: per-op configs, ``op_name_configs``) and its gate judges the real file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from carspotter.measure.drift import _histories
from carspotter.util.progress import progress


SENSITIVITY_PHOTOS = 24
"""Representative photos (the first ones) the mixed plans measure per-layer sensitivity on."""

WEIGHT_THRESHOLD = 2048
"""Weight tensors smaller than this are not compressed (the converters' default: Core ML's
``OpCompressorConfig.weight_threshold``)."""


@dataclass
class LayerSensitivity:
    """``layer`` (``backbone/layer`` or a head layer), its weight count, and the mean relative L2 error of the pooled
    features on the photos when it alone is compressed (0..inf); ``head``: the layer acts after the pooled features
    (its drift is 0 by construction, so a plan never lowers it)."""

    layer: str
    params: int
    drift: float
    head: bool = False


class WeightLayers:
    """The weight layers of a carspotter model (the backbone's convolutions, the head's dense layer), each with the
    per-output-channel scale of the BatchNormalization that follows it (None without one).

    Args:
        model: the reference (a Keras model); cluster: ``(values, k) -> values`` each replaced by its cluster's
            centroid, the palettizer a format's converter runs (Core ML's 1-D k-means), for :meth:`compressed` below
            8 bits; None: 8 bits only.
    """

    def __init__(self, model, cluster=None):
        import keras

        self.model, self.cluster = model, cluster
        self.layers: list[tuple[str, object, np.ndarray | None]] = []
        self.head_layers: set[str] = set()
        for outer in model.layers:
            if isinstance(outer, keras.Model):
                consumers: dict[str, list[str]] = {}
                for cfg in outer.get_config()["layers"]:
                    for source in _histories(cfg.get("inbound_nodes", [])):
                        consumers.setdefault(source, []).append(cfg["name"])
                for layer in outer.layers:
                    if type(layer).__name__ in ("Conv2D", "Dense", "DepthwiseConv2D"):
                        self.layers.append(
                            (f"{outer.name}/{layer.name}", layer, self._bn_scale(outer, layer, consumers))
                        )
            elif type(outer).__name__ in ("Conv2D", "Dense"):
                self.layers.append((outer.name, outer, None))
                self.head_layers.add(outer.name)
        self.head = keras.Model(model.inputs, [model.layers[-1].input, model.outputs[0]])

    @staticmethod
    def _bn_scale(block, layer, consumers) -> np.ndarray | None:
        after = consumers.get(layer.name, [])
        if len(after) != 1 or type(block.get_layer(after[0])).__name__ != "BatchNormalization":
            return None
        bn = block.get_layer(after[0])
        gamma = bn.gamma.numpy() if bn.scale else 1.0
        return np.asarray(gamma / np.sqrt(bn.moving_variance.numpy() + bn.epsilon), dtype=np.float32)

    def folded(self, index: int) -> np.ndarray:
        """Layer ``index``'s kernel with its BatchNormalization scale folded in (per output channel, the last axis of
        a Keras kernel), as a converter folds it before compressing."""
        _, layer, scale = self.layers[index]
        w = layer.kernel.numpy()
        return w * scale if scale is not None else w

    def compressed(self, index: int, nbits: int) -> np.ndarray:
        """Layer ``index``'s kernel palettized to ``nbits`` with its normalization folded (see the module docstring);
        8 bits is linear symmetric per output channel (``OpLinearQuantizerConfig``'s default). A kernel of fewer than
        :data:`WEIGHT_THRESHOLD` values is left as it is, as the converters leave it."""
        _, layer, scale = self.layers[index]
        w = layer.kernel.numpy()
        if w.size < WEIGHT_THRESHOLD:
            return w
        folded = self.folded(index)
        if nbits >= 8:
            axes = tuple(range(folded.ndim - 1))
            step = np.maximum(np.abs(folded).max(axis=axes, keepdims=True), 1e-12) / 127
            q = np.round(folded / step) * step
        elif self.cluster is None:
            raise ValueError(f"{nbits}-bit weights need the format's palettizer (WeightLayers(model, cluster=...))")
        else:
            q = self.cluster(folded, 2**nbits)
        return (q / scale if scale is not None else q).astype(w.dtype)

    def features(self, pixels: np.ndarray, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """``([N, D] pooled features, [N, C] probabilities)`` of the model as its weights are now."""
        out = [
            self.head(pixels[i : i + batch].astype(np.float32), training=False) for i in range(0, len(pixels), batch)
        ]
        return (np.concatenate([np.asarray(f) for f, _ in out]), np.concatenate([np.asarray(p) for _, p in out]))


def most_sensitive(sensitivity: list[LayerSensitivity], count: int = 10) -> list[dict]:
    """The ``count`` layers of largest drift, ``{"layer", "drift"}`` each, for a plan's manifest facts."""
    return [{"layer": s.layer, "drift": round(s.drift, 5)} for s in sorted(sensitivity, key=lambda s: -s.drift)[:count]]


def match_layers(weights: WeightLayers, tensors: dict[str, np.ndarray]) -> dict[str, str]:
    """Keras weight layer name -> the name of the converted op or node (``tensors``: its weight, in the
    ``[out, in, kh, kw]`` / ``[out, in]`` layout of Core ML and ONNX) that holds it: the tensor equal to the layer's
    kernel with its BatchNormalization folded in (the converters fold it), to 1 % relative L2 (fp16 rounding is about
    1e-3). Each layer matches at most once, ops in the given order; layers without a match are absent."""
    layout = [
        (name, (lambda k: k.transpose(3, 2, 0, 1) if k.ndim == 4 else k.T)(weights.folded(i)).astype(np.float32))
        for i, (name, _, _) in enumerate(weights.layers)
    ]
    out: dict[str, str] = {}
    for owner, val in tensors.items():
        val = np.asarray(val, dtype=np.float32)
        best = None
        for name, w in layout:
            if w.shape == val.shape and name not in out:
                err = float(np.linalg.norm(w - val) / max(np.linalg.norm(w), 1e-12))
                if best is None or err < best[1]:
                    best = (name, err)
        if best is not None and best[1] < 0.01:
            out[best[0]] = owner
    return out


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-12)))


def layer_sensitivity(weights: WeightLayers, pixels: np.ndarray, nbits: int = 4) -> list[LayerSensitivity]:
    """Each weight layer palettized to ``nbits`` alone: the drift of the pooled features on ``pixels``
    (``[N, S, S, 3]`` uint8). The model's weights are restored after each layer. Progress on stderr
    (:func:`carspotter.util.progress.progress`: about 2 minutes for InceptionV3's 95 layers on 2 cores)."""
    reference, _ = weights.features(pixels)
    out = []
    layers = progress(enumerate(weights.layers), len(weights.layers), f"sensitivity at {nbits} bits", unit="layer")
    for i, (name, layer, _) in layers:
        original = layer.kernel.numpy()
        layer.kernel.assign(weights.compressed(i, nbits))
        try:
            feats, _ = weights.features(pixels)
        finally:
            layer.kernel.assign(original)
        out.append(LayerSensitivity(name, int(original.size), _rel(feats, reference), name in weights.head_layers))
    return out


WIDTHS = (4, 6, 8)
"""Bits a plan chooses from: Core ML palettization at 4 and 6 bits (iOS 16 ``constexpr_lut_to_dense``), linear
per-channel int8 at 8 (``constexpr_affine_dequantize``)."""


def plan(sensitivity: dict[int, list[LayerSensitivity]], budget: float = 6.0) -> dict[str, int]:
    """Bits per layer (module docstring): each layer at one of the widths of ``sensitivity`` (bits -> every layer's
    sensitivity at that width, the same layers in each), minimizing the sum of squared drifts with the mean bits per
    weight at most ``budget``. Head layers (``LayerSensitivity.head``) take the widest width, paid for inside the
    budget; layers under :data:`WEIGHT_THRESHOLD` weights are not in the plan: no converter compresses them.

    Solved by Lagrangian relaxation: for a price ``lam`` per weight bit every layer takes the width minimizing
    ``drift^2 + lam * params * bits``; bisection finds the lowest price within the budget, then the bits left over
    widen layers by the largest drop in squared drift per extra bit while they fit.

    Raises:
        ValueError: the budget is below the narrowest width, or the widths list different layers.
    """
    widths = sorted(sensitivity)
    if budget < widths[0]:
        raise ValueError(f"budget {budget} bits per weight is below the narrowest width, {widths[0]}")
    rows = {b: {s.layer: s for s in sensitivity[b] if s.params >= WEIGHT_THRESHOLD} for b in widths}
    names = list(rows[widths[0]])
    if any(set(rows[b]) != set(names) for b in widths):
        raise ValueError("the sensitivity lists of the widths name different layers")
    params = {n: rows[widths[0]][n].params for n in names}
    cost = {n: {b: rows[b][n].drift ** 2 for b in widths} for n in names}
    fixed = {n: widths[-1] for n in names if rows[widths[0]][n].head}
    free = [n for n in names if n not in fixed]
    limit = budget * sum(params.values())

    def at(price: float) -> dict[str, int]:
        chosen = {n: min(widths, key=lambda b: (cost[n][b] + price * params[n] * b, b)) for n in free}
        return {**chosen, **fixed}

    def bits_of(choice: dict[str, int]) -> float:
        return sum(params[n] * b for n, b in choice.items())

    if bits_of({**{n: widths[0] for n in free}, **fixed}) > limit:
        return {
            **{n: widths[0] for n in free},
            **fixed,
        }  # the head alone exceeds the budget: every other layer narrowest
    low, high = 0.0, 1.0
    while bits_of(at(high)) > limit:
        high *= 4
    for _ in range(64):
        mid = (low + high) / 2
        low, high = (mid, high) if bits_of(at(mid)) > limit else (low, mid)
    choice = at(high)
    spare = limit - bits_of(choice)
    while True:  # the bits the price left over: widen where a bit buys most
        steps = [
            ((cost[n][choice[n]] - cost[n][b]) / (params[n] * (b - choice[n])), n, b)
            for n in free
            for b in widths
            if b > choice[n] and params[n] * (b - choice[n]) <= spare
        ]
        steps = [s for s in steps if s[0] > 0]
        if not steps:
            return choice
        _, n, b = max(steps)
        spare -= params[n] * (b - choice[n])
        choice[n] = b


def plan_bits(sensitivity: list[LayerSensitivity], bits: dict[str, int]) -> float:
    """Mean bits per weight of the layers a plan compresses."""
    planned = [s for s in sensitivity if s.layer in bits]
    return sum(bits[s.layer] * s.params for s in planned) / max(sum(s.params for s in planned), 1)


def plan_cost(sensitivity: dict[int, list[LayerSensitivity]], bits: dict[str, int]) -> float:
    """The sum of squared drifts a plan is chosen to minimize (:func:`plan`)."""
    drift = {(b, s.layer): s.drift for b, rows in sensitivity.items() for s in rows}
    return sum(drift[(b, n)] ** 2 for n, b in bits.items())


def simulate(weights: WeightLayers, bits: dict[str, int], pixels: np.ndarray) -> np.ndarray:
    """``[N, C]`` probabilities of the model with every layer compressed as ``bits`` says (weights restored after)."""
    saved = []
    try:
        for i, (name, layer, _) in enumerate(weights.layers):
            if name in bits:
                saved.append((layer, layer.kernel.numpy()))
                layer.kernel.assign(weights.compressed(i, bits[name]))
        return weights.features(pixels)[1]
    finally:
        for layer, original in saved:
            layer.kernel.assign(original)


def to_json(sensitivity: list[LayerSensitivity]) -> list[dict]:
    return [asdict(s) for s in sensitivity]
