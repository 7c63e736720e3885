"""What an exporter is given to write one variant file: :class:`Build`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from carspotter.model.format_spec import VariantSpec
from carspotter.model.spec import InputSpec


@dataclass(frozen=True)
class ModelInfo:
    """General model information written into every format's metadata."""

    name: str
    version: str
    author: str
    license: str
    description: str


@dataclass(frozen=True)
class Build:
    """One variant to build.

    Attributes:
        model: the Keras reference model, ``[N, S, S, 3]`` float32 raw pixels -> ``[N, C]`` probabilities.
        labels: C class names in index order.
        spec: the model's input spec (names, size, range), written into the file's metadata.
        info: general model information.
        variant: the variant to build (from :data:`carspotter.model.formats.FORMATS`).
        representative: ``[M, S, S, 3]`` uint8 training photos for calibrated variants, else None.
        options: the formats' own options by dest (:class:`carspotter.model.format_spec.FormatOption`), e.g. ONNX's
            ``onnx_opset``; each converter reads its own.
        conversions: conversions shared by the variants of one export, keyed by the exporter (ONNX:
            the tf2onnx graph per opset and batch shape, as serialized bytes), so variants derived from
            the same graph (fp16, int8-qdq and the ORT file from the fp32 graph) convert the Keras model
            once, and other work they share (:meth:`shared`). One dict per export, handed to each of its builds.
        source: the run's ``model.keras``, for a converter that reads the file in a process of its own (Core AI, on
            Keras' PyTorch backend); None where the model exists only in memory (tests).
        box_model: the two-output model (``probabilities``, ``box``: :mod:`carspotter.model.localizer`) when the run
            has a localizer and the format carries the box (``Conversion.carries_box``); the converter converts it
            instead of ``model``, which stays the classifier for what reads its layers (sensitivity plans). Else None.
    """

    model: object
    labels: list[str]
    spec: InputSpec
    info: ModelInfo
    variant: VariantSpec
    representative: np.ndarray | None = None
    options: dict = field(default_factory=dict)
    conversions: dict = field(default_factory=dict, compare=False, repr=False)
    source: Path | None = None
    box_model: object | None = None

    def shared(self, key: tuple, make):
        """``make()`` once per export under ``key`` in :attr:`conversions`: work several variants' builds need (the
        per-layer sensitivity both mixed plans read), then its result again for every later build."""
        if key not in self.conversions:
            self.conversions[key] = make()
        return self.conversions[key]
