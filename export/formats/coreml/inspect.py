"""Core ML files read without running them (the structure parity checks), and whether ``predict`` can run here."""

from __future__ import annotations

import sys
from pathlib import Path

from carspotter.export.formats.coreml.library import import_coremltools


def coreml_predict_unavailable() -> str | None:
    """Why ``MLModel.predict`` cannot run here, or None where it can."""
    if sys.platform != "darwin":
        return f"Core ML predict needs macOS (coremltools runs MLModel.predict only on Apple platforms; this is {sys.platform})"
    return None


def coreml_structure(path: Path) -> dict:
    """Read an .mlpackage without running it: input, outputs, classifier labels, MIL op types.

    Returns:
        ``{"model_type", "input": {name, kind, width, height, color}, "outputs": [names],
        "predicted_feature", "probabilities_output", "labels": [...], "ops": {type: count},
        "spec_version"}``.
    """
    from carspotter.export.formats.coreml.mil_program import classifier_labels, mil_op_counts

    ct = import_coremltools()
    spec = ct.utils.load_spec(str(path))
    desc = spec.description
    inp = desc.input[0]
    image = inp.type.imageType
    return {
        "model_type": spec.WhichOneof("Type"),
        "spec_version": spec.specificationVersion,
        "input": {
            "name": inp.name,
            "kind": inp.type.WhichOneof("Type"),
            "width": image.width,
            "height": image.height,
            "color": ct.proto.FeatureTypes_pb2.ImageFeatureType.ColorSpace.Name(image.colorSpace),
        },
        "outputs": [o.name for o in desc.output],
        "predicted_feature": desc.predictedFeatureName,
        "probabilities_output": desc.predictedProbabilitiesName,
        "labels": classifier_labels(spec),
        "ops": dict(mil_op_counts(spec)),
    }
