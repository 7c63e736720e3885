"""TFLite export (fp32, fp16, dynamic-range int8, full-integer int8) with MediaPipe metadata."""

from __future__ import annotations

import warnings
from pathlib import Path

from carspotter.export.app_readmes import SELFTESTS, common
from carspotter.export.build import Build
from carspotter.export.tflite_metadata import add_classifier_metadata
from carspotter.model import runtimes
from carspotter.model.formats import FormatSpec, PlatformTexts, VariantSpec
from carspotter.model.spec import InputSpec
from carspotter.util.quiet import quiet



def _converter(build: Build):
    """``TFLiteConverter.from_keras_model`` set up for the variant (TensorFlow Lite post-training quantization guide)."""
    import numpy as np
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(build.model)
    name = build.variant.name
    if name != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if name == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if name == "int8-full":
        representative = build.representative
        if representative is None or len(representative) == 0:
            raise ValueError("int8-full needs representative photos")

        def samples():
            for px in representative:
                yield [px[None].astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    return converter


def export(build: Build, path: Path) -> dict:
    """Convert the reference model with ``TFLiteConverter.from_keras_model`` and add metadata.

    Variants: ``fp32``; ``fp16`` (float16 weights); ``int8-dynamic`` (dynamic-range: int8
    weights, float activations); ``int8-full`` (full integer: int8 weights and activations
    calibrated on ``build.representative``, uint8 input taking raw pixels 0..255, float32 output).

    Returns:
        Format facts for the manifest: input/output tensors, runtime, metadata.

    Raises:
        ValueError: ``int8-full`` without representative photos.
    """
    with quiet(), warnings.catch_warnings():
        # Full-integer conversion with a uint8 input warns that input statistics were not
        # given; it derives them from the representative photos (0..255 -> scale 1.0,
        # zero point 0: raw pixels exactly), checked in tests/test_variants.py.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        flat = _converter(build).convert()
    info, spec = build.info, build.spec
    flat = add_classifier_metadata(flat, build.labels, name=info.name, version=info.version, description=info.description,
                                   author=info.author, license=info.license, input_description=spec.describe())
    path.write_bytes(flat)
    return {"variant": build.variant.name, "runtime": "LiteRT / TensorFlow Lite (MediaPipe Tasks ImageClassifier)",
            "input": {"name": spec.name, "dtype": "uint8" if build.variant.name == "int8-full" else "float32",
                      "shape": [1, spec.size, spec.size, 3]},
            "output": {"name": spec.output_name, "dtype": "float32", "shape": [1, len(build.labels)]},
            "metadata": "TFLite metadata (MediaPipe schema): normalization mean 0 std 1, labels.txt packed"}


def android_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``android/``: TFLite with MediaPipe Tasks in Kotlin."""
    size = spec.size
    return f"""# carspotter for Android (TFLite)

`{model_file}`: float32 TFLite model with metadata (labels, image normalization), ready for
MediaPipe Tasks' `ImageClassifier`. Put it in `app/src/main/assets/`.

```kotlin
// implementation("com.google.mediapipe:tasks-vision:0.10.+")
val options = ImageClassifier.ImageClassifierOptions.builder()
    .setBaseOptions(BaseOptions.builder().setModelAssetPath("{model_file}").build())
    .setMaxResults(3)
    .build()
val classifier = ImageClassifier.createFromOptions(context, options)
val result = classifier.classify(BitmapImageBuilder(uprightBitmap).build())
result.classificationResult().classifications()[0].categories().forEach {{
    Log.i("carspotter", "${{it.categoryName()}} ${{it.score()}}")
}}
```

MediaPipe reads the labels and the normalization (mean 0, std 1: raw pixels) from the
model's metadata and stretches the image to the input size. Rotate the bitmap upright
(EXIF) first. Plain LiteRT `Interpreter` works too: feed `[1, {size}, {size}, 3]` {spec.dtype},
and set the threads (`Interpreter.Options().setNumThreads(4)`): left at its default LiteRT
runs one thread, which measured 1.9x slower than two for this model on a desktop CPU
(53 against 28 ms at 299 px).

{common(spec, n_classes)}"""


_SELFTEST_TEXT = """## Self-test on your device (`CarSpotterSelfTest.kt`)

Copy `golden/` to `app/src/androidTest/assets/golden/`, add `CarSpotterSelfTest.kt` to
`app/src/androidTest/java/<your package>/` (change its package line), and run
`./gradlew connectedAndroidTest`. For each golden photo it checks the **exact input**
(`golden/NNN.png`, already at the input size, so MediaPipe does not resize it: the top-3 rule
with the tolerances of `golden/expected.json`) and the **app path** (`golden/NNN.jpg` rotated
upright and resized by MediaPipe itself). A failure of the exact input means the runtime on this
device (CPU or GPU delegate) computes something else than the reference; a failure of the app
path means MediaPipe's resizing moves the answer. Not compiled on the project's machines (no
Android SDK there): written against MediaPipe Tasks Vision 0.10, AndroidX Test and ExifInterface.
"""

_THRESHOLD_CODE = """```kotlin
val best = result.classificationResult().classifications()[0].categories()[0]
if (best.score() < {t}f{neg}) {{
    showMessage("Not sure: take a closer photo of the car")
}} else {{
    show(best.categoryName(), best.score())
}}
```"""

_RESIZE_ADVICE = """Use MediaPipe's `ImageClassifier` on the whole upright bitmap and let it resize: its resize
(OpenCV `warpPerspective`, bilinear, no antialiasing, output x sampled at x * w / S: the "asymmetric" mapping) **is** the reference's, pixel for
pixel (tested against MediaPipe itself), so the `mediapipe` row below is what your users get. If you feed
the LiteRT `Interpreter` yourself, any other resizer (`Bitmap.createScaledBitmap`, a GPU texture) moves
some answers, as the other rows show for the resizers measured here. Decoding a large photo at a reduced
size first (`inSampleSize`) is fine: the reference does the same for JPEGs 8x the input side."""


FORMAT = FormatSpec(
    name="tflite", title="TFLite", platform="android", filename="carspotter.tflite",
    variants=(VariantSpec("fp32", "fp32"), VariantSpec("fp16", "fp16"), VariantSpec("int8-dynamic", "int8"),
              VariantSpec("int8-full", "int8", calibration=True)),
    # Half the size of fp32 with fp32 accuracy, and ready for the GPU delegate; the int8
    # variants ship beside it for CPU-bound apps (4x smaller, several times faster on CPU).
    baseline="fp32", preference=("fp16", "fp32", "int8-dynamic", "int8-full"),
    reason="first passing of fp16 (half size, fp32 accuracy, GPU-delegate ready), fp32, int8",
    runtimes=(runtimes.LITERT, runtimes.MEDIAPIPE),
    convert=export, readme=android_readme, selftest=SELFTESTS / "CarSpotterSelfTest.kt",
    texts=PlatformTexts(_SELFTEST_TEXT, _THRESHOLD_CODE, ' || best.categoryName() == "{name}"', _RESIZE_ADVICE),
    order=20)
"""TFLite, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
