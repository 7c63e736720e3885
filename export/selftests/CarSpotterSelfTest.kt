// carspotter self-test for Android: runs the bundle's golden set through MediaPipe Tasks' ImageClassifier
// on the device, as an instrumentation test.
//
// Put carspotter.tflite in app/src/main/assets/ (as for the app) and the bundle's golden/ folder in
// app/src/androidTest/assets/golden/. Add this file to app/src/androidTest/java/<your package>/ (change the
// package line), with androidTestImplementation("androidx.test.ext:junit:1.1.5") and
// "androidx.exifinterface:exifinterface:1.3.7". Run: ./gradlew connectedAndroidTest.
//
// Two paths per photo:
//  1. exact: golden/NNN.png (the exact model input, already at the input size, so MediaPipe does not
//     resize it) -> the top-3 rule against the reference's probabilities, with the tolerances of the
//     model's precision from golden/expected.json. A failure means the runtime on this device computes
//     something else than the reference (wrong model file, delegate problem).
//  2. app: golden/NNN.jpg rotated upright by its EXIF orientation and given to MediaPipe whole, which
//     resizes it itself. Photos whose reference margin is at least app_path.min_margin must keep their
//     top-1. A failure means MediaPipe's resizing moves the answer (see the bundle README).
//
// Not compiled on the project's machines (no Android SDK there); written against MediaPipe Tasks Vision
// 0.10 (com.google.mediapipe:tasks-vision), AndroidX Test and ExifInterface.

package com.example.carspotter

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import androidx.exifinterface.media.ExifInterface
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier
import org.json.JSONObject
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import kotlin.math.abs

@RunWith(AndroidJUnit4::class)
class CarSpotterSelfTest {
    private val testAssets = InstrumentationRegistry.getInstrumentation().context.assets
    private val appContext = InstrumentationRegistry.getInstrumentation().targetContext

    private fun top(p: DoubleArray, k: Int): List<Int> =
        p.indices.sortedWith(compareByDescending<Int> { p[it] }.thenBy { it }).take(k)

    private fun upright(path: String): Bitmap {
        val bitmap = testAssets.open(path).use { BitmapFactory.decodeStream(it) }
        val orientation = testAssets.open(path).use { ExifInterface(it) }.rotationDegrees
        if (orientation == 0) return bitmap
        val m = Matrix().apply { postRotate(orientation.toFloat()) }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, true)
    }

    private fun probabilities(classifier: ImageClassifier, bitmap: Bitmap, classes: Int): DoubleArray {
        val scores = DoubleArray(classes)
        val result = classifier.classify(BitmapImageBuilder(bitmap).build())
        for (c in result.classificationResult().classifications()[0].categories()) scores[c.index()] = c.score().toDouble()
        return scores
    }

    @Test
    fun goldenSetKeepsTheReferenceAnswers() {
        val expected = JSONObject(testAssets.open("golden/expected.json").bufferedReader().readText())
        val labels = expected.getJSONArray("labels")
        val format = expected.getJSONObject("formats").getJSONObject("tflite")
        val tolerance = expected.getJSONObject("tolerances").getJSONObject(format.getString("device_precision"))
        val tau = tolerance.getDouble("tau")
        val maxAbs = tolerance.getDouble("max_abs_diff")
        val minMargin = expected.getJSONObject("app_path").getDouble("min_margin")
        val options = ImageClassifier.ImageClassifierOptions.builder()
            .setBaseOptions(BaseOptions.builder().setModelAssetPath("carspotter.tflite").build())
            .setMaxResults(labels.length())
            .build()
        val failures = mutableListOf<String>()
        var appAgree = 0
        ImageClassifier.createFromOptions(appContext, options).use { classifier ->
            val photos = expected.getJSONArray("photos")
            for (i in 0 until photos.length()) {
                val photo = photos.getJSONObject(i)
                val ref = photo.getJSONArray("probabilities").let { a -> DoubleArray(a.length()) { a.getDouble(it) } }
                val input = photo.getString("input")
                val exact = probabilities(classifier, testAssets.open(input).use { BitmapFactory.decodeStream(it) }, ref.size)
                val maxDiff = ref.indices.maxOf { abs(ref[it] - exact[it]) }
                if (maxDiff > maxAbs) failures += "$input: max |dp| $maxDiff above $maxAbs"
                val r = top(ref, 3)
                val q = top(exact, 3)
                for (rank in r.indices) {
                    if (r[rank] == q[rank]) continue
                    if (abs(ref[r[rank]] - ref[q[rank]]) < tau) continue
                    failures += "$input: rank ${rank + 1} is ${labels.getString(q[rank])}, the reference's is ${labels.getString(r[rank])}"
                    break
                }
                val jpeg = photo.getString("photo")
                val app = probabilities(classifier, upright(jpeg), ref.size)
                val same = top(app, 1)[0] == r[0]
                if (same) appAgree++
                if (!same && photo.getDouble("margin") >= minMargin) {
                    failures += "$jpeg (app path): ${labels.getString(top(app, 1)[0])} instead of ${labels.getString(r[0])}"
                }
            }
            println("carspotter self-test: app path top-1 agreement $appAgree/${photos.length()}")
        }
        assertTrue(failures.joinToString("\n"), failures.isEmpty())
    }
}
