"""Short READMEs for app developers, one per platform folder of a bundle.

Only values we control go into the text (file names, sizes, counts); class names are
never pasted into code samples: apps read them from ``labels.txt``.
"""

from __future__ import annotations

from carspotter.runfolder import Confidence
from carspotter.spec import PIXEL_RANGE, InputSpec


def _common(spec: InputSpec, n_classes: int) -> str:
    """Input and output sections, from the model's input spec."""
    s = spec.size
    return f"""## Input
- `{spec.name}`: an {spec.color} photo, EXIF orientation applied, resized to {s}x{s} by **stretching**
  (aspect ratio not kept) with MediaPipe's resize (bilinear, no antialiasing; see "Resizing"). Pixel values are raw **{PIXEL_RANGE[0]}..{PIXEL_RANGE[1]}**: do not
  normalize, the model rescales inside itself.
- Layout {spec.layout} `[1, {s}, {s}, 3]`, {spec.dtype}.

## Output
Probabilities 0..1 for {n_classes} classes, in the order of `labels.txt` (UTF-8, one class per
line, line k = index k). Show the top 3: the model is trained and checked for top-3.
"""


_SELFTEST = {
    "ios": """## Self-test on your device (`CarSpotterSelfTest.swift`)

Add `CarSpotterSelfTest.swift` to your app's XCTest target and the bundle's `golden/` folder to
that target as a folder reference; run the tests (Cmd-U) on a device. For each golden photo it
checks the **exact input** (`golden/NNN.png` through Vision: the top-3 rule with the fp16
tolerances of `golden/expected.json`) and the **app path** (`golden/NNN.jpg` with its EXIF
orientation, scaled by Vision `.scaleFill`). A failure of the exact input means Core ML on this
device computes something else than the reference (wrong model file, compute units); a failure
of the app path means Vision's scaling of photos moves the answer. Not compiled on the project's
machines (Linux): written against the iOS 15 Vision, Core ML and XCTest APIs.
""",
    "android": """## Self-test on your device (`CarSpotterSelfTest.kt`)

Copy `golden/` to `app/src/androidTest/assets/golden/`, add `CarSpotterSelfTest.kt` to
`app/src/androidTest/java/<your package>/` (change its package line), and run
`./gradlew connectedAndroidTest`. For each golden photo it checks the **exact input**
(`golden/NNN.png`, already at the input size, so MediaPipe does not resize it: the top-3 rule
with the tolerances of `golden/expected.json`) and the **app path** (`golden/NNN.jpg` rotated
upright and resized by MediaPipe itself). A failure of the exact input means the runtime on this
device (CPU or GPU delegate) computes something else than the reference; a failure of the app
path means MediaPipe's resizing moves the answer. Not compiled on the project's machines (no
Android SDK there): written against MediaPipe Tasks Vision 0.10, AndroidX Test and ExifInterface.
""",
    "onnx": """## Self-test in your JavaScript runtime (`selftest.mjs`)

Node: `npm install onnxruntime-node sharp` in your project, then
`node path/to/bundle/onnx/selftest.mjs path/to/bundle` (exit 0 pass, 1 fail, 2 cannot run).
React Native and web: `import { runSelfTest } from './selftest.mjs'` and pass your `ort`
module, a text reader and your image loaders (the checks are the same code). It checks the
**exact input** (`golden/NNN.png`: the top-3 rule with the tolerances of
`golden/expected.json`; a failure means the runtime computes something else than the
reference) and the **app path** (`golden/NNN.jpg` decoded, rotated and stretched by your image
library; photos with a reference margin of at least 0.25 must keep their top-1, and the pixel
drift is printed; a failure means your resizing moves the answer).
""",
}


def selftest_section(platform: str) -> str:
    """How to run the platform's self-test and what a failure means (bundles with a golden set)."""
    return "\n" + _SELFTEST[platform]


def ios_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``ios/``: Core ML + Vision in Swift."""
    size = spec.size
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

{_common(spec, n_classes)}"""


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

{_common(spec, n_classes)}"""


def onnx_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``onnx/``: ONNX Runtime (Python, React Native, web)."""
    size = spec.size
    return f"""# carspotter for ONNX Runtime (React Native, web, desktop, server)

`{model_file}`: ONNX model. Input `{spec.name}` `[N, {size}, {size}, 3]` {spec.dtype}, output
`{spec.output_name}` `[N, {n_classes}]`. Labels are also in the model's `metadata_props`
(`labels`, a JSON list).

React Native (`onnxruntime-react-native`):

```js
import {{ InferenceSession, Tensor }} from 'onnxruntime-react-native';
const session = await InferenceSession.create(modelPath);
const input = new Tensor('float32', rgbPixels /* Float32Array, 0..255, HWC */, [1, {size}, {size}, 3]);
const output = await session.run({{ {spec.name}: input }});
const probabilities = output.{spec.output_name}.data;  // index k = line k of labels.txt
```

Python:

```python
import onnxruntime as ort
session = ort.InferenceSession("{model_file}")
probabilities = session.run(["{spec.output_name}"], {{"{spec.name}": pixels.astype("float32")}})[0]
```

{_common(spec, n_classes)}"""


_THRESHOLD_CODE = {
    "ios": """```swift
let best = top3.first!
if best.confidence < {t}{neg_swift} {{
    showMessage("Not sure: take a closer photo of the car")
}} else {{
    show(best.identifier, best.confidence)
}}
```""",
    "android": """```kotlin
val best = result.classificationResult().classifications()[0].categories()[0]
if (best.score() < {t}f{neg_kotlin}) {{
    showMessage("Not sure: take a closer photo of the car")
}} else {{
    show(best.categoryName(), best.score())
}}
```""",
    "onnx": """```js
const best = probabilities.indexOf(Math.max(...probabilities));
if (probabilities[best] < {t}{neg_js}) {{
  showMessage('Not sure: take a closer photo of the car');
}} else {{
  show(labels[best], probabilities[best]);
}}
```""",
}


_RESIZE_ADVICE = {
    "android": """Use MediaPipe's `ImageClassifier` on the whole upright bitmap and let it resize: its resize
(OpenCV `warpPerspective`, bilinear, no antialiasing, corners aligned) **is** the reference's, pixel for
pixel (tested against MediaPipe itself), so the `mediapipe` row below is what your users get. If you feed
the LiteRT `Interpreter` yourself, any other resizer (`Bitmap.createScaledBitmap`, a GPU texture) moves
some answers, as the other rows show for the resizers measured here. Decoding a large photo at a reduced
size first (`inSampleSize`) is fine: the reference does the same for JPEGs 8x the input side.""",
    "ios": """Vision's `.scaleFill` stretches both sides to the input; Apple documents that it "scales the image to
fill the input dimensions", not which filter it uses, so it cannot be measured on the machines that build
this bundle (Linux) and is not in the table. The reference is MediaPipe's resize (bilinear, no
antialiasing, output pixel x sampled at x * width / size); the rows below show how far other filters
move the answers (`pillow-antialias` and `sharp` are antialiased filters of the kind Core Image uses).
To be sure on a device, run the self-test: its app path puts Vision's scaling under the same check.""",
    "onnx": """Resize in your code, before the model. Python: `carspotter.photos.resize` (OpenCV 4
`warpPerspective`, the reference, exact). Node / React Native: sharp with `fit: 'fill'` is the `sharp`
row (its default lanczos3 kernel); a canvas `drawImage` stretch or another library is not measured
here: compare with the self-test's app path. The closer your resizer is to the reference (bilinear,
no antialiasing, corners aligned), the higher its agreement.""",
}


def resize_section(platform: str, rows: list[dict], photos: int) -> str:
    """"Resizing": which resize to use on the platform, with every app path's measured agreement
    (rows of the manifest's ``app_paths``; empty when nothing was measured)."""
    if not rows:
        return ""
    lines = ["", "## Resizing", "", _RESIZE_ADVICE[platform], "",
             f"Measured at export on the run's {photos} test photos (original files, each resized by the path, then "
             "an fp32 model; agreement = same top-1 as the reference on our pixels; gate: top-1 agreement >= 98 % and "
             "top-1 accuracy within 1 point of the reference):", "",
             "| path | who resizes this way | top-1 agreement | ordered top-3 agreement | top-1 (reference) | max abs dp | gate |",
             "|---|---|---:|---:|---|---:|---|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['path']} | {r['client']} | not measured: {r['skipped']} | | | | |")
            continue
        acc = f"{r['top1']:.1%} ({r['reference_top1']:.1%})" if r.get("top1") is not None else "-"
        lines.append(f"| {r['path']} | {r['client']} | {r['top1_agreement']:.1%} | {r['top3_agreement']:.1%} | {acc} | "
                     f"{r['max_abs_diff']:.3f} | {'passes' if r['gate_passed'] else 'misses'} |")
    return "\n".join(lines) + "\n"


def _pct(x: float | None) -> str:
    return "not measured" if x is None else f"{x:.1%}"


def confidence_section(platform: str, conf: Confidence | None) -> str:
    """"When to show the answer": the run's calibrated threshold and what it keeps, with the
    platform's code (README section; empty for a run trained before carspotter calibrated)."""
    if conf is None:
        return ""
    cal = conf.calibration
    temp = (f"The probabilities are calibrated: the logits are divided by a temperature T = {conf.temperature:.3f} "
            f"fitted on the validation split (Guo et al. 2017), inside the model"
            if conf.temperature != 1.0 else
            "The probabilities are the model's own (temperature scaling was fitted on the validation split but did not "
            "lower its cross-validated log-loss by 1 %, so T = 1)")
    if cal:
        temp += f"; expected calibration error on the test split {cal['ece_before']:.3f} before, {cal['ece_after']:.3f} after fitting"
    text = f"\n## When to show the answer\n\n{temp}.\n\n"
    if conf.threshold is None:
        return text + (f"No confidence threshold could be chosen for {conf.target_precision:.0%} precision "
                       f"({conf.reason}). Show the top 3 and let the user pick.\n")
    neg = conf.negative_class
    text += (f"**Show the answer only when its probability is at least {conf.threshold:.3f}; otherwise ask for a closer "
             f"photo.** Chosen on the validation split for {conf.target_precision:.0%} precision of the answers shown; on "
             f"the test split it shows {_pct(conf.test_coverage)} of the photos, {_pct(conf.test_precision)} of them right.")
    if neg:
        text += f" The model also knows `{neg}` (trained on photos that are none of the classes): say so when it is the top-1."
    if conf.not_car:
        text += (f" On {conf.not_car['count']} images that are not cars (photos shipped with scikit-image, flat colours, "
                 f"noise, patterns) this rule rejects {_pct(conf.not_car['rejected'])}.")
    code = _THRESHOLD_CODE[platform].format(
        t=f"{conf.threshold:.3f}",
        neg_swift=f' || best.identifier == "{neg}"' if neg else "",
        neg_kotlin=f' || best.categoryName() == "{neg}"' if neg else "",
        neg_js=f" || labels[best] === '{neg}'" if neg else "")
    return text + "\n\n" + code + "\n"
