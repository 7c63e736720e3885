"""Per-layer drift: where a compressed variant's tensors leave the Keras reference's, layer by layer.

The comparison points (probes) are the reference's **cut points**: layer outputs that every path from the input to
the answer goes through (InceptionV3's stem activations and poolings, its eleven ``mixed`` blocks, the pooled
features, the probabilities), kept when a converter cannot fuse them away (activations, poolings, concatenations,
additions, a convolution or dense layer with its own non-linear activation; a bare convolution or
BatchNormalization output does not exist once Conv+BN+ReLU are fused). The reference's values come from Keras
sub-models; the variant's from every intermediate tensor of its file (:mod:`carspotter.model.intermediates`).

Matching a probe to a tensor of the file: among the file's tensors after the previous probe's match, in execution
order, those of the same shape (or its NCHW transpose) are candidates, and the one closest to the reference on the
first photo is the match (an exact file matches at ~1e-6; a pre-activation tensor of the same shape is far away),
unless even it is further than :data:`MATCH_LIMIT`.
A probe with no candidate is listed as unmatched, not dropped. This is the per-tensor comparison of coremltools'
model comparators, TFLite's QuantizationDebugger and Polygraphy's ``mark all``, restricted to the tensors the
reference and the file both have.

Per probe: the relative L2 error ``||file - ref|| / ||ref||`` per photo (mean and max over the photos). The
**first layer beyond tolerance** is the first probe whose mean exceeds :data:`TOLERANCE`; the **contributors** are
the probes whose mean grows most over the probe before.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from carspotter.util.progress import progress

TOLERANCE = 0.10
"""Mean relative L2 error (10 %) beyond which a probe counts as drifted. Measured on the 10-class run (4 test photos,
21 probes, docs/figures-history.md): the fp16 files stay within 0.2 % at every probe, the shipped 8-bit files of all three
formats reach 5-8 % in the mixed blocks and 4-6 % at the output."""

MATCH_LIMIT = 1.0
"""A candidate further than this (relative L2 error on the first photo) from the probe is not the same quantity: no
closer than zeros would be. Such a probe is unmatched (the rescaled input of an int8 file that takes raw pixels)."""

KEPT = {
    "Activation",
    "ReLU",
    "MaxPooling2D",
    "AveragePooling2D",
    "Concatenate",
    "Add",
    "GlobalAveragePooling2D",
    "Rescaling",
}
"""Layer types whose outputs survive conversion (see the module docstring); Conv2D and Dense count when they carry a
non-linear activation of their own."""


@dataclass
class Probe:
    """One comparison point: ``layer`` (the reference's layer name, ``block/layer`` inside the backbone), its
    ``depth`` (0 = first probe), the matched ``tensor`` of the file (None: unmatched), relative L2 errors 0..inf."""

    layer: str
    depth: int
    tensor: str | None = None
    rel_error: float | None = None
    rel_error_max: float | None = None


@dataclass
class Drift:
    """Drift of one variant file against the reference on ``photos`` photos (see the module docstring)."""

    variant: str
    photos: int
    tolerance: float
    probes: list[Probe] = field(default_factory=list)

    @property
    def matched(self) -> list[Probe]:
        return [p for p in self.probes if p.rel_error is not None]

    @property
    def first_beyond(self) -> Probe | None:
        """The first probe whose mean relative error exceeds the tolerance, or None."""
        return next((p for p in self.matched if p.rel_error > self.tolerance), None)

    def contributors(self, k: int = 3) -> list[tuple[str, float]]:
        """``[(layer, growth of the mean relative error over the probe before)]``, largest first, at most ``k``."""
        m, grown = self.matched, []
        for before, p in zip([None] + m[:-1], m):
            grown.append((p.layer, p.rel_error - (before.rel_error if before else 0.0)))
        return sorted(grown, key=lambda t: -t[1])[:k]

    def summary(self) -> str:
        first = self.first_beyond
        top = ", ".join(f"{n} (+{g:.1%})" for n, g in self.contributors() if g > 0)
        last = self.matched[-1] if self.matched else None
        head = (
            f"first beyond {self.tolerance:.0%}: {first.layer} (depth {first.depth}, {first.rel_error:.1%})"
            if first
            else f"every probe within {self.tolerance:.0%}"
        )
        tail = f"; at the output {last.rel_error:.1%}" if last else ""
        return f"{self.variant}: {head}{tail}; most added by {top or 'none'} ({self.photos} photos, {len(self.matched)} probes)"

    @classmethod
    def from_json(cls, d: dict, variant: str | None = None) -> "Drift":
        """A record written by :meth:`to_json` (a manifest's ``drift``), named ``variant`` if given."""
        probes = [
            Probe(p["layer"], p["depth"], p.get("tensor"), p.get("rel_error"), p.get("rel_error_max"))
            for p in d["probes"]
        ]
        return cls(variant or d["variant"], d["photos"], d["tolerance"], probes)

    def to_json(self) -> dict:
        first = self.first_beyond
        return {
            "variant": self.variant,
            "photos": self.photos,
            "tolerance": self.tolerance,
            "first_beyond": first.layer if first else None,
            "summary": self.summary(),
            "contributors": [{"layer": n, "added": round(g, 6)} for n, g in self.contributors()],
            "unmatched": [p.layer for p in self.probes if p.tensor is None],
            "probes": [
                {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(p).items()} for p in self.probes
            ],
        }


# -- the reference's probes -------------------------------------------------------------------------------------------


def _histories(obj) -> list[str]:
    """Layer names in a Keras 3 ``inbound_nodes`` config (every ``keras_history`` found in it)."""
    if isinstance(obj, dict):
        if "keras_history" in obj.get("config", {}):
            return [obj["config"]["keras_history"][0]]
        return [n for v in obj.values() for n in _histories(v)]
    if isinstance(obj, (list, tuple)):
        return [n for v in obj for n in _histories(v)]
    return []


def cut_points(model) -> list[str]:
    """Names of the layers of a functional ``model`` whose output is, when computed, the only live tensor (every path
    from the input to the output passes through it), in the model's layer order; input layers excluded."""
    layers = model.get_config()["layers"]
    inputs = {l["name"]: _histories(l.get("inbound_nodes", [])) for l in layers}
    consumers: dict[str, int] = {}
    for names in inputs.values():
        for n in names:
            consumers[n] = consumers.get(n, 0) + 1
    live: dict[str, int] = {}
    cuts = []
    for l in layers:
        name = l["name"]
        for n in inputs[name]:
            live[n] -= 1
            if live[n] == 0:
                del live[n]
        if consumers.get(name):
            live[name] = consumers[name]
        if inputs[name] and set(live) <= {name}:
            cuts.append(name)
    return cuts


def _kept(layer) -> bool:
    kind = type(layer).__name__
    if kind in KEPT:
        return True
    act = getattr(getattr(layer, "activation", None), "__name__", "linear")
    return kind in ("Conv2D", "Dense") and act not in ("linear", None)


class ReferenceProbes:
    """The reference's probe values for a batch of pixels: the outer model's layers in order, with the nested
    backbone's cut points in place of the backbone (see the module docstring)."""

    def __init__(self, model):
        import keras

        self.names, self._stages = [], []
        layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
        prefix: list = []
        for layer in layers:
            if isinstance(layer, keras.Model):  # the backbone: its own cut points
                cuts = [n for n in cut_points(layer) if _kept(layer.get_layer(n))]
                self._stages.append(("prefix", list(prefix)))
                # the probes, then the backbone's own output, which the outer layers continue from
                self._stages.append(
                    ("nested", keras.Model(layer.inputs, [layer.get_layer(n).output for n in cuts] + [layer.output]))
                )
                self.names += [f"{layer.name}/{n}" for n in cuts]
                prefix = []
                continue
            prefix.append(layer)
            if _kept(layer):
                self._stages.append(("prefix", list(prefix)))
                self.names.append(layer.name)
                prefix = []
        self._stages.append(("prefix", prefix))

    def run(self, pixels: np.ndarray) -> list[np.ndarray]:
        """``[N, S, S, 3]`` pixels -> each probe's ``[N, ...]`` float32 value, in :attr:`names` order."""
        x, out = np.asarray(pixels, dtype=np.float32), []
        for kind, stage in self._stages:
            if kind == "nested":
                values = [np.asarray(v, dtype=np.float32) for v in stage(x, training=False)]
                out += values[:-1]
                x = values[-1]
                continue
            for layer in stage:
                x = np.asarray(layer(x, training=False), dtype=np.float32)
            if stage and _kept(stage[-1]):
                out.append(x)
        return out


# -- matching and measuring -------------------------------------------------------------------------------------------


def _as_reference(value: np.ndarray, ref: np.ndarray) -> np.ndarray | None:
    """``value`` in ``ref``'s layout (itself, its NCHW -> NHWC transpose, or squeezed), or None when it cannot be."""
    if value.shape == ref.shape:
        return value
    if value.ndim == 4 and ref.ndim == 4 and value.shape == (ref.shape[0], ref.shape[3], ref.shape[1], ref.shape[2]):
        return value.transpose(0, 2, 3, 1)
    if value.size == ref.size and np.squeeze(value).shape == np.squeeze(ref).shape:
        return value.reshape(ref.shape)
    return None


def _rel(value: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm((value - ref).ravel()) / max(np.linalg.norm(ref.ravel()), 1e-12))


def match(names: list[str], refs: list[np.ndarray], tensors: list[tuple[str, np.ndarray]]) -> list[str | None]:
    """For each probe (``refs``: its values on one photo), the name of the file's tensor that holds it (see the module
    docstring), or None; matches keep the execution order. A tensor with a non-finite value (a buffer a runtime logged
    before writing it) matches nothing."""
    start, out = 0, []
    for ref in refs:
        best = None
        for i in range(start, len(tensors)):
            value = _as_reference(tensors[i][1], ref)
            if value is not None:
                err = _rel(value, ref)  # NaN or inf for a tensor holding non-finite values: never a match
                if np.isfinite(err) and (best is None or err < best[1]):
                    best = (i, err)
        if best is not None and best[1] > MATCH_LIMIT:
            best = None
        out.append(tensors[best[0]][0] if best else None)
        start = best[0] + 1 if best else start
    return out


def measure_drift(
    variant: str, reference: ReferenceProbes, file_tensors, pixels: np.ndarray, tolerance: float = TOLERANCE
) -> Drift:
    """Drift of one variant file against the reference.

    Args:
        variant: its name for people (``tflite/int8-full``).
        reference: the reference's probes; file_tensors: the file's tensors (an object whose ``run([1, S, S, 3])``
            gives ``[(name, array)]``, :mod:`carspotter.model.intermediates`).
        pixels: ``[N, S, S, 3]`` uint8 RGB, the reference's exact inputs (N >= 1).
        tolerance: mean relative L2 error beyond which a probe has drifted (0..1).

    Progress on stderr for 16 photos or more (:func:`carspotter.util.progress.progress`).

    Raises:
        ValueError: no photo.
    """
    if len(pixels) == 0:
        raise ValueError("drift needs at least one photo")
    errors: list[list[float]] = [[] for _ in reference.names]
    chosen: list[str | None] | None = None
    for k in progress(range(len(pixels)), len(pixels), f"drift of {variant}", min_total=16):
        px = pixels[k : k + 1]
        refs = reference.run(px)
        tensors = file_tensors.run(px)
        if chosen is None:
            chosen = match(reference.names, refs, tensors)
        values = dict(tensors)
        for j, (name, ref) in enumerate(zip(chosen, refs)):
            if name is not None:
                errors[j].append(_rel(_as_reference(values[name], ref), ref))
    probes = [
        Probe(layer, depth, name, float(np.mean(e)) if e else None, float(np.max(e)) if e else None)
        for depth, (layer, name, e) in enumerate(zip(reference.names, chosen, errors))
    ]
    return Drift(variant, len(pixels), tolerance, probes)


def drift_json(drifts: list[Drift]) -> str:
    """The drift records as JSON text (``drift.json``)."""
    return json.dumps({"drift": [d.to_json() for d in drifts]}, indent=1) + "\n"
