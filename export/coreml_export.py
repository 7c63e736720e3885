"""Core ML export: an ML program (.mlpackage, iOS 15+) with image input and classifier outputs."""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.export.app_readmes import ios_readme as readme  # noqa: F401  (the format's README, see formats.py)
from carspotter.export.build import Build
from carspotter.mil_reference import mil_op_counts
from carspotter.quiet import import_coremltools, quiet

SELFTEST = "CarSpotterSelfTest.swift"
"""The app self-test shipped next to the model (from ``export/selftests/``) when the bundle has a golden set."""


def export(build: Build, path: Path) -> dict:
    """Convert with ``coremltools.convert`` to an mlprogram and save ``path`` (.mlpackage).

    Input (``build.spec.name``): ``ImageType`` RGB, S x S, scale 1 and bias 0, so Vision
    (``VNCoreMLRequest``, ``imageCropAndScaleOption = .scaleFill``) can feed camera frames
    and the program sees raw 0..255 pixels; the model's own Rescaling layer does the rest.
    Outputs (``ClassifierConfig``): ``classLabel`` (string) and ``classLabel_probs``
    (dictionary class -> probability 0..1).

    Variants (``build.variant.name``): ``fp16`` compute precision (Core ML's default for
    mlprogram, weights stored fp16), ``fp32``, or ``int8-weights``: fp16 compute with weights
    compressed to 8-bit linear symmetric (``coremltools.optimize.coreml.linear_quantize_weights``;
    iOS 16+, since the ``constexpr_affine_dequantize`` op appeared in iOS 16).

    Returns:
        Format facts for the manifest, including the MIL op types used.
    """
    ct = import_coremltools()
    variant, spec, info = build.variant, build.spec, build.info
    compressed = variant.name == "int8-weights"
    target = ct.target.iOS16 if compressed else ct.target.iOS15
    with quiet():
        mlmodel = ct.convert(
            build.model,
            inputs=[ct.ImageType(name=spec.name, shape=(1, spec.size, spec.size, 3), color_layout=ct.colorlayout.RGB,
                                 scale=1.0, bias=[0.0, 0.0, 0.0])],
            classifier_config=ct.ClassifierConfig(list(build.labels)),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=ct.precision.FLOAT32 if variant.mil_mode == "fp32" else ct.precision.FLOAT16,
        )
    if compressed:
        import coremltools.optimize.coreml as cto

        config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
        with quiet():
            mlmodel = cto.linear_quantize_weights(mlmodel, config=config)
    mlmodel.author, mlmodel.license, mlmodel.version = info.author, info.license, info.version
    mlmodel.short_description = info.description
    mlmodel.input_description[spec.name] = spec.describe() + " Vision: imageCropAndScaleOption = .scaleFill."
    mlmodel.output_description["classLabel"] = "Most likely class (make model body year)."
    mlmodel.output_description["classLabel_probs"] = "Probability 0..1 of every class."
    mlmodel.user_defined_metadata["carspotter.preprocessing"] = json.dumps(spec.metadata())
    mlmodel.save(str(path))
    os_min = "iOS 16+ / macOS 13+" if compressed else "iOS 15+ / macOS 12+"
    return {"variant": variant.name, "runtime": f"Core ML ({os_min})", "model_type": "mlprogram",
            "input": {"name": spec.name, "type": "ImageType RGB", "shape": [1, spec.size, spec.size, 3]},
            "output": {"name": "classLabel_probs", "type": "dictionary string -> probability", "label": "classLabel"},
            "ops": dict(sorted(mil_op_counts(mlmodel.get_spec()).items()))}
