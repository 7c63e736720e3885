// Where a model delivered apart from the library's assets is found and how its bytes are read, for CarSpotter's
// create(context, modelFile) and createFromAiPack: a file mapped read-only (the same bytes then hashed and loaded), an
// asset mapped through its descriptor or, when the build compressed it, read into a direct buffer; a Play for On-device
// AI pack located with AiPackManager (com.google.android.play:ai-delivery, a compileOnly dependency: the app that uses
// AI packs adds it, an app that does not never loads these classes).
package dev.carspotter

import android.content.Context
import android.content.res.AssetManager
import java.io.File
import java.io.FileInputStream
import java.io.FileNotFoundException
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.channels.FileChannel

internal object DeliveredModel {
    /** The Play AI Delivery library an app adds to load the model from an AI pack (the version Google's guide names). */
    const val AI_DELIVERY = "com.google.android.play:ai-delivery:0.1.1-alpha01"

    /**
     * The file mapped read-only: MediaPipe and the Interpreter take the mapping as their model buffer; it outlives the
     * channel (FileChannel.map).
     * @throws FileNotFoundException it is missing or a folder (the message names it)
     */
    fun map(file: File): ByteBuffer {
        if (!file.isFile) throw FileNotFoundException("model $file is not a file (missing, or a folder); deliver the bundle's .tflite there first")
        return FileInputStream(file).use { it.channel.map(FileChannel.MapMode.READ_ONLY, 0, it.channel.size()) }
    }

    /**
     * An asset's bytes: mapped through its descriptor when stored uncompressed (noCompress "tflite"), else read into a
     * direct buffer (its size in native memory).
     * @param pack the AI pack it belongs to, named in the error (null: the library's own asset)
     * @throws FileNotFoundException it is not in the app's assets
     */
    fun asset(assets: AssetManager, path: String, pack: String?): ByteBuffer {
        try {
            return assets.openFd(path).use { fd ->
                FileInputStream(fd.fileDescriptor).use { it.channel.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength) }
            }
        } catch (e: FileNotFoundException) {
            // missing, or compressed in the APK (openFd refuses those): read it whole if it is there
        }
        val bytes = try {
            assets.open(path).use { it.readBytes() }
        } catch (e: IOException) {
            throw FileNotFoundException(if (pack == null) "$path is not in the app's assets; re-add the bundle's android/ module"
                else notDelivered(pack, "$path is not in the app's assets (an install-time pack) and AiPackManager has no folder for it"))
        }
        return ByteBuffer.allocateDirect(bytes.size).put(bytes).also { it.rewind() }
    }

    /**
     * The model file of a fast-follow or on-demand AI pack already on the device ([relative] under the pack's
     * assetsPath()), or null when AiPackManager has no folder for it (an install-time pack is in the app's assets; a
     * pack not fetched yet, or an app without the ai-delivery library, is not).
     * @throws FileNotFoundException the pack's folder is there but the model is not in it
     */
    fun inAiPack(context: Context, pack: String, relative: String): File? {
        val assetsPath = try {
            PlayAiPacks.assetsPath(context, pack)
        } catch (e: NoClassDefFoundError) {
            null // no ai-delivery library in the app: only an install-time pack (the app's assets) can be read
        } ?: return null
        val file = File(assetsPath, relative)
        if (!file.isFile) throw FileNotFoundException(notDelivered(pack, "its folder $assetsPath has no $relative"))
        return file
    }

    private fun notDelivered(pack: String, why: String) =
        "the model of AI pack $pack is not on this device: $why; fetch the pack first (AiPackManager.fetch(listOf(\"$pack\")), " +
            "until AiPackStatus.COMPLETED) with $AI_DELIVERY in the app's dependencies"
}

/** The only code that names AiPackManager's classes: loaded only when an app asks for an AI pack. */
private object PlayAiPacks {
    /** AiPackManager.getPackLocation(pack).assetsPath(): null for an unknown or not yet downloaded pack, or an install-time one. */
    fun assetsPath(context: Context, pack: String): String? {
        val location = com.google.android.play.core.aipacks.AiPackManagerFactory.getInstance(context.applicationContext)
            .getPackLocation(pack) ?: return null
        if (location.packStorageMethod() != com.google.android.play.core.aipacks.model.AiPackStorageMethod.STORAGE_FILES) return null
        return location.assetsPath()
    }
}
