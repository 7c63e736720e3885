// A model delivered apart from the app, on a device or emulator (./gradlew :carspotter:connectedAndroidTest): the
// library's own model copied to a file loads through CarSpotter.create(context, file) (both engines) and classifies as
// the asset does; the same file with one byte changed is refused (ModelDigestMismatchException, nothing loaded); an
// AI pack that is not on the device is named in one FileNotFoundException.
package dev.carspotter

import android.graphics.Bitmap
import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.carspotter.core.ModelDigestMismatchException
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import java.io.File
import java.io.FileNotFoundException
import java.io.RandomAccessFile

@RunWith(AndroidJUnit4::class)
class DeliveredModelTest {
    private val app = InstrumentationRegistry.getInstrumentation().targetContext
    private val facts = JSONObject(app.assets.open(CarSpotter.ASSETS + "carspotter.json").bufferedReader().use { it.readText() })

    /** The library's model copied to the app's storage, as a download would leave it. */
    private fun delivered(name: String): File {
        val file = File(app.cacheDir, name)
        app.assets.open(CarSpotter.ASSETS + facts.getString("model")).use { input -> file.outputStream().use { input.copyTo(it) } }
        return file
    }

    @Test
    fun theIntactFileLoadsAndClassifiesAsTheAsset() = runBlocking {
        val file = delivered("delivered.tflite")
        val photo = Bitmap.createBitmap(640, 480, Bitmap.Config.ARGB_8888).apply { eraseColor(0xFF406080.toInt()) }
        for (engine in Engine.values()) {
            val want = CarSpotter.create(app, engine).use { it.classify(photo, 1).probabilities }
            val got = CarSpotter.create(app, file, engine).use { it.classify(photo, 1).probabilities }
            assertArrayEquals("$engine", want, got, 0f)
        }
    }

    @Test
    fun aFileWithOneByteChangedIsRefused() = runBlocking {
        val file = delivered("corrupted.tflite")
        RandomAccessFile(file, "rw").use { f ->
            f.seek(f.length() / 2)
            val b = f.read()
            f.seek(f.length() / 2)
            f.write(b xor 1)
        }
        for (engine in Engine.values()) {
            try {
                CarSpotter.create(app, file, engine).close()
                fail("$engine: a model with one byte changed was loaded")
            } catch (e: ModelDigestMismatchException) {
                assertEquals(facts.getString("modelSha256"), e.expected)
                assertEquals(file, e.file)
                assertTrue(e.message, (e.message ?: "").contains(e.found))
            }
        }
    }

    @Test
    fun anAiPackNotOnTheDeviceIsNamed() = runBlocking {
        try {
            CarSpotter.createFromAiPack(app).close()
            fail("loaded a model from AI pack ${CarSpotter.AI_PACK}, which this test app does not have")
        } catch (e: FileNotFoundException) {
            assertTrue(e.message, (e.message ?: "").contains("AI pack ${CarSpotter.AI_PACK} is not on this device"))
        }
    }
}
