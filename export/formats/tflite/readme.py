"""The ``android/`` folder's README (the Android library) and the TFLite platform package's snippets
(:data:`carspotter.export.formats.tflite.format.FORMAT`'s ``PlatformTexts``)."""

from __future__ import annotations

from carspotter.export.app_readmes import common
from carspotter.export.formats.tflite.delivery import SHIPPING
from carspotter.model.spec import InputSpec


def android_readme(model_file: str, spec: InputSpec, n_classes: int) -> str:
    """README.md for ``android/``: the Android library module."""
    size = spec.size
    return f"""# carspotter for Android: a library module (MediaPipe Tasks or LiteRT)

This folder is an Android library module (`build.gradle.kts`, minSdk 24): the model
(`src/main/assets/carspotter_<name>/{model_file}`: a folder of its own, so an app's `labels.txt` cannot replace ours), its
labels and the code, with the reference's resize ported to Kotlin. Its names come from the bundle's name: the
namespace and Kotlin package `dev.carspotter.<name>` (`namespace` in `build.gradle.kts`; the pure-Kotlin core in
`dev.carspotter.<name>.core`) and the asset folder `carspotter_<name>` (`BundleConstants.ASSETS`), `<name>` being the
bundle folder's name in lower case, its words joined by `_`. Two bundles' libraries therefore share no class and no
asset in one app.

```kotlin
// settings.gradle.kts (one line):
include(":carspotter"); project(":carspotter").projectDir = file("path/to/bundle/android")
// app/build.gradle.kts:
implementation(project(":carspotter"))
```

{_GRADLE_TEXT}
```kotlin
import dev.carspotter.<name>.CarSpotter                      // <name>: this bundle's (namespace in build.gradle.kts)

val spotter = CarSpotter.create(context)                     // suspend; MediaPipe Tasks ImageClassifier, CPU
val exif = ExifInterface(photoFile).getAttributeInt(ExifInterface.TAG_ORIENTATION, 1)
val result = spotter.classify(BitmapFactory.decodeFile(photoFile.path), exif)  // suspend: runs on Dispatchers.Default
if (result.show) show(result.top) else showMessage("Not sure: take a closer photo of the car")
```

- Engines: `Engine.MEDIAPIPE` (default) or `Engine.INTERPRETER` (a plain LiteRT `Interpreter`);
  `Accelerator.CPU` or `Accelerator.GPU` (the GPU delegate computes in fp16). Either way the library reads
  the bitmap's stored bytes (`copyPixelsToBuffer`: no sRGB conversion, as the reference ignores ICC profiles),
  applies the EXIF orientation, and averages k x k boxes of a large photo (k = side // {size}; nothing below
  {2 * size} px) in the Kotlin core. MediaPipe is handed those pixels and does the bilinear step itself (on the
  CPU exactly the reference's: no antialiasing, output x sampled at x * w / S, the "asymmetric" mapping); the
  Interpreter gets the Kotlin port of the same step.
- All 8 EXIF orientations are applied, mirrored ones included: pass `ExifInterface.TAG_ORIENTATION` for a
  `BitmapFactory` bitmap, `1` for a bitmap a decoder already rotated (`ImageDecoder`, Glide, Coil), and
  `Orientation.fromDegrees(imageProxy.imageInfo.rotationDegrees)` for a CameraX frame (CameraX gives degrees).
  Decode the whole photo (no `inSampleSize`): the library reduces it exactly as the reference.
- `create` and `classify` are suspend functions (Dispatchers.IO / Default); `createBlocking` and
  `classifyBlocking` (for Java) refuse the main thread. The model, `labels.txt` and `carspotter.json` sit
  in `assets/carspotter_<name>/`, so an app's own `labels.txt` (or another bundle's) does not replace them.
- Only `{model_file}` goes into your APK; the other variants in `src/main/assets/carspotter_<name>` are excluded by
  `ignoreAssetsPattern` (edit it to ship another). The pure-Kotlin core (`dev.carspotter.<name>.core`: resize,
  orientation, parity rule, labels) stays within Kotlin 1.3 and no Android class; `./gradlew test` runs its
  JVM tests on the golden set's resize vectors.
- Interpreter threads: `CarSpotter.create(context, Engine.INTERPRETER, threads = 4)`; at LiteRT's default of
  one thread this model measured 1.9x slower than two on a desktop CPU (53 against 28 ms at {size} px).
{_MEMORY_TEXT}
{SHIPPING}
{common(spec, n_classes)}"""


_GRADLE_TEXT = """**Dependencies** (pinned in `build.gradle.kts`): MediaPipe `tasks-vision` 0.10.29 and LiteRT 1.4.0 (`litert`,
`litert-api`, `litert-gpu`, `litert-gpu-api`; LiteRT keeps TensorFlow Lite's `org.tensorflow.lite` packages), whose
native libraries are aligned for 16 KB pages, as Google Play requires of apps targeting Android 15+ (MediaPipe from
0.10.26, LiteRT from 1.4.0; MediaPipe 0.10.29 ships x86_64 libraries for emulators again); kotlinx-coroutines 1.10.2.
The library's `consumer-rules.pro` keeps what MediaPipe's and LiteRT's native code calls by name in an app that
minifies (R8). This repository's Android workflow checks the alignment of every 64-bit native library in such a
minified app.

**Kotlin and the Android Gradle Plugin.** The module is written for AGP 9, whose built-in Kotlin compiles it: nothing
to add. Without built-in Kotlin, its `build.gradle.kts` applies the Kotlin Android plugin
(`org.jetbrains.kotlin.android`, Kotlin JVM target 17) itself:
- AGP 9 with `android.builtInKotlin=false` in `gradle.properties`: AGP brings the plugin (Kotlin 2.2.10 or the
  version your root project declares). The Kotlin plugin needs AGP's old DSL too: set `android.newDsl=false` beside
  it, as projects that opt out do (this repository's CI host builds the module so).
- AGP 8 (8.9 or later, for `compileSdk = 36`): declare the plugin in the root `build.gradle.kts`,
  `plugins { id("org.jetbrains.kotlin.android") version "2.2.10" apply false }`; without it the build stops
  with one line saying exactly that.
"""

_MEMORY_TEXT = """- **Memory and threads: one classify at a time per classifier.** `classify` (a `Mutex`) and `classifyBlocking`
  (a lock) serialize the calls on one `CarSpotter`; create one per thread to classify in parallel. A call reads the
  bitmap a band of rows at a time (`Bitmap.getPixels` of about 1 MiB of rows; a bitmap in another colour space than
  sRGB drawn band by band into one of its own and read raw), oriented and box-reduced on the way (`BandReduce`): a
  48 MP photo (8000 x 6000) adds a few MB to the Java heap, not the 192 MB of its pixels (the JVM test
  `Photo48MpTest` runs it in a 256 MiB heap). The decoded bitmap itself is the app's (native memory); a HARDWARE,
  RGB_565 or RGBA_F16 bitmap is first copied to ARGB_8888 (native memory too).
"""

SELFTEST_TEXT = """## Self-test on your device (`src/androidTest`) and JVM tests

```bash
./gradlew :carspotter:testDebugUnitTest          # JVM: the core on the resize vectors (no device)
./gradlew :carspotter:connectedDebugAndroidTest  # a device or emulator: the golden set through both engines
```

The golden set is the instrumented test's assets (`../golden`). It checks the **resize vectors** bit for bit on
the device (the generated 12 MP frame included), and every golden photo (`golden/NNN.jpg`, decoded by
`BitmapFactory`, EXIF read with `ExifInterface`) through MediaPipe and the Interpreter, on the CPU and the GPU
delegate (skipped, with the reason, where the device has none), under the top-3 rule with the tolerances of
`golden/expected.json`.
"""

THRESHOLD_CODE = """```kotlin
// result.show is false when result.best.probability < {t}{neg}
if (!result.show) showMessage("Not sure: take a closer photo of the car")
else show(result.best.label, result.best.probability)
```"""

ROI_ADVICE = """`classify(bitmap, exifOrientation, roi)` classifies only the pixels of `roi`, a `Roi(x0, y0, x1, y1)` in pixels
of the upright photo (after `exifOrientation`), half-open like `android.graphics.Rect`, inside the photo; a ROI past
an edge throws `IllegalArgumentException` with one line. Only the ROI's rows are read, a band at a time, so a 48 MP
photo's ROI costs no more memory than the whole photo. From a crop UI, scale the crop rectangle to full-resolution
upright pixels, round outward (floor left/top, ceil right/bottom) and clamp it to the photo. From ML Kit object
detection, with the `InputImage` built with the rotation (`InputImage.fromBitmap(bitmap, degrees)`),
`DetectedObject.boundingBox` is in upright pixels but can reach past the edges, so intersect it first:

```kotlin
val r = Rect(obj.boundingBox)
val (w, h) = if (degrees % 180 == 0) bitmap.width to bitmap.height else bitmap.height to bitmap.width
if (r.intersect(0, 0, w, h)) spotter.classify(bitmap, Orientation.fromDegrees(degrees), Roi(r.left, r.top, r.right, r.bottom))
```

`TwoPass.boxToRoi` and `TwoPass.needsSecondPass` are the two-pass box logic, ported (checked on the golden set's box
vectors by the JVM tests).

A model exported from a run with a localizer (`carspotter localize RUN`, then `carspotter export RUN`) has a second
output, the car's box: `twoPass(bitmap, exifOrientation, roi)` (`twoPassBlocking` from Java) finds the car in pass 1,
on the photo or on `roi`, and when it is small classifies its box at full resolution in pass 2, as carspotter's
reference. The answer says which ROI pass 2 used (`roi`, upright-photo pixels; null when one pass was enough), beside
`classification`, `found`, `box`, `passes` and `first`; a model without the box output throws
`IllegalStateException` with one line naming the fix:

```kotlin
val answer = spotter.twoPass(bitmap, exifOrientation)
answer.roi?.let { highlight(it) }  // the car's pixels pass 2 classified (null after one pass)
if (answer.show) show(answer.best.label, answer.best.probability)
```"""

RESIZE_ADVICE = """Use the library (`CarSpotter.classify`) with the whole decoded photo: it averages k x k boxes of a
large photo (k = side // S, integer arithmetic, the Kotlin port of the reference, checked on the resize vectors),
then MediaPipe's own bilinear step (OpenCV `warpPerspective`, no antialiasing, output x sampled at x * w / S: the
"asymmetric" mapping), tested pixel for pixel against MediaPipe itself; the Interpreter engine uses the Kotlin
port of the same step. Handing MediaPipe a large photo yourself (`mediapipe-bare`) skips the box average: on a
12 MP photo that samples one pixel in about 170 and aliases. Other resizers (`Bitmap.createScaledBitmap`, a GPU
texture) and a reduced decode (`inSampleSize`) move some answers, as the other rows show for the resizers
measured here."""
