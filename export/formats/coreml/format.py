"""Core ML export: an ML program (.mlpackage, iOS 15+) with image input and classifier outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from carspotter.export.build import Build
from carspotter.export.formats.coreml.box import convert_with_box
from carspotter.export.platform_package import PlatformPackage, PlatformTexts
from carspotter.export.formats.coreml.inspect import coreml_structure
from carspotter.export.formats.coreml.library import LOGGERS, import_coremltools
from carspotter.export.formats.coreml.package import PACKAGE_TARGET, apple_os, swift_package
from carspotter.export.formats.coreml.readme import RESIZE_ADVICE, ROI_ADVICE, SELFTEST_TEXT, THRESHOLD_CODE, ios_readme
from carspotter.export.formats.coreml.drift import mil_intermediates
from carspotter.export.formats.coreml.runtime import COREML_PREDICT, MIL_BY_VARIANT, MIL_FP16, MIL_FP32
from carspotter.export.formats.coreml.mil_program import mil_op_counts
from carspotter.export.formats.coreml.mil_to_onnx import SUPPORTED_OPS
from carspotter.model.localizer import BOX_MEANING, BOX_OUTPUT
from carspotter.model.format_spec import (
    Checks,
    Conversion,
    CrossCheck,
    Execution,
    FormatOption,
    FormatSpec,
    Shipping,
    VariantSpec,
)
from carspotter.measure.sensitivity import SENSITIVITY_PHOTOS
from carspotter.util.quiet import quiet


@dataclass(frozen=True)
class Recipe:
    """How the Core ML converter makes one variant (a :class:`VariantSpec`'s ``recipe``).

    Attributes:
        target: the minimum deployment target it is converted for (``iOS15``; a compressed op needs ``iOS16`` or
            ``iOS18``).
        compress: the ``coremltools.optimize.coreml`` function that compresses its weights (``palettize_weights``,
            ``linear_quantize_weights``), ``mixed`` for the sensitivity-guided plan
            (:mod:`carspotter.export.formats.coreml.mixed`), or ``""``: not compressed.
        config: the compression's op config (``OpPalettizerConfig`` or ``OpLinearQuantizerConfig`` arguments).

    Palettization (``OpPalettizerConfig``: one k-means look-up table per weight tensor, or, iOS 18, one per 16 output
    channels) decompresses with ``constexpr_lut_to_dense`` (iOS 16 / iOS 18). One table per tensor serves InceptionV3
    badly: its convolutions carry the folded BatchNormalization scales, which differ per output channel, so a single
    table spends its entries on the large channels; 8-bit linear with ``constexpr_affine_dequantize`` (iOS 16); 4-bit
    block-wise (``granularity="per_block"``, a scale per 32 input channels) with ``constexpr_blockwise_shift_scale``,
    which appeared in iOS 18 (coremltools "Optimizing models: Palettization / Quantization" guides).
    """

    target: str = "iOS15"
    compress: str = ""
    config: tuple[tuple[str, object], ...] = ()


def _palettized(nbits: int, target: str = "iOS16", **more) -> Recipe:
    return Recipe(target, "palettize_weights", (("mode", "kmeans"), ("nbits", nbits), *more.items()))


def _linear(dtype: str, target: str = "iOS16", **more) -> Recipe:
    return Recipe(target, "linear_quantize_weights", (("mode", "linear_symmetric"), ("dtype", dtype), *more.items()))


def _convert(ct, build: Build, target_name: str):
    """``coremltools.convert`` of the Keras model to an uncompressed ML program for ``target_name`` (``iOS15``, ...)."""
    spec, variant = build.spec, build.variant
    size, target = (1, spec.size, spec.size, 3), getattr(ct.target, target_name)
    inputs = [ct.ImageType(name=spec.name, shape=size, color_layout=ct.colorlayout.RGB, scale=1.0, bias=[0.0] * 3)]
    precision = ct.precision.FLOAT32 if variant.mil_mode == "fp32" else ct.precision.FLOAT16
    if build.box_model is not None:
        return convert_with_box(ct, build, inputs, target, precision)
    with quiet(*LOGGERS):
        return ct.convert(
            build.model,
            inputs=inputs,
            classifier_config=ct.ClassifierConfig(list(build.labels)),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=precision,
        )


def export(build: Build, path: Path) -> dict:
    """Convert with ``coremltools.convert`` to an mlprogram and save ``path`` (.mlpackage).

    Input (``build.spec.name``): ``ImageType`` RGB, S x S, scale 1 and bias 0, so Vision
    (``VNCoreMLRequest``, ``imageCropAndScaleOption = .scaleFill``) can feed camera frames
    and the program sees raw 0..255 pixels; the model's own Rescaling layer does the rest.
    Outputs (``ClassifierConfig``): ``classLabel`` (string) and ``classLabel_probs``
    (dictionary class -> probability 0..1).

    Variants (``build.variant``): ``fp16`` compute precision (Core ML's default for
    mlprogram, weights stored fp16), ``fp32``, or a compressed-weight variant whose :class:`Recipe` names the
    compression (fp16 compute, weights compressed by ``coremltools.optimize.coreml``:
    8-bit linear, 6- or 4-bit palettized, 4-bit block-wise).

    Returns:
        Format facts for the manifest, including the MIL op types used and the minimum OS.
    """
    ct = import_coremltools()
    variant, spec, info = build.variant, build.spec, build.info
    recipe = variant.recipe or Recipe()
    target_name, compress = recipe.target, recipe.compress
    mlmodel = _convert(ct, build, target_name)
    plan = None
    if compress == "mixed":
        from carspotter.export.formats.coreml.mixed import compress as mixed

        mlmodel, plan = mixed(mlmodel, build)  # quiet inside, but for the sensitivity's progress
    elif compress:
        import coremltools.optimize.coreml as cto

        op_config = (cto.OpPalettizerConfig if compress == "palettize_weights" else cto.OpLinearQuantizerConfig)(
            **dict(recipe.config)
        )
        with quiet(*LOGGERS):
            mlmodel = getattr(cto, compress)(mlmodel, config=cto.OptimizationConfig(global_config=op_config))
    mlmodel.author, mlmodel.license, mlmodel.version = info.author, info.license, info.version
    mlmodel.short_description = info.description
    mlmodel.input_description[spec.name] = spec.describe() + " Vision: imageCropAndScaleOption = .scaleFill."
    mlmodel.output_description["classLabel"] = "Most likely class (make model body year)."
    mlmodel.output_description["classLabel_probs"] = "Probability 0..1 of every class."
    if build.box_model is not None:
        mlmodel.output_description[BOX_OUTPUT] = BOX_MEANING.capitalize() + "."
    mlmodel.user_defined_metadata["carspotter.preprocessing"] = json.dumps(spec.metadata())
    mlmodel.save(str(path))
    return {
        "variant": variant.name,
        "runtime": f"Core ML ({apple_os(target_name)})",
        "model_type": "mlprogram",
        "input": {"name": spec.name, "type": "ImageType RGB", "shape": [1, spec.size, spec.size, 3]},
        "output": {"name": "classLabel_probs", "type": "dictionary string -> probability", "label": "classLabel"},
        "ops": dict(sorted(mil_op_counts(mlmodel.get_spec()).items())),
        **({"plan": plan} if plan else {}),
        **({"box_output": {"name": BOX_OUTPUT, "shape": [1, 4], "meaning": BOX_MEANING}} if build.box_model else {}),
    }


def structure(path: Path) -> dict:
    """The .mlpackage read without running it (:func:`carspotter.export.formats.coreml.inspect.coreml_structure`), with the
    one-line summary and the facts parity records."""
    s = coreml_structure(path)
    return {
        **s,
        "summary": f"{sum(s['ops'].values())} MIL ops, {len(s['labels'])} labels",
        "facts": {"ops": s["ops"], "labels": len(s["labels"]), "spec_version": s["spec_version"]},
    }


def structure_expectations(s: dict, entry, manifest) -> dict[str, tuple]:
    """What parity's ``coreml/structure`` check wants of :func:`structure`: an ML program with an RGB image input of
    the bundle's size, the classifier outputs (and ``box`` when export recorded one) and labels, the op counts recorded at export, and no op the MIL
    execution cannot run."""
    spec = manifest.spec
    return {
        "model type": (s["model_type"], "mlProgram"),
        "input": (
            s["input"],
            {"name": spec.name, "kind": "imageType", "width": spec.size, "height": spec.size, "color": "RGB"},
        ),
        "outputs": (
            set(s["outputs"]),
            {"classLabel", "classLabel_probs"} | ({BOX_OUTPUT} if entry.facts.get("box_output") else set()),
        ),
        "classifier outputs": ((s["predicted_feature"], s["probabilities_output"]), ("classLabel", "classLabel_probs")),
        "classifier labels (against the manifest)": (s["labels"], manifest.labels),
        "op counts (against those recorded at export)": (s["ops"], entry.facts.get("ops")),
        "MIL ops the MIL execution does not run": (sorted(set(s["ops"]) - SUPPORTED_OPS), []),
    }


FORMAT = FormatSpec(
    name="coreml",
    title="Core ML",
    platform="ios",
    filename="CarSpotterModel.mlpackage",
    variants=(
        VariantSpec("fp16", "fp16", mil_mode="fp16"),
        VariantSpec("fp32", "fp32", mil_mode="fp32"),
        VariantSpec(
            "int8-weights", "int8", mil_mode="fp16", use="8-bit weights, fp16 compute (iOS 16+)", recipe=_linear("int8")
        ),
        VariantSpec(
            "palettized-6bit",
            "lowbit",
            mil_mode="fp16",
            use="6-bit palettized weights (iOS 16+)",
            recipe=_palettized(6),
        ),
        VariantSpec(
            "palettized-4bit",
            "lowbit",
            mil_mode="fp16",
            use="4-bit palettized weights (iOS 16+)",
            recipe=_palettized(4),
        ),
        VariantSpec(
            "palettized-mixed",
            "lowbit",
            mil_mode="fp16",
            calibration=True,
            calibration_limit=SENSITIVITY_PHOTOS,
            use="6-bit palettized weights, the layers most sensitive to it at 8 bits and the least at 4, "
            "planned from per-layer sensitivity on representative photos (iOS 16+)",
            recipe=Recipe("iOS16", "mixed"),
        ),
        VariantSpec(
            "palettized-4bit-grouped",
            "lowbit",
            mil_mode="fp16",
            default_ok=False,
            use="4-bit palettized weights, a table per 16 output channels: iOS 18+ / macOS 15+, above the "
            "package's iOS 16, so never the default; add it yourself in an iOS 18 app",
            recipe=_palettized(4, "iOS18", granularity="per_grouped_channel", group_size=16),
        ),
        VariantSpec(
            "int4-blockwise",
            "lowbit",
            mil_mode="fp16",
            default_ok=False,
            use="4-bit block-wise weights: iOS 18+ / macOS 15+, above the package's iOS 16, so never "
            "the default; add it yourself in an iOS 18 app",
            recipe=_linear("int4", "iOS18", granularity="per_block", block_size=32),
        ),
    ),
    baseline="fp16",
    order=10,
    conversion=Conversion(
        convert=export,
        deployment_target=PACKAGE_TARGET,
        options=(
            FormatOption(
                "--coreml-precision",
                ("fp16", "fp32"),
                None,
                "Core ML compute precision of the file built "
                "without --variants (default fp16, Core ML's own default for mlprogram)",
                picks_baseline=True,
            ),
        ),
        carries_box=True,
    ),
    execution=Execution(
        runtimes=(MIL_FP32, MIL_FP16, COREML_PREDICT),
        measure=MIL_BY_VARIANT,
        tools=(COREML_PREDICT, MIL_BY_VARIANT),
        device_mode="fp16",
        intermediates=mil_intermediates,
    ),
    checks=Checks(
        structure=structure,
        structure_expectations=structure_expectations,
        cross_checks=(CrossCheck("predict-vs-mil-reference", COREML_PREDICT, MIL_FP16, "fp16"),),
    ),
    shipping=Shipping(
        model_dir="Sources/CarSpotter",
        golden_in_package="Tests/CarSpotterTests/golden",
        app_package="swift",
        package=PlatformPackage(
            "coreml",
            readme=ios_readme,
            package=swift_package,
            texts=PlatformTexts(SELFTEST_TEXT, THRESHOLD_CODE, ' or the top-1 is "{name}"', RESIZE_ADVICE, ROI_ADVICE),
        ),
    ),
)
"""Core ML, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
