"""The ``ios/`` folder's README (the Swift package) and the Core ML platform package's snippets
(:data:`carspotter.export.formats.coreml.format.FORMAT`'s ``PlatformTexts``)."""

from __future__ import annotations

from carspotter.export.app_readmes import common
from carspotter.export.formats.coreml.delivery import SHIPPING as _SHIPPING
from carspotter.export.formats.coreml.package import PACKAGE_TARGET, apple_os
from carspotter.export.package_names import swift_module
from carspotter.model.spec import InputSpec

_TWO_BUNDLES = """**Two bundles in one app** (say `cars10` and `trucks`): their modules differ (`CarSpotterCars10`,
`CarSpotterTrucks`), so both can be imported; qualify the shared type names (`CarSpotterCars10.CarClassifier`).
SwiftPM names a local package after its folder, and both folders are called `ios`: copy each to a folder named
after its module first (`cp -R bundles/cars10/ios Packages/CarSpotterCars10`), then add those folders
(`.package(path: "Packages/CarSpotterCars10")`, `.product(name: "CarSpotterCars10", package: "CarSpotterCars10")`)."""
"""The Swift README's paragraph on two bundles in one app."""

_ORIENTATION_AND_MEMORY = """- Orientation: `classify(_:orientation:)` has no default orientation, since the pixels of a camera photo are stored
  sideways (`UIImage.cgImage` of a portrait shot is landscape; its `imageOrientation` is `.right`). Pass a `UIImage`
  itself (`classify(uiImage)`, iOS / Mac Catalyst / visionOS), or its orientation converted with
  `CarClassifier.exifOrientation(uiImage.imageOrientation)` (the same names as `CGImagePropertyOrientation`, other raw
  values: never convert by raw value); the file's `kCGImagePropertyOrientation` for a `CGImage` made by
  `CGImageSourceCreateImageAtIndex` (it is not rotated); `.up` only for pixels already drawn upright. Give the
  whole photo: the package averages k x k boxes itself; a thumbnail or `kCGImageSourceSubsampleFactor` is not the
  reference. In Swift 6 language mode `CGImage` is not `Sendable`: hand `classify` an image you do not touch
  afterwards.
- Memory: `classify` reads the photo a band of rows at a time (`cropping(to:)`, drawn 1:1 into a 1 MiB RGBA band)
  and sums each band into the k x k boxes through the EXIF orientation (`BandReduce`, bit for bit the reference's
  box average), so a 48 MP photo (8000 x 6000) costs the package about 4 MB at a 299 px input (computed from the
  sizes: the band 1.0 MB, box sums 2.2 MB, reduced image and model input 0.3 MB each), instead of its
  192 MB as RGBA and the copies; the decoded image itself (192 MB, ImageIO's, kept with the `CGImage`: decode with
  the default `kCGImageSourceShouldCache`, so the bands do not decode it again) is the app's. Calls on one
  `CarClassifier` run one at a time, in the order they came: a second `classify` waits for the first to finish,
  the model's `await` included (the actor alone would let it start its resize there), so one classifier never holds
  two bands; use two classifiers to run two photos at once.
"""
"""The Swift README's orientation and memory bullets."""


_CORE_AI = """## Core AI (iOS 27+ / macOS 27+)

Which file runs: on iOS 27 / macOS 27 and later, in an app built with Xcode 27 (an SDK with Core AI), when the
bundle has a Core AI model (`carspotter.json`'s `coreAIModel`: a `.aimodel` in `Sources/CarSpotter` beside the
`.mlpackage`), `CarClassifier.load()` runs the `.aimodel` through Core AI, which specialises it for the device on
first load and caches it. Before iOS 27 / macOS 27, with an older Xcode, or for a bundle without one, it runs the Core
ML `.mlpackage` as above. The package still supports {os}: Core AI is used only behind
availability checks. `spotter.backend` says which one runs (`.coreAI` or `.coreML`). To force one:

```swift
let spotter = try await CarClassifier.load(backend: .coreML)  // .automatic (the default), .coreML or .coreAI
```

`.coreAI` throws `CarSpotterError.backendUnavailable` where Core AI cannot run or the bundle has no `.aimodel`;
`configuration:` (compute units) applies to Core ML only. Both backends get the same `{size}x{size}` RGB bytes from
the same reference resize (`classify` is the same code; only the model call differs: a pixel buffer for Core ML, the
raw 0..255 values as an `NDArray` `[1, {size}, {size}, 3]` for Core AI). The self-test runs the golden set through
each backend that can run where it is run (Core AI's tests skip before iOS 27 / macOS 27).
"""
"""The Swift README's Core AI section (``{size}``: input side in px; ``{os}``: the package's oldest OS)."""


def ios_readme(model_file: str, spec: InputSpec, n_classes: int, bundle: str | None = None) -> str:
    """README.md for ``ios/``: the Swift package; ``bundle``: the bundle's name, which names the module
    (:func:`~carspotter.export.package_names.swift_module`; None: the README names it by its rule)."""
    size = spec.size
    module = swift_module(bundle) if bundle is not None else "CarSpotterNAME"
    named = (
        f"`{module}` (`CarSpotter` + the bundle's name, {bundle!r})"
        if bundle is not None
        else "`CarSpotter` + the bundle's name (`CarSpotterCars10` for a bundle named `cars10`: Package.swift's product)"
    )
    return f"""# carspotter for iOS and macOS: a Swift package (Core ML)

This folder is a Swift package ({apple_os(PACKAGE_TARGET)}): the ML program (`Sources/CarSpotter/{model_file}`), its
labels and the code, with the reference's resize ported to Swift. Add it in one step: Xcode > File > Add
Package Dependencies > Add Local > this folder (or `.package(path: "path/to/bundle/ios")`). Its package, product
and module are named after the bundle: {named}.

```swift
import {module}

let spotter = try await CarClassifier.load()                 // compiles the model once, then cached
let result = try await spotter.classify(uiImage)             // UIKit: its cgImage and imageOrientation
// or a CGImage from ImageIO with its EXIF orientation (no default: a camera photo is stored sideways):
// let result = try await spotter.classify(cgImage, orientation: exifOrientation)  // CGImagePropertyOrientation
if result.show {{ show(result.top) }} else {{ showMessage("Not sure: take a closer photo of the car") }}
```

{_TWO_BUNDLES}

- `CarClassifier` is an actor (not named like its module, since such a type could not be qualified):
  `classify` runs off the main thread. It reads the photo 1:1 in bands of rows (its own colour space, no colour
  matching, as the reference), applies all 8 EXIF orientations, resizes with the Swift port of the reference
  resize (an integer box average of k x k pixels, k = side // {size}, on photos of {2 * size} px or more, then
  bilinear without antialiasing, output x sampled at x * w / S: the "asymmetric" mapping, not align_corners)
  into the model's exact `{size}x{size}` input and calls Core ML directly (no Vision scaling).
- Vision instead (`VNCoreMLRequest`): `imageCropAndScaleOption` `.scaleFill` stretches like training;
  `.centerCrop` and `.scaleFit` crop or letterbox, which the model was not trained on. Apple documents that
  `.scaleFill` "scales the image to fill the input dimensions", not its filter, so its answers are not
  measured here. A `CVPixelBuffer` already at `{size}x{size}` goes to Core ML unscaled; that is what this
  package does. `VNImageRequestHandler.perform` blocks: call it off the main thread.
{_ORIENTATION_AND_MEMORY}- `swift test` (on a Mac) and `xcodebuild test` (on an iOS Simulator or device) run the self-test below;
  written on Linux, where Swift does not build Apple frameworks: a line-for-line port of the Kotlin core that
  is compiled and tested where the bundle is built.

{_SHIPPING}
{_CORE_AI.format(size=size, os=apple_os(PACKAGE_TARGET))}
{common(spec, n_classes)}"""


SELFTEST_TEXT = """## Self-test (`swift test` on a Mac; `xcodebuild test` on a simulator or device; Cmd-U in Xcode)

```bash
swift test                                                   # macOS
xcodebuild test -scheme CarSpotterNAME -destination 'platform=iOS Simulator,name=iPhone 16'  # the module's name
```

`Tests/CarSpotterTests` checks the **resize vectors** (`golden/resize/`, bit for bit, the generated 12 MP frame
included), the 8 EXIF orientations, the **exact path** (`golden/NNN.png` through Core ML) and the **package
path** (`golden/NNN.jpg` decoded by ImageIO, oriented and resized by the package), both under the top-3 rule with
the tolerances `golden/expected.json` gives the default's device precision. The golden set is a resource of the
test target (`Tests/CarSpotterTests/golden`, a copy of the bundle's), so it travels with the test bundle to a
simulator or device; `CARSPOTTER_GOLDEN` points at another copy. A failing exact path means Core ML on this machine computes something else (compute units, wrong
model); a failing package path with passing vectors means ImageIO decoded the JPEG to other pixels than
libjpeg-turbo (the reference's decoder).
"""

THRESHOLD_CODE = """```swift
// result.show is false when result.best.probability < {t}{neg}
if !result.show {{ showMessage("Not sure: take a closer photo of the car") }}
else {{ show(result.best.label, result.best.probability) }}
```"""

ROI_ADVICE = """```swift
// from your crop UI: whole pixels of the upright photo (refused, never clipped, when outside it)
let roi = try Roi(checking: x0, y0, x1, y1, width: uprightWidth, height: uprightHeight)
// or a fractional top-left rect: rounded outward, clamped
let roi = try Roi(pixelRect: rect, uprightWidth: uprightWidth, uprightHeight: uprightHeight)
let answer = try await classifier.classify(cgImage, orientation: orientation, roi: roi)
```

From Vision: perform `VNGenerateObjectnessBasedSaliencyImageRequest` with
`VNImageRequestHandler(cgImage: cgImage, orientation: orientation)`, then
`try Roi(visionRect: observation.salientObjects![0].boundingBox, image: cgImage, orientation: orientation)` (Vision's
rect is normalized with a bottom-left origin: it is flipped, rounded outward and clamped). `TwoPass.boxToRoi` and
`TwoPass.needsSecondPass` are the two-pass box logic, ported (checked on the golden set's box vectors).

A model exported from a run with a localizer (`carspotter localize RUN`, then `carspotter export RUN`) has a `box`
output, in Core ML and in Core AI (`classifier.hasBox`): `twoPass(cgImage, orientation: orientation, roi: roi)` finds the car in pass 1, on
the photo or on `roi`, and when it is small classifies its box at full resolution in pass 2, as carspotter's
reference. The answer says which ROI pass 2 used (`roi`, upright-photo pixels; nil when one pass was enough), beside
`classification`, `found`, `box`, `passes` and `first`; without a `box` output it throws `TwoPassError.noBoxOutput`,
one line naming the fix:

```swift
let answer = try await classifier.twoPass(cgImage, orientation: orientation)
if let roi = answer.roi { highlight(roi) }  // the car's pixels pass 2 classified
if answer.show { show(answer.best.label, answer.best.probability) }
```"""

RESIZE_ADVICE = """Use the package (`CarClassifier.classify`): its resize is the reference's, ported, and feeds Core ML the
exact input. Vision's `.scaleFill` stretches both sides, but Apple documents no filter, so it cannot be measured
on the machines that build this bundle (Linux) and is not in the table; the rows below show how far other
filters move the answers (`pillow-antialias` and `sharp` are antialiased filters of the kind Core Image uses)."""
