// The instrumented self-test (./gradlew :carspotter:connectedAndroidTest on a device or emulator): the golden set's
// resize vectors bit for bit on the device (EXIF orientation and region of interest included), and every golden photo
// decoded by Android (BitmapFactory, EXIF read with ExifInterface: all 8 orientations) through each engine and
// accelerator under the top-3 rule of `carspotter parity`.
// MediaPipe with the GPU delegate resizes on the GPU (not the reference's resize): its case may show that.
// The golden set is this test's assets (build.gradle.kts: androidTest assets = ../golden).
package dev.carspotter

import android.graphics.BitmapFactory
import android.os.Build
import androidx.exifinterface.media.ExifInterface
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.carspotter.core.BundleConstants
import dev.carspotter.core.ParityRule
import dev.carspotter.core.Pnm
import dev.carspotter.core.ReferenceResize
import dev.carspotter.core.ResizeVectors
import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeFalse
import org.junit.Assume.assumeNoException
import org.junit.Assume.assumeTrue
import org.tensorflow.lite.gpu.CompatibilityList
import org.junit.Test
import org.junit.runner.RunWith

/** Why every case skips in a bundle exported with --golden 0 (JUnit's Assume: skipped, not failed). */
private const val NO_GOLDEN = "skipped: this bundle has no golden set (exported with --golden 0), so no resize vectors or golden photos to check; export with --golden N to test"

@RunWith(AndroidJUnit4::class)
class CarSpotterSelfTest {
    private val golden = InstrumentationRegistry.getInstrumentation().context.assets
    private val app = InstrumentationRegistry.getInstrumentation().targetContext

    private fun bytes(name: String) = golden.open(name).use { it.readBytes() }

    @Test
    fun resizeVectorsAreBitExactOnThisDevice() {
        assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)
        val rows = ResizeVectors.rows(String(bytes("resize/vectors.txt")))
        assertTrue(rows.size >= 10)
        for (row in rows) {
            val photo = ResizeVectors.photo(row.photo, row.width, row.height) { bytes("resize/" + it) }
            val want = Pnm.parse(bytes("resize/" + row.expected)).pixels
            // the stored photo made upright (EXIF orientation), its region of interest cut, then the reference resize
            val got = ReferenceResize.resize(photo, row.orientation, row.roi, row.size)
            assertEquals("${row.name}: values differing from the reference", 0, got.indices.count { got[it] != want[it] })
        }
    }

    private fun goldenPhotosPass(engine: Engine, accelerator: Accelerator) {
        assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)
        val expected = JSONObject(String(bytes("expected.json")))
        val format = expected.getJSONObject("formats").getJSONObject("tflite")
        // the GPU delegate computes in fp16 whatever the file stores (an int8 model keeps its wider row)
        val base = format.optString("device_precision", format.getString("precision"))
        val row = if (accelerator == Accelerator.GPU && base != "int8") "fp16" else base
        val tol = expected.getJSONObject("tolerances").getJSONObject(row)
        if (accelerator == Accelerator.GPU) {
            // an emulator's software GL may start the delegate and then resize on it (MediaPipe) or crash natively
            assumeFalse("the GPU delegate is not tested on an emulator", isEmulator())
            if (engine == Engine.INTERPRETER) {
                assumeTrue("the GPU delegate is not supported on this device", CompatibilityList().isDelegateSupportedOnThisDevice)
            }
        }
        val spotter = try {
            CarSpotter.createBlocking(app, engine, accelerator)  // instrumented tests run off the main thread
        } catch (e: Throwable) {  // a missing native library is a LinkageError, not an Exception
            if (accelerator == Accelerator.GPU) assumeNoException("the GPU delegate is not available here", e)
            throw e
        }
        val failures = ArrayList<String>()
        spotter.use {
            val photos = expected.getJSONArray("photos")
            for (i in 0 until photos.length()) {
                val photo = photos.getJSONObject(i)
                val name = photo.getString("photo").removePrefix("golden/")
                val orientation = golden.open(name).use { ExifInterface(it).getAttributeInt(ExifInterface.TAG_ORIENTATION, 1) }
                val bitmap = golden.open(name).use { BitmapFactory.decodeStream(it) }
                val probs = spotter.classifyBlocking(bitmap, orientation).probabilities
                val ref = photo.getJSONArray("probabilities").let { a -> FloatArray(a.length()) { a.getDouble(it).toFloat() } }
                val r = ParityRule.top3(ref, probs, tol.getDouble("tau"))
                if (r.mismatchRank != null) failures.add("$name: rank ${r.mismatchRank} differs")
                if (r.maxAbsDiff > tol.getDouble("max_abs_diff")) failures.add("$name: max |dp| ${r.maxAbsDiff}")
            }
        }
        assertTrue("$engine on $accelerator:\n" + failures.joinToString("\n"), failures.isEmpty())
    }

    private fun isEmulator(): Boolean =
        Build.HARDWARE == "ranchu" || Build.HARDWARE == "goldfish" || Build.FINGERPRINT.contains("generic")

    @Test fun mediapipeOnCpu() = goldenPhotosPass(Engine.MEDIAPIPE, Accelerator.CPU)
    @Test fun mediapipeOnGpu() = goldenPhotosPass(Engine.MEDIAPIPE, Accelerator.GPU)
    @Test fun interpreterOnCpu() = goldenPhotosPass(Engine.INTERPRETER, Accelerator.CPU)
    @Test fun interpreterOnGpu() = goldenPhotosPass(Engine.INTERPRETER, Accelerator.GPU)
}
