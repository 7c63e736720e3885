"""TFLite export (fp32, fp16, dynamic-range int8, full-integer int8) with MediaPipe metadata."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from carspotter.export.formats.tflite.delivery import DEFAULT_DELIVERY, DELIVERY_TYPES
from carspotter.export.build import Build
from carspotter.export.package_names import android_assets
from carspotter.export.formats.tflite import package as android
from carspotter.export.formats.tflite.accelerators import NOTE, accelerator_cells
from carspotter.export.formats.tflite.drift import litert_intermediates
from carspotter.export.formats.tflite.metadata import add_classifier_metadata
from carspotter.export.formats.tflite.readme import (
    RESIZE_ADVICE,
    ROI_ADVICE,
    SELFTEST_TEXT,
    THRESHOLD_CODE,
    android_readme,
)
from carspotter.export.formats.tflite.runtime import LITERT, MEDIAPIPE
from carspotter.export.platform_package import PlatformPackage, PlatformTexts
from carspotter.measure.resizers import AppPath
from carspotter.model.reference_resize import box_reduce
from carspotter.model.format_spec import Checks, Conversion, Execution, FormatOption, FormatSpec, Shipping, VariantSpec
from carspotter.model.localizer import BOX_MEANING, BOX_OUTPUT
from carspotter.util.quiet import quiet


@dataclass(frozen=True)
class Recipe:
    """How the TFLite converter makes one variant (a :class:`VariantSpec`'s ``recipe``; TensorFlow Lite's
    post-training quantization guide).

    Attributes:
        optimize: ``Optimize.DEFAULT``: int8 weights with float activations (dynamic range) unless a field below asks
            for more.
        fp16: float16 weights (``target_spec.supported_types = [float16]``).
        full_integer: int8 weights and activations calibrated on the representative photos, uint8 input (raw pixels)
            and output (probability ``q / 256``), as NNAPI and the Edge TPU compiler expect.
    """

    optimize: bool = False
    fp16: bool = False
    full_integer: bool = False


def _saved_model(build: Build) -> str:
    """The model (the two-output one when the file carries the box) exported once per export as a SavedModel
    (``keras.Model.export``, what ``TFLiteConverter.from_keras_model`` writes each time it is called), in a temporary
    folder shared by the variants' builds (:meth:`Build.shared`) and removed when the export's conversions are."""
    import tempfile

    model = build.box_model or build.model

    def export_once():
        folder = tempfile.TemporaryDirectory(prefix="carspotter-tflite-")
        with quiet():
            model.export(folder.name, verbose=False)
        return folder

    return build.shared(("tflite", "saved_model", build.box_model is not None), export_once).name


def _converter(build: Build, recipe: Recipe):
    """``TFLiteConverter.from_saved_model`` of the export's SavedModel, set up by the variant's ``recipe`` (TensorFlow
    Lite post-training quantization guide)."""
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(_saved_model(build))
    if recipe.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if recipe.fp16:
        converter.target_spec.supported_types = [tf.float16]
    if recipe.full_integer:
        representative = build.representative
        if representative is None or len(representative) == 0:
            raise ValueError(f"{build.variant.name} needs representative photos")

        def samples():
            for px in representative:
                yield [px[None].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Integer input and output, as NNAPI and the Edge TPU compiler expect: raw pixels in,
        # probabilities out as uint8 (scale 1/256, zero point 0, the softmax's fixed output range).
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    return converter


def export(build: Build, path: Path) -> dict:
    """Convert the reference model with ``TFLiteConverter`` (from its SavedModel, exported once per export) and add
    metadata.

    Variants: ``fp32``; ``fp16`` (float16 weights); ``int8-dynamic`` (dynamic-range: int8
    weights, float activations); ``int8-full`` (full integer: int8 weights, per channel for
    convolutions, the TFLite converter's default, and int8 activations calibrated on
    ``build.representative``; uint8 input taking raw pixels 0..255, uint8 output: probability
    ``q / 256``).

    Returns:
        Format facts for the manifest: input/output tensors, runtime, metadata.

    Raises:
        ValueError: a full-integer variant (``int8-full``) without representative photos.
    """
    recipe = build.variant.recipe or Recipe()
    with quiet(), warnings.catch_warnings():
        # Full-integer conversion with a uint8 input warns that input statistics were not
        # given; it derives them from the representative photos (0..255 -> scale 1.0,
        # zero point 0: raw pixels exactly), checked in tests/test_variants.py.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        flat = _converter(build, recipe).convert()
    if build.box_model is not None:
        flat = probabilities_first(flat)
    info, spec = build.info, build.spec
    io = "uint8" if recipe.full_integer else "float32"
    flat = add_classifier_metadata(
        flat,
        build.labels,
        name=info.name,
        version=info.version,
        description=info.description,
        author=info.author,
        license=info.license,
        input_description=spec.describe(),
        box=build.box_model is not None,
    )
    path.write_bytes(flat)
    return {
        "variant": build.variant.name,
        "runtime": "LiteRT / TensorFlow Lite (MediaPipe Tasks ImageClassifier)",
        "input": {
            "name": spec.name,
            "dtype": io,
            "shape": [1, spec.size, spec.size, 3],
        },
        "output": {
            "name": spec.output_name,
            "dtype": io,
            "shape": [1, len(build.labels)],
        },
        "metadata": "TFLite metadata (MediaPipe schema): normalization mean 0 std 1, labels.txt packed",
        **({"box_output": _BOX_FACTS} if build.box_model is not None else {}),
    }


_BOX_FACTS = {
    "index": 1,
    "shape": [1, 4],
    "meaning": f"{BOX_MEANING}; MediaPipe reports it as classification head 1, '{BOX_OUTPUT}', category index = "
    "coordinate",
}


def probabilities_first(flat: bytes) -> bytes:
    """The two-output file with its subgraph's outputs in the Keras model's order: ``probabilities`` (output 0, the one
    MediaPipe's ImageClassifier and the package's Interpreter read as the classes), then ``box`` (output 1).

    TFLiteConverter lists a two-output model's outputs box first; the signature's ``output_0`` / ``output_1`` keep the
    Keras order, so the subgraph's outputs are rewritten to follow them (``tensorflow.lite.tools.flatbuffer_utils``).

    Raises:
        ValueError: the file does not have exactly the two signature outputs ``output_0`` and ``output_1``.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flat))
    signature = model.signatureDefs[0]
    named = {
        bytes(t.name).decode() if not isinstance(t.name, str) else t.name: t.tensorIndex for t in signature.outputs
    }
    if sorted(named) != ["output_0", "output_1"]:
        raise ValueError(f"a two-output TFLite file has signature outputs {sorted(named)}, not output_0 and output_1")
    model.subgraphs[signature.subgraphIndex].outputs = [named["output_0"], named["output_1"]]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


APP_PATHS = (
    AppPath(
        "mediapipe",
        "Android package: box pre-reduction, then MediaPipe Tasks ImageClassifier resizing",
        None,
        MEDIAPIPE.unavailable,
        given=box_reduce,
    ),
    AppPath(
        "mediapipe-bare",
        "Android app without the package: the whole photo to MediaPipe Tasks ImageClassifier",
        None,
        MEDIAPIPE.unavailable,
        given=lambda rgb, size: rgb,
    ),
)
"""The app paths that hand MediaPipe's ImageClassifier the photo (:data:`carspotter.measure.resizers.PATHS`)."""


def accelerators(path: Path) -> dict:
    """GPU-delegate compatibility of a variant file (LiteRT's analyzer: :mod:`.accelerators`)."""
    from carspotter.export.formats.tflite.accelerators import litert_gpu_compatibility

    return litert_gpu_compatibility(path)


FORMAT = FormatSpec(
    name="tflite",
    title="TFLite",
    platform="android",
    filename="carspotter.tflite",
    variants=(
        VariantSpec("fp32", "fp32", recipe=Recipe()),
        VariantSpec("fp16", "fp16", use="GPU delegate: fp16 weights, as it computes", recipe=Recipe(True, fp16=True)),
        VariantSpec("int8-dynamic", "int8", use="CPU (XNNPACK): int8 weights, float activations", recipe=Recipe(True)),
        VariantSpec(
            "int8-full",
            "int8",
            calibration=True,
            use="NNAPI / Edge TPU / Hexagon: integer throughout, uint8 input and output",
            recipe=Recipe(True, full_integer=True),
        ),
    ),
    baseline="fp32",
    order=20,
    conversion=Conversion(
        convert=export,
        options=(
            FormatOption(
                "--ai-pack-delivery",
                DELIVERY_TYPES,
                DEFAULT_DELIVERY,
                "delivery type of the bundle's Play for On-device AI pack (android/aipack/): install-time, "
                "fast-follow or on-demand (default)",
            ),
        ),
        carries_box=True,
    ),
    execution=Execution(
        runtimes=(LITERT, MEDIAPIPE),
        photo_runtime=MEDIAPIPE,
        intermediates=litert_intermediates,
    ),
    checks=Checks(
        accelerators=accelerators,
        accelerator_cells=accelerator_cells,
        accelerator_note=NOTE,
    ),
    shipping=Shipping(
        app_paths=APP_PATHS,
        model_dir="src/main/assets/carspotter",
        model_dir_for=lambda name: f"src/main/assets/{android_assets(name)}",
        app_package="android",
        app_model_rank=2,
        package=PlatformPackage(
            "tflite",
            readme=android_readme,
            package=android.android_library,
            texts=PlatformTexts(SELFTEST_TEXT, THRESHOLD_CODE, ' or the top-1 is "{name}"', RESIZE_ADVICE, ROI_ADVICE),
        ),
    ),
)
"""TFLite, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
