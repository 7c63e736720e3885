// Classifies a generated 12 MP bitmap (4032 x 3024, EXIF 6) with both bundles' classifiers, through the minified
// release build, and logs one line per classifier, then "carspotter-host: CLASSIFIED 2" (what CI waits for) or the
// error. Each bundle's classes are in their own package: dev.carspotter.sample and dev.carspotter.sample_b.
package dev.carspotter.host

import android.app.Activity
import android.graphics.Bitmap
import android.os.Bundle
import android.util.Log
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
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
            } catch (e: Throwable) {
                Log.e(TAG, "FAILED: $e", e)
            }
        }
    }

    private companion object {
        const val TAG = "carspotter-host"
    }
}
