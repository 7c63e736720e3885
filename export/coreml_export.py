"""Core ML export: an ML program (.mlpackage, iOS 15+) with image input and classifier outputs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from carspotter.export.quiet import import_coremltools, quiet

COREML_VARIANTS = ("fp16", "fp32", "int8-weights")


def export_coreml(model, labels: list[str], path: Path, info: dict, variant: str = "fp16") -> dict:
    """Convert with ``coremltools.convert`` to an mlprogram and save ``path`` (.mlpackage).

    Input ``image``: ``ImageType`` RGB, S x S, scale 1 and bias 0, so Vision
    (``VNCoreMLRequest``, ``imageCropAndScaleOption = .scaleFill``) can feed camera frames
    and the program sees raw 0..255 pixels; the model's own Rescaling layer does the rest.
    Outputs (``ClassifierConfig``): ``classLabel`` (string) and ``classLabel_probs``
    (dictionary class -> probability 0..1).

    Args:
        variant: ``"fp16"`` compute precision (Core ML's default for mlprogram, weights
            stored fp16), ``"fp32"``, or ``"int8-weights"``: fp16 compute with weights compressed to 8-bit linear symmetric
            (``coremltools.optimize.coreml.linear_quantize_weights``; iOS 16+, since the
            ``constexpr_affine_dequantize`` op appeared in iOS 16).

    Returns:
        Format facts for the manifest, including the MIL op types used.
    """
    ct = import_coremltools()

    if variant not in COREML_VARIANTS:
        raise ValueError(f"Core ML variant {variant!r}: choose one of {COREML_VARIANTS}")
    precision = "fp16" if variant == "int8-weights" else variant
    target = ct.target.iOS16 if variant == "int8-weights" else ct.target.iOS15
    size = model.input_shape[1]
    with quiet():
        mlmodel = ct.convert(
            model,
            inputs=[ct.ImageType(name="image", shape=(1, size, size, 3), color_layout=ct.colorlayout.RGB, scale=1.0, bias=[0.0, 0.0, 0.0])],
            classifier_config=ct.ClassifierConfig(list(labels)),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=ct.precision.FLOAT16 if precision == "fp16" else ct.precision.FLOAT32,
        )
    if variant == "int8-weights":
        import coremltools.optimize.coreml as cto

        config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8"))
        with quiet():
            mlmodel = cto.linear_quantize_weights(mlmodel, config=config)
    mlmodel.author = info["author"]
    mlmodel.license = info["license"]
    mlmodel.version = info["version"]
    mlmodel.short_description = info["description"]
    mlmodel.input_description["image"] = f"RGB photo, {size}x{size}, stretched to fill (Vision .scaleFill); raw pixels 0..255."
    mlmodel.output_description["classLabel"] = "Most likely class (make model body year)."
    mlmodel.output_description["classLabel_probs"] = "Probability 0..1 of every class."
    mlmodel.user_defined_metadata["carspotter.preprocessing"] = json.dumps({"resize": "stretch", "pixel_range": [0, 255], "color": "RGB"})
    mlmodel.save(str(path))
    return {"precision": "int8" if variant == "int8-weights" else precision, "variant": variant,
            "runtime": "Core ML (iOS 16+ / macOS 13+)" if variant == "int8-weights" else "Core ML (iOS 15+ / macOS 12+)",
            "model_type": "mlprogram",
            "input": {"name": "image", "type": "ImageType RGB", "shape": [1, size, size, 3]},
            "output": {"name": "classLabel_probs", "type": "dictionary string -> probability", "label": "classLabel"},
            "ops": dict(sorted(mil_op_counts(mlmodel.get_spec()).items()))}


def mil_op_counts(spec) -> Counter:
    """Count the MIL op types in an mlprogram spec's ``main`` function (ops in nested blocks too)."""
    counts: Counter = Counter()

    def walk(block):
        for op in block.operations:
            counts[op.type] += 1
            for inner in op.blocks:
                walk(inner)

    main = spec.mlProgram.functions["main"]
    for block in main.block_specializations.values():
        walk(block)
    return counts
