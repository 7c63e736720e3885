"""Core ML export: an ML program (.mlpackage, iOS 15+) with image input and classifier outputs."""

from __future__ import annotations

import json
from pathlib import Path

from carspotter.export.app_readmes import SELFTESTS, common
from carspotter.export.build import Build
from carspotter.model.mil_reference import mil_op_counts
from carspotter.model import runtimes
from carspotter.model.formats import FormatSpec, PlatformTexts, VariantSpec
from carspotter.model.spec import InputSpec
from carspotter.util.quiet import import_coremltools, quiet



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


def ios_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``ios/``: Core ML + Vision in Swift."""
    return f"""# carspotter for iOS (Core ML)

`{model_file}`: an ML program for iOS 15+ / macOS 12+. Drag it into Xcode; Xcode generates
a Swift class for it. Class labels are built in (`classLabel`, `classLabel_probs`);
`labels.txt` is the same list for reference.

```swift
import Vision
import CoreML

let config = MLModelConfiguration()          // .all: CPU, GPU and Neural Engine
let coreMLModel = try CarSpotter(configuration: config).model
let request = VNCoreMLRequest(model: try VNCoreMLModel(for: coreMLModel)) {{ request, _ in
    let top3 = (request.results as? [VNClassificationObservation] ?? []).prefix(3)
    for c in top3 {{ print(c.identifier, c.confidence) }}
}}
request.imageCropAndScaleOption = .scaleFill  // stretch, as in training
let handler = VNImageRequestHandler(cgImage: photo, orientation: exifOrientation)
try handler.perform([request])
```

Vision resizes and converts the photo; pass the photo's EXIF orientation.

{common(spec, n_classes)}"""


_SELFTEST_TEXT = """## Self-test on your device (`CarSpotterSelfTest.swift`)

Add `CarSpotterSelfTest.swift` to your app's XCTest target and the bundle's `golden/` folder to
that target as a folder reference; run the tests (Cmd-U) on a device. For each golden photo it
checks the **exact input** (`golden/NNN.png` through Vision: the top-3 rule with the fp16
tolerances of `golden/expected.json`) and the **app path** (`golden/NNN.jpg` with its EXIF
orientation, scaled by Vision `.scaleFill`). A failure of the exact input means Core ML on this
device computes something else than the reference (wrong model file, compute units); a failure
of the app path means Vision's scaling of photos moves the answer. Not compiled on the project's
machines (Linux): written against the iOS 15 Vision, Core ML and XCTest APIs.
"""

_THRESHOLD_CODE = """```swift
let best = top3.first!
if best.confidence < {t}{neg} {{
    showMessage("Not sure: take a closer photo of the car")
}} else {{
    show(best.identifier, best.confidence)
}}
```"""

_RESIZE_ADVICE = """Vision's `.scaleFill` stretches both sides to the input; Apple documents that it "scales the image to
fill the input dimensions", not which filter it uses, so it cannot be measured on the machines that build
this bundle (Linux) and is not in the table. The reference is MediaPipe's resize (bilinear, no
antialiasing, output pixel x sampled at x * width / size); the rows below show how far other filters
move the answers (`pillow-antialias` and `sharp` are antialiased filters of the kind Core Image uses).
To be sure on a device, run the self-test: its app path puts Vision's scaling under the same check."""


FORMAT = FormatSpec(
    name="coreml", title="Core ML", platform="ios", filename="CarSpotter.mlpackage",
    variants=(VariantSpec("fp16", "fp16", mil_mode="fp16"), VariantSpec("fp32", "fp32", mil_mode="fp32"),
              VariantSpec("int8-weights", "int8", mil_mode="fp16")),
    baseline="fp16", preference=("fp16", "fp32", "int8-weights"),
    reason="Core ML's default precision for ML programs, runs on GPU and Neural Engine, half the size of fp32",
    runtimes=(runtimes.MIL_FP32, runtimes.MIL_FP16, runtimes.COREML_PREDICT), measure=runtimes.MIL_BY_VARIANT,
    tools=(runtimes.COREML_PREDICT, runtimes.MIL_BY_VARIANT),
    convert=export, readme=ios_readme, selftest=SELFTESTS / "CarSpotterSelfTest.swift",
    texts=PlatformTexts(_SELFTEST_TEXT, _THRESHOLD_CODE, ' || best.identifier == "{name}"', _RESIZE_ADVICE),
    device_mode="fp16", order=10)
"""Core ML, registered through the ``carspotter.formats`` entry point (pyproject.toml)."""
