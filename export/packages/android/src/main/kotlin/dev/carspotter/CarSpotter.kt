// The bundle's car classifier on Android: MediaPipe Tasks' ImageClassifier (default) or a plain LiteRT Interpreter.
// Either way the photo's stored pixels are read raw (no colour conversion) a band of rows at a time, oriented,
// composited, cut to a region of interest if one is given, and box-reduced by the Kotlin core (BandReduce.prepare: a
// 48 MP photo never whole on the heap); MediaPipe is handed those pixels and does the bilinear step itself (on
// the CPU exactly the reference's; with the GPU delegate on the GPU, not measured), the Interpreter gets the Kotlin
// port's bilinear step (exact on either accelerator). Off the main thread. twoPass: the same path twice, the model's
// box output (a bundle exported from a run with a localizer) choosing the region of the second pass (TwoPass.run).
package dev.carspotter

import android.content.Context
import android.content.res.AssetManager
import android.graphics.Bitmap
import android.os.Looper
import com.google.mediapipe.framework.image.BitmapImageBuilder
import com.google.mediapipe.tasks.core.BaseOptions
import com.google.mediapipe.tasks.vision.core.RunningMode
import com.google.mediapipe.tasks.vision.imageclassifier.ImageClassifier
import dev.carspotter.core.BandReduce
import dev.carspotter.core.BundleConstants
import dev.carspotter.core.BundleInfo
import dev.carspotter.core.Classification
import dev.carspotter.core.Image
import dev.carspotter.core.ModelDigest
import dev.carspotter.core.ReferenceResize
import dev.carspotter.core.Roi
import dev.carspotter.core.TwoPass
import dev.carspotter.core.TwoPassClassification
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import kotlinx.coroutines.withContext
import org.json.JSONException
import org.json.JSONObject
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.GpuDelegate
import java.io.Closeable
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.concurrent.Callable
import java.util.concurrent.ExecutionException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/** Which runtime runs the model. */
enum class Engine { MEDIAPIPE, INTERPRETER }

/** Where the model runs: the CPU (XNNPACK) or the GPU delegate. */
enum class Accelerator { CPU, GPU }

/**
 * The bundle's classifier. **One classify at a time per classifier**: calls on one instance are serialized (a Mutex
 * for [classify] and [twoPass], a lock for [classifyBlocking] and [twoPassBlocking]), so its memory stays one band of
 * the photo's rows (about 1 MiB) plus the box-reduced image (under 2 x size on a side) and the model's buffers,
 * whatever the photo's size; create one classifier per thread to classify in parallel (each holds its own model and
 * buffers).
 */
class CarSpotter private constructor(
    /** Labels, input side, threshold and "not a car" class of this bundle ([ASSETS]carspotter.json, the file the Swift and npm packages read too). */
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
         * The library's asset folder, named after the bundle (carspotter_<name>/: BundleConstants, generated at
         * export): the model, labels.txt and carspotter.json, apart from the app's own assets and another bundle's.
         */
        const val ASSETS = BundleConstants.ASSETS

        /**
         * Load the bundle's model from the library's assets, off the main thread (Dispatchers.IO): MediaPipe and the
         * Interpreter map and prepare the model, which takes from tens of ms to seconds (GPU delegate).
         * @throws IllegalArgumentException assets missing or malformed (the message names the file)
         * @throws Exception MediaPipe's or LiteRT's own error when the accelerator is not available on this device
         */
        suspend fun create(context: Context, engine: Engine = Engine.MEDIAPIPE, accelerator: Accelerator = Accelerator.CPU,
                           threads: Int = 4): CarSpotter =
            withContext(Dispatchers.IO) { createBlocking(context, engine, accelerator, threads) }

        /**
         * [create] on the calling thread, for Java callers and background executors.
         * @throws IllegalStateException on the main thread
         */
        @JvmStatic
        @JvmOverloads
        fun createBlocking(context: Context, engine: Engine = Engine.MEDIAPIPE, accelerator: Accelerator = Accelerator.CPU,
                           threads: Int = 4): CarSpotter {
            check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.createBlocking blocks; call create() or use a background thread" }
            return open(context, readInfo(context.assets), null, engine, accelerator, threads)
        }

        /**
         * Load a model delivered apart from the app (your own download, a Play AI pack: [createFromAiPack]), off the
         * main thread: the file is mapped, its SHA-256 computed on the mapped bytes (ModelDigest, 1 MiB at a time) and
         * compared with carspotter.json's `modelSha256`, which stays in the library's assets; only then are those
         * bytes handed to MediaPipe or the Interpreter. Options as [create].
         * @param modelFile the .tflite file (the bundle's default model, carspotter.json's `model`)
         * @throws dev.carspotter.core.ModelDigestMismatchException damaged, incomplete or another model (never loaded)
         * @throws java.io.FileNotFoundException the file is missing or a folder
         */
        suspend fun create(context: Context, modelFile: File, engine: Engine = Engine.MEDIAPIPE,
                           accelerator: Accelerator = Accelerator.CPU, threads: Int = 4): CarSpotter =
            withContext(Dispatchers.IO) { createBlocking(context, modelFile, engine, accelerator, threads) }

        /**
         * [create] (a model file) on the calling thread, for Java callers and background executors.
         * @throws IllegalStateException on the main thread
         */
        @JvmStatic
        @JvmOverloads
        fun createBlocking(context: Context, modelFile: File, engine: Engine = Engine.MEDIAPIPE,
                           accelerator: Accelerator = Accelerator.CPU, threads: Int = 4): CarSpotter {
            check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.createBlocking blocks; call create() or use a background thread" }
            val info = readInfo(context.assets)
            return open(context, info, verified(DeliveredModel.map(modelFile), info, modelFile), engine, accelerator, threads)
        }

        /**
         * Load the model from the bundle's Play for On-device AI pack (`android/aipack/<pack>`, pack [AI_PACK]), verified as
         * [create] with a file: a fast-follow or on-demand pack from the folder AiPackManager.getPackLocation(pack)
         * .assetsPath() gives, an install-time pack from the app's assets. The app depends on
         * com.google.android.play:ai-delivery (README) and has fetched an on-demand pack first.
         * @throws java.io.FileNotFoundException the pack, or the model in it, is not on this device (yet)
         * @throws dev.carspotter.core.ModelDigestMismatchException damaged, incomplete or another model (never loaded)
         */
        suspend fun createFromAiPack(context: Context, pack: String = AI_PACK, engine: Engine = Engine.MEDIAPIPE,
                                     accelerator: Accelerator = Accelerator.CPU, threads: Int = 4): CarSpotter =
            withContext(Dispatchers.IO) { createFromAiPackBlocking(context, pack, engine, accelerator, threads) }

        /**
         * [createFromAiPack] on the calling thread, for Java callers and background executors.
         * @throws IllegalStateException on the main thread
         */
        @JvmStatic
        @JvmOverloads
        fun createFromAiPackBlocking(context: Context, pack: String = AI_PACK, engine: Engine = Engine.MEDIAPIPE,
                                     accelerator: Accelerator = Accelerator.CPU, threads: Int = 4): CarSpotter {
            check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.createFromAiPackBlocking blocks; call createFromAiPack() or use a background thread" }
            val info = readInfo(context.assets)
            val relative = "$pack/${info.model}"
            val file = DeliveredModel.inAiPack(context, pack, relative)
            val model = if (file != null) verified(DeliveredModel.map(file), info, file)
                        else verified(DeliveredModel.asset(context.assets, relative, pack), info, File(relative))
            return open(context, info, model, engine, accelerator, threads)
        }

        /**
         * The Play for On-device AI pack the bundle's android/aipack/<pack> module declares: carspotter_<name>_model (an AI
         * pack name: letters, digits and underscores), the model inside it at <pack>/<model>.
         */
        @JvmField
        val AI_PACK: String = ASSETS.trimEnd('/') + "_model"

        private fun verified(model: ByteBuffer, info: BundleInfo, file: File): ByteBuffer {
            ModelDigest.verify(model, info.modelSha256, file)
            return model
        }

        /** The classifier on [model] (a verified buffer), or on the library's own asset when it is null. */
        private fun open(context: Context, info: BundleInfo, model: ByteBuffer?, engine: Engine, accelerator: Accelerator,
                         threads: Int): CarSpotter = when (engine) {
            Engine.MEDIAPIPE -> {
                val builder = BaseOptions.builder()
                if (model == null) builder.setModelAssetPath(ASSETS + info.model) else builder.setModelAssetBuffer(model)
                val base = builder.setDelegate(if (accelerator == Accelerator.GPU) com.google.mediapipe.tasks.core.Delegate.GPU
                                               else com.google.mediapipe.tasks.core.Delegate.CPU).build()
                val options = ImageClassifier.ImageClassifierOptions.builder().setBaseOptions(base)
                    // at least 4 results a head: a localizer's box head (head 1, twoPass) reports its 4 coordinates
                    .setRunningMode(RunningMode.IMAGE).setMaxResults(Math.max(info.labels.size, 4)).build()
                CarSpotter(info, engine, accelerator, ImageClassifier.createFromOptions(context, options), null, null, null)
            }
            Engine.INTERPRETER -> {
                val buffer = model ?: DeliveredModel.asset(context.assets, ASSETS + info.model, null)
                val worker = Executors.newSingleThreadExecutor { Thread(it, "carspotter-litert") }
                val (interpreter, gpu) = try {
                    worker.submit(Callable { openInterpreter(buffer, accelerator, threads) }).get()
                } catch (e: ExecutionException) {
                    worker.shutdown()
                    throw e.cause ?: e
                }
                CarSpotter(info, engine, accelerator, null, interpreter, gpu, worker)
            }
        }

        /**
         * The bundle facts in [ASSETS]carspotter.json, parsed with the platform's org.json.
         * @throws IllegalArgumentException the file is missing or a key is missing or malformed (the message names it)
         */
        private fun readInfo(assets: AssetManager): BundleInfo {
            val file = ASSETS + "carspotter.json"
            val json = try {
                JSONObject(assets.open(file).bufferedReader(Charsets.UTF_8).use { it.readText() })
            } catch (e: java.io.IOException) {
                throw IllegalArgumentException("$file is not in the app's assets; re-add the bundle's android/ module", e)
            } catch (e: JSONException) {
                throw IllegalArgumentException("$file is not valid JSON (${e.message}); re-export the bundle", e)
            }
            try {
                val labels = json.getJSONArray("labels")
                return BundleInfo(
                    size = json.getInt("size"),
                    labels = List(labels.length()) { labels.getString(it) },
                    threshold = if (json.isNull("threshold")) null else json.getDouble("threshold").toFloat(),
                    notACar = if (json.isNull("notACar")) null else json.getString("notACar"),
                    model = json.getString("model"),
                    modelSha256 = if (json.isNull("modelSha256")) null else json.getString("modelSha256")
                )
            } catch (e: JSONException) {
                throw IllegalArgumentException("$file: ${e.message}; re-export the bundle", e)
            }
        }

        private fun openInterpreter(buffer: ByteBuffer, accelerator: Accelerator, threads: Int): Pair<Interpreter, GpuDelegate?> {
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

        /**
         * The bitmap's pixels as the reference reads a photo: RGBA bytes as stored, no colour conversion
         * (Bitmap.copyPixelsToBuffer; ARGB_8888 is R, G, B, A in memory). A bitmap with transparency is read with
         * getPixels instead, which un-premultiplies (and converts to sRGB, the only colour space transparent photos
         * come in here). Other configs (HARDWARE, RGB_565, RGBA_F16) are copied to ARGB_8888 first.
         */
        @JvmStatic
        @Deprecated("holds the whole photo on the Java heap (192 MB for 48 MP); classify reads it a band at a time")
        fun storedPixels(bitmap: Bitmap): Image {
            val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
            val w = argb.width
            val h = argb.height
            if (argb.hasAlpha()) {
                val px = IntArray(w * h)
                argb.getPixels(px, 0, w, 0, 0, w, h) // unpremultiplied ARGB ints
                val out = ByteArray(px.size * 4)
                for (i in px.indices) {
                    val p = px[i]
                    out[4 * i] = (p shr 16).toByte(); out[4 * i + 1] = (p shr 8).toByte(); out[4 * i + 2] = p.toByte()
                    out[4 * i + 3] = (p ushr 24).toByte()
                }
                return Image(out, w, h, 4)
            }
            val raw = ByteBuffer.allocate(argb.rowBytes * h)
            argb.copyPixelsToBuffer(raw)
            val bytes = raw.array()
            if (argb.rowBytes == 4 * w) return Image(bytes, w, h, 4)
            val packed = ByteArray(4 * w * h)
            for (y in 0 until h) System.arraycopy(bytes, y * argb.rowBytes, packed, y * 4 * w, 4 * w)
            return Image(packed, w, h, 4)
        }
    }

    /**
     * Classify a photo off the main thread (Dispatchers.Default); one call at a time per classifier (a Mutex: concurrent
     * calls wait their turn).
     * @param bitmap the photo as decoded, whole (any size; a HARDWARE bitmap is copied to ARGB_8888). Decode it without
     *   inSampleSize: the reference averages the full-resolution pixels itself (ReferenceResize.boxReduce)
     * @param exifOrientation ExifInterface.TAG_ORIENTATION of the photo file (1..8; 0 unknown). Pass 1 for a bitmap a
     *   decoder already rotated (ImageDecoder, Glide, Coil); CameraX gives degrees: Orientation.fromDegrees
     * @param roi the region of interest to classify, in pixels of the UPRIGHT photo (after [exifOrientation]; for a
     *   bitmap already rotated, its own pixels): x0 <= x < x1, y0 <= y < y1, inside the photo (Roi.RULE; nothing is
     *   clipped). Its pixels are cut at full resolution, then resized as the whole photo would be; only the stored rows
     *   and columns that hold it are read. Null: the whole photo
     * @throws IllegalArgumentException the ROI breaks Roi.RULE for the upright photo (one line naming the ROI, the
     *   photo's size and the rule)
     */
    suspend fun classify(bitmap: Bitmap, exifOrientation: Int, roi: Roi? = null): Classification =
        mutex.withLock { withContext(Dispatchers.Default) { classifyBlocking(bitmap, exifOrientation, roi) } }

    private val mutex = Mutex()
    private val lock = Any()

    /**
     * Classify on the calling thread (Java callers, background executors); one call at a time per classifier (others
     * wait). The photo is read a band of rows at a time (BandReduce): a 48 MP photo adds about 5 MB to the heap.
     * Parameters as [classify].
     * @throws IllegalStateException on the main thread: MediaPipe's classify and the Interpreter block for tens of ms
     * @throws IllegalArgumentException the ROI breaks Roi.RULE for the upright photo (one line)
     */
    @JvmOverloads
    fun classifyBlocking(bitmap: Bitmap, exifOrientation: Int, roi: Roi? = null): Classification {
        check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.classifyBlocking blocks; call classify() or use a background thread" }
        return synchronized(lock) {
            val prepared = BandReduce.prepare(BitmapRows(bitmap), exifOrientation, info.size, roi = roi)
            info.classification(
                if (classifier != null) mediapipe(prepared)
                else probabilities(ReferenceResize.bilinear(prepared.pixels, prepared.width, prepared.height, info.size)))
        }
    }

    /**
     * Two-pass recognition of a photo off the main thread (Dispatchers.Default), as carspotter's reference
     * (carspotter.model.localizer.two_pass, TwoPass.run): pass 1 classifies the region (the whole upright photo, or
     * [roi]) and reads the model's box output; TwoPass.boxToRoi makes a ROI of upright-photo pixels of the box; when
     * TwoPass.needsSecondPass says the car is small, pass 2 classifies that ROI exactly as [classify] with that ROI
     * would (its pixels cut at full resolution, then the usual resize), else the answer is pass 1's. One call at a time
     * per classifier, sharing [classify]'s Mutex. Needs a model with the box output (output 1, [1, 4]: a bundle exported
     * from a run with `carspotter localize`).
     * @param bitmap the photo as decoded, whole (as [classify]: decode it without inSampleSize)
     * @param exifOrientation ExifInterface.TAG_ORIENTATION of the photo file (1..8; 0 unknown), as [classify]
     * @param roi what pass 1 sees, in pixels of the UPRIGHT photo (Roi.RULE, as [classify]'s); null: the whole photo.
     *   The box, and pass 2's ROI, stay inside it
     * @return [TwoPassClassification]: `classification` (pass 2's answer when it ran, else pass 1's), `box` (pass 1's
     *   box output, 4 floats x0, y0, x1, y1 in 0..1 of the region), `roi` (the ROI pass 2 classified, upright-photo
     *   pixels, or null), `found` (the ROI made of the box, or null: no usable box), `passes` (1 or 2), `first` (pass 1's
     *   answer). Costs one classify, two when the car is small
     * @throws IllegalStateException the model has no box output (one line, TwoPass.NO_BOX: export from a run with a
     *   localizer); with Engine.MEDIAPIPE this is known after pass 1, with Engine.INTERPRETER before the photo is read
     * @throws IllegalArgumentException the ROI breaks Roi.RULE for the upright photo (one line), or exifOrientation is
     *   not 0..8
     */
    suspend fun twoPass(bitmap: Bitmap, exifOrientation: Int, roi: Roi? = null): TwoPassClassification =
        mutex.withLock { withContext(Dispatchers.Default) { twoPassBlocking(bitmap, exifOrientation, roi) } }

    /**
     * [twoPass] on the calling thread (Java callers, background executors); one call at a time per classifier, sharing
     * [classifyBlocking]'s lock. Each pass reads the photo a band of rows at a time (BandReduce), pass 2 only the ROI's
     * rows and columns. Parameters, answer and errors as [twoPass].
     * @throws IllegalStateException on the main thread; a model without the box output (one line)
     * @throws IllegalArgumentException the ROI breaks Roi.RULE for the upright photo (one line)
     */
    @JvmOverloads
    fun twoPassBlocking(bitmap: Bitmap, exifOrientation: Int, roi: Roi? = null): TwoPassClassification {
        check(Looper.myLooper() != Looper.getMainLooper()) { "CarSpotter.twoPassBlocking blocks; call twoPass() or use a background thread" }
        check(interpreter == null || hasBoxOutput) { TwoPass.NO_BOX }
        require(exifOrientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $exifOrientation" }
        return synchronized(lock) {
            val turned = exifOrientation >= 5
            val uw = if (turned) bitmap.height else bitmap.width
            val uh = if (turned) bitmap.width else bitmap.height
            val region = if (roi == null) Roi.whole(uw, uh) else Roi.check(roi, uw, uh)
            val rows = BitmapRows(bitmap)  // both passes read it (one ARGB_8888 copy of a HARDWARE bitmap, not two)
            val result = TwoPass.run(region,
                { r -> outputs(BandReduce.prepare(rows, exifOrientation, info.size, roi = r), true) },
                { r -> outputs(BandReduce.prepare(rows, exifOrientation, info.size, roi = r), false).first })
            TwoPassClassification.of(info, result)
        }
    }

    /** Whether the Interpreter's model has the box output (a second output tensor); false with MediaPipe (unknown). */
    private val hasBoxOutput: Boolean by lazy { interpreter != null && onWorker { interpreter.outputTensorCount } >= 2 }

    /**
     * The model on one prepared (upright, composited, box-reduced) image, by either engine: probabilities [C] 0..1 in
     * label order, and with [withBox] the box output (4 floats, null when the model has none).
     */
    private fun outputs(prepared: Image, withBox: Boolean): Pair<FloatArray, FloatArray?> =
        if (classifier != null) mediapipeOutputs(prepared, withBox)
        else {
            val input = ReferenceResize.bilinear(prepared.pixels, prepared.width, prepared.height, info.size)
            checkInput(input)
            onWorker { interpret(input, withBox) }
        }

    /** MediaPipe on the prepared (upright, composited, box-reduced) RGB pixels, as an opaque ARGB_8888 bitmap. */
    private fun mediapipe(image: Image): FloatArray = mediapipeOutputs(image, false).first

    /**
     * MediaPipe on the prepared pixels: head 0's categories as probabilities in label order, and with [withBox] head 1
     * ("box": category index() = coordinate 0..3, score() = its value) as 4 floats, a coordinate MediaPipe did not report
     * left NaN (then no box); null when the model has no second head.
     */
    private fun mediapipeOutputs(image: Image, withBox: Boolean): Pair<FloatArray, FloatArray?> {
        val rgba = ByteArray(image.width * image.height * 4)
        for (i in 0 until image.width * image.height) {
            rgba[4 * i] = image.pixels[3 * i]; rgba[4 * i + 1] = image.pixels[3 * i + 1]; rgba[4 * i + 2] = image.pixels[3 * i + 2]
            rgba[4 * i + 3] = -1
        }
        val bitmap = Bitmap.createBitmap(image.width, image.height, Bitmap.Config.ARGB_8888)
        bitmap.copyPixelsFromBuffer(ByteBuffer.wrap(rgba))
        val result = classifier!!.classify(BitmapImageBuilder(bitmap).build())
        val heads = result.classificationResult().classifications()
        val probs = FloatArray(info.labels.size)
        for (c in heads[0].categories()) probs[c.index()] = c.score()
        if (!withBox) return Pair(probs, null)
        val head = heads.firstOrNull { it.headIndex() == 1 } ?: return Pair(probs, null)
        val box = FloatArray(4) { Float.NaN }
        for (c in head.categories()) if (c.index() in 0..3) box[c.index()] = c.score()
        return Pair(probs, box)
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
        checkInput(input)
        return onWorker { interpret(input, false).first }
    }

    private fun checkInput(input: ByteArray) {
        val s = info.size
        require(input.size == s * s * 3) { "${input.size} bytes is not $s x $s x 3" }
    }

    /**
     * The Interpreter once on one exact input (on the worker): output 0 as probabilities [C], and with [withBox] output
     * 1 as the box (its values, 4 for a localizer's [1, 4]; null when the model has one output), both read in one run
     * (runForMultipleInputsOutputs). A float32 model gets the values 0..255 as floats, a full-int8 model (uint8 input)
     * the bytes; a uint8 output is dequantized with the tensor's own scale and zero point.
     */
    private fun interpret(input: ByteArray, withBox: Boolean): Pair<FloatArray, FloatArray?> {
        val interpreter = interpreter!!
        val uint8 = interpreter.getInputTensor(0).dataType() == DataType.UINT8
        val buffer = if (uint8) ByteBuffer.allocateDirect(input.size).put(input)
            else ByteBuffer.allocateDirect(4 * input.size).order(ByteOrder.nativeOrder()).also { b ->
                for (v in input) b.putFloat((v.toInt() and 0xFF).toFloat())
            }
        buffer.rewind()
        val probs = outputArray(0, info.labels.size)
        if (!withBox || interpreter.outputTensorCount < 2) {
            interpreter.run(buffer, probs)
            return Pair(outputValues(0, probs), null)
        }
        val box = outputArray(1, interpreter.getOutputTensor(1).numElements())
        interpreter.runForMultipleInputsOutputs(arrayOf<Any>(buffer), mapOf<Int, Any>(0 to probs, 1 to box))
        return Pair(outputValues(0, probs), outputValues(1, box))
    }

    /** Room for output [index]'s [n] values: [1, n] bytes for a uint8 (full-int8) tensor, else [1, n] floats. */
    private fun outputArray(index: Int, n: Int): Any =
        if (interpreter!!.getOutputTensor(index).dataType() == DataType.UINT8) Array(1) { ByteArray(n) }
        else Array(1) { FloatArray(n) }

    /** Output [index]'s values as floats: a uint8 tensor's as p = scale * (q - zeroPoint) (its own quantization). */
    private fun outputValues(index: Int, out: Any): FloatArray {
        val row = (out as Array<*>)[0]
        if (row is FloatArray) return row
        val q = row as ByteArray
        val params = interpreter!!.getOutputTensor(index).quantizationParams()
        return FloatArray(q.size) { i -> params.scale * ((q[i].toInt() and 0xFF) - params.zeroPoint) }
    }

    override fun close() {
        classifier?.close()
        if (worker != null) {
            onWorker { interpreter?.close(); gpu?.close() }
            worker.shutdown()
        }
    }
}
