// The bundle's car classifier on Android: MediaPipe Tasks' ImageClassifier (default; on the CPU it resizes exactly as
// the reference; with the GPU delegate it resizes on the GPU, not measured) or a plain LiteRT Interpreter fed by the
// Kotlin port of the reference resize (exact on either accelerator). Off the main thread.
package dev.carspotter

import android.content.Context
import android.content.res.AssetManager
import android.graphics.Bitmap
import android.graphics.Matrix
import android.os.Looper
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier
import dev.carspotter.core.BundleInfo
import dev.carspotter.core.Classification
import dev.carspotter.core.ReferenceResize
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.GpuDelegate
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.util.concurrent.Callable
import java.util.concurrent.ExecutionException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** Which runtime runs the model. */
enum class Engine { MEDIAPIPE, INTERPRETER }

/** Where the model runs: the CPU (XNNPACK) or the GPU delegate. */
enum class Accelerator { CPU, GPU }

class CarSpotter private constructor(
    /** Labels, input side, threshold and "not a car" class of this bundle (assets/carspotter.properties, labels.txt). */
    val info: BundleInfo,
    val engine: Engine,
    val accelerator: Accelerator,
    private val classifier: ImageClassifier?,
    private val interpreter: Interpreter?,
    private val gpu: GpuDelegate?,
    /** The one thread the Interpreter is created and run on (the GPU delegate requires it; calls are serialized). */
    private val worker: ExecutorService?
) : Closeable {

    companion object {
        /**
         * Load the bundle's model from the library's assets.
         * @throws IllegalArgumentException assets missing or malformed (the message names the file)
         * @throws Exception MediaPipe's or LiteRT's own error when the accelerator is not available on this device
         */
        @JvmStatic
        @JvmOverloads
        fun create(context: Context, engine: Engine = Engine.MEDIAPIPE, accelerator: Accelerator = Accelerator.CPU,
                   threads: Int = 4): CarSpotter {
            val assets = context.assets
            val info = BundleInfo.read(assets.open("carspotter.properties"), assets.open("labels.txt"))
            return when (engine) {
                Engine.MEDIAPIPE -> {
                    val base = BaseOptions.builder().setModelAssetPath(info.model)
                        .setDelegate(if (accelerator == Accelerator.GPU) com.google.mediapipe.tasks.core.Delegate.GPU
                                     else com.google.mediapipe.tasks.core.Delegate.CPU).build()
                    val options = ImageClassifier.ImageClassifierOptions.builder().setBaseOptions(base)
                        .setRunningMode(RunningMode.IMAGE).setMaxResults(info.labels.size).build()
                    CarSpotter(info, engine, accelerator, ImageClassifier.createFromOptions(context, options), null, null, null)
                }
                Engine.INTERPRETER -> {
                    val worker = Executors.newSingleThreadExecutor { Thread(it, "carspotter-litert") }
                    val (interpreter, gpu) = try {
                        worker.submit(Callable { openInterpreter(assets, info.model, accelerator, threads) }).get()
                    } catch (e: ExecutionException) {
                        worker.shutdown()
                        throw e.cause ?: e
                    }
                    CarSpotter(info, engine, accelerator, null, interpreter, gpu, worker)
                }
            }
        }

        private fun openInterpreter(assets: AssetManager, model: String, accelerator: Accelerator, threads: Int): Pair<Interpreter, GpuDelegate?> {
            // the mapping outlives the channel and the descriptor (FileChannel.map)
            val buffer = assets.openFd(model).use { fd ->
                FileInputStream(fd.fileDescriptor).use { it.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) }
            }
            val gpu = if (accelerator == Accelerator.GPU) GpuDelegate() else null
            val options = Interpreter.Options().setNumThreads(threads)
            if (gpu != null) options.addDelegate(gpu)
            return try {
                Pair(Interpreter(buffer, options), gpu)
            } catch (e: Exception) {
                gpu?.close()
                throw e
            }
        }

        /** Transparency composited on white, as the reference decoder does (MediaPipe would drop alpha: black). */
        private fun onWhite(bitmap: Bitmap): Bitmap {
            if (!bitmap.hasAlpha()) return bitmap
            val w = bitmap.width
            val h = bitmap.height
            val px = IntArray(w * h)
            bitmap.getPixels(px, 0, w, 0, 0, w, h)
            val rgb = ReferenceResize.compositeOnWhite(rgba(px))
            for (i in px.indices) {
                px[i] = (0xFF shl 24) or ((rgb[3 * i].toInt() and 0xFF) shl 16) or ((rgb[3 * i + 1].toInt() and 0xFF) shl 8) or
                    (rgb[3 * i + 2].toInt() and 0xFF)
            }
            return Bitmap.createBitmap(px, w, h, Bitmap.Config.ARGB_8888)
        }

        /** Unpremultiplied ARGB ints (Bitmap.getPixels) as RGBA bytes. */
        private fun rgba(argb: IntArray): ByteArray {
            val out = ByteArray(argb.size * 4)
            for (i in argb.indices) {
                val p = argb[i]
                out[4 * i] = (p shr 16).toByte(); out[4 * i + 1] = (p shr 8).toByte(); out[4 * i + 2] = p.toByte()
                out[4 * i + 3] = (p ushr 24).toByte()
            }
            return out
        }

        /**
         * The upright bitmap for an EXIF orientation (ExifInterface.ORIENTATION_*, 1..8, mirrored ones included; 0 or 1:
         * the bitmap itself), turned without filtering, so no pixel value changes.
         */
        @JvmStatic
        fun upright(bitmap: Bitmap, exifOrientation: Int): Bitmap {
            require(exifOrientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $exifOrientation" }
            val m = Matrix()
            when (exifOrientation) {
                2 -> m.setScale(-1f, 1f)
                3 -> m.setRotate(180f)
                4 -> m.setScale(1f, -1f)
                5 -> { m.setRotate(90f); m.postScale(-1f, 1f) }
                6 -> m.setRotate(90f)
                7 -> { m.setRotate(-90f); m.postScale(-1f, 1f) }
                8 -> m.setRotate(-90f)
                else -> return bitmap
            }
            return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, false)
        }
    }

    /**
     * Classify a photo off the main thread (Dispatchers.Default).
     * @param bitmap the photo as decoded (any size; a HARDWARE bitmap is copied to ARGB_8888)
     * @param exifOrientation ExifInterface.TAG_ORIENTATION of the photo file (1..8; 0 unknown)
     */
    suspend fun classify(bitmap: Bitmap, exifOrientation: Int): Classification =
        withContext(Dispatchers.Default) { classifyBlocking(bitmap, exifOrientation) }

    /**
     * Classify on the calling thread (Java callers, background executors).
     * @throws IllegalStateException on the main thread: MediaPipe's classify and the Interpreter block for tens of ms
     */
    fun classifyBlocking(bitmap: Bitmap, exifOrientation: Int): Classification {
        check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.classifyBlocking blocks; call classify() or use a background thread" }
        val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
        val up = upright(argb, exifOrientation)
        return info.classification(if (classifier != null) mediapipe(onWhite(up)) else interpret(up))
    }

    private fun mediapipe(bitmap: Bitmap): FloatArray {
        val result = classifier!!.classify(BitmapImageBuilder(bitmap).build())
        val probs = FloatArray(info.labels.size)
        for (c in result.classificationResult().classifications()[0].categories()) probs[c.index()] = c.score()
        return probs
    }

    private fun <T> onWorker(task: () -> T): T = try {
        worker!!.submit(Callable(task)).get()
    } catch (e: ExecutionException) {
        throw e.cause ?: e
    }

    /**
     * The Interpreter on one exact input: size * size * 3 RGB bytes -> probabilities 0..1 in label order. A float32
     * model gets the values 0..255 as floats, a full-int8 model (uint8 input) the bytes themselves; a uint8 output is
     * dequantized with the tensor's own scale and zero point.
     * @throws IllegalStateException with Engine.MEDIAPIPE (MediaPipe resizes itself)
     */
    fun probabilities(input: ByteArray): FloatArray {
        checkNotNull(interpreter) { "probabilities(input) needs Engine.INTERPRETER" }
        val s = info.size
        require(input.size == s * s * 3) { "${input.size} bytes is not $s x $s x 3" }
        val n = info.labels.size
        return onWorker {
            val uint8 = interpreter.getInputTensor(0).dataType() == DataType.UINT8
            val buffer = if (uint8) ByteBuffer.allocateDirect(input.size).put(input)
                else ByteBuffer.allocateDirect(4 * input.size).order(ByteOrder.nativeOrder()).also { b ->
                    for (v in input) b.putFloat((v.toInt() and 0xFF).toFloat())
                }
            buffer.rewind()
            val output = interpreter.getOutputTensor(0)
            if (output.dataType() == DataType.UINT8) {
                // full-int8: uint8 probabilities, p = scale * (q - zeroPoint) (the tensor's quantization, 1/256 and 0)
                val q = Array(1) { ByteArray(n) }
                interpreter.run(buffer, q)
                val params = output.quantizationParams()
                FloatArray(n) { i -> params.scale * ((q[0][i].toInt() and 0xFF) - params.zeroPoint) }
            } else {
                val out = Array(1) { FloatArray(n) }
                interpreter.run(buffer, out)
                out[0]
            }
        }
    }

    private fun interpret(bitmap: Bitmap): FloatArray {
        val w = bitmap.width
        val h = bitmap.height
        val argb = IntArray(w * h)
        bitmap.getPixels(argb, 0, w, 0, 0, w, h) // unpremultiplied ARGB
        return probabilities(ReferenceResize.resize(rgba(argb), w, h, 4, info.size))
    }

    override fun close() {
        classifier?.close()
        if (worker != null) {
            onWorker { interpreter?.close(); gpu?.close() }
            worker.shutdown()
        }
    }
}
