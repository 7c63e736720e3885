// Classifies a generated 12 MP bitmap (4032 x 3024, EXIF 6) with both bundles' classifiers, through the minified
// release build, and logs one line per classifier, then "carspotter-host: CLASSIFIED 2" (what CI waits for) or the
// error. Each bundle's classes are in their own package: dev.carspotter.sample and dev.carspotter.sample_b. Then a model
// delivered as a file: the sample model copied to the app's storage loads verified and answers as the asset does, the
// same file with one byte changed is refused (ModelDigestMismatchException): "carspotter-host: DELIVERED REFUSED".
package dev.carspotter.host

import android.app.Activity
import android.graphics.Bitmap
import android.os.Bundle
import android.util.Log
import dev.carspotter.sample.core.ModelDigestMismatchException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import java.io.File
import java.io.RandomAccessFile
import dev.carspotter.sample.CarSpotter as SampleSpotter
import dev.carspotter.sample_b.CarSpotter as SampleBSpotter

class MainActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        CoroutineScope(Dispatchers.Main).launch {
            try {
                val photo = Bitmap.createBitmap(4032, 3024, Bitmap.Config.ARGB_8888)
                for (y in 0 until photo.height step 8) for (x in 0 until photo.width step 8) {
                    photo.setPixel(x, y, (0xFF shl 24) or ((x * 255 / photo.width) shl 16) or ((y * 255 / photo.height) shl 8) or 0x40)
                }
                SampleSpotter.create(this@MainActivity).use { spotter ->
                    val result = spotter.classify(photo, 6)
                    Log.i(TAG, "sample: ${result.best.label} ${result.best.probability} (${spotter.info.labels.size} labels)")
                }
                SampleBSpotter.create(this@MainActivity).use { spotter ->
                    val result = spotter.classify(photo, 6)
                    Log.i(TAG, "sample-b: ${result.best.label} ${result.best.probability} (${spotter.info.labels.size} labels)")
                }
                Log.i(TAG, "CLASSIFIED 2")
                delivered(photo)
            } catch (e: Throwable) {
                Log.e(TAG, "FAILED: $e", e)
            }
        }
    }

    /** The sample model as a delivered file: accepted intact (the asset's answer), refused with one byte changed. */
    private suspend fun delivered(photo: Bitmap) {
        val want = SampleSpotter.create(this).use { it.classify(photo, 6).probabilities }
        val file = File(filesDir, "delivered.tflite")
        assets.open(SampleSpotter.ASSETS + "carspotter.tflite").use { input -> file.outputStream().use { input.copyTo(it) } }
        val got = SampleSpotter.create(this, file).use { it.classify(photo, 6).probabilities }
        check(want.contentEquals(got)) { "the delivered model answers otherwise than the asset" }
        RandomAccessFile(file, "rw").use { f ->
            f.seek(f.length() / 2)
            val b = f.read()
            f.seek(f.length() / 2)
            f.write(b xor 1)
        }
        try {
            SampleSpotter.create(this, file).close()
            Log.e(TAG, "FAILED: a model with one byte changed was loaded")
        } catch (e: ModelDigestMismatchException) {
            Log.i(TAG, "refused: ${e.message}")
            Log.i(TAG, "DELIVERED REFUSED")
        }
    }

    private companion object {
        const val TAG = "carspotter-host"
    }
}
