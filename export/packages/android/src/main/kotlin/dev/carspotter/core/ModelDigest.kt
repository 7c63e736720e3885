// The model digest every carspotter package recomputes before it loads a model delivered apart from the app
// (carspotter.json's `modelSha256`; Python: carspotter.contracts.bundle_facts.model_digest). The Android model is one
// .tflite file: the SHA-256 of its bytes, what `sha256sum FILE` prints. Files and streams are read CHUNK bytes at a
// time, never whole; a mapped or direct ByteBuffer is hashed where it lies (the bytes then handed to the runtime are
// the bytes hashed). Pure Kotlin (java.security.MessageDigest), within language level 1.3.
package dev.carspotter.core

import java.io.File
import java.io.FileInputStream
import java.io.IOException
import java.io.InputStream
import java.nio.ByteBuffer
import java.security.MessageDigest

/**
 * A model whose SHA-256 is not the one carspotter.json gives it: damaged, incomplete or another model. It is never
 * loaded; download it again. An IOException, as a failed download is.
 * @property expected carspotter.json's `modelSha256` (64 lower-case hex digits)
 * @property found the digest of the bytes read (64 lower-case hex digits)
 * @property file the model file (for a model in the app's assets, its asset path)
 */
class ModelDigestMismatchException(val expected: String, val found: String, val file: File) : IOException(
    "model $file has SHA-256 $found, not carspotter.json's modelSha256 $expected: damaged, incomplete or another model; not loaded, download it again"
)

/** SHA-256 of a model's bytes, and the check against carspotter.json's `modelSha256`. */
object ModelDigest {
    /** Bytes read (or hashed) at a time: 1 MiB. */
    const val CHUNK = 1 shl 20

    /** The SHA-256 of everything [input] gives until its end (read CHUNK bytes at a time; not closed): 64 hex digits. */
    fun sha256(input: InputStream): String {
        val digest = MessageDigest.getInstance("SHA-256")
        val chunk = ByteArray(CHUNK)
        while (true) {
            val n = input.read(chunk)
            if (n < 0) break
            digest.update(chunk, 0, n)
        }
        return hex(digest.digest())
    }

    /**
     * The SHA-256 of a model file's bytes (`sha256sum FILE`): 64 hex digits.
     * @throws java.io.FileNotFoundException it is missing or a folder (the Android model is one .tflite file)
     */
    fun sha256(file: File): String {
        if (!file.isFile) throw java.io.FileNotFoundException("model $file is not a file (missing, or a folder)")
        return FileInputStream(file).use { sha256(it) }
    }

    /** The SHA-256 of the bytes from [buffer]'s position to its limit, CHUNK at a time; the buffer is left as it was. */
    fun sha256(buffer: ByteBuffer): String {
        val digest = MessageDigest.getInstance("SHA-256")
        val view = buffer.duplicate()
        while (view.hasRemaining()) {
            val slice = view.duplicate()
            slice.limit(slice.position() + Math.min(CHUNK, slice.remaining()))
            digest.update(slice)
            view.position(slice.limit())
        }
        return hex(digest.digest())
    }

    /** Lower-case hex of [bytes]. */
    fun hex(bytes: ByteArray): String {
        val out = StringBuilder(2 * bytes.size)
        for (b in bytes) {
            val v = b.toInt() and 0xFF
            out.append(DIGITS[v shr 4]).append(DIGITS[v and 15])
        }
        return out.toString()
    }

    private const val DIGITS = "0123456789abcdef"

    /**
     * carspotter.json's `modelSha256`, checked to be one, in lower case.
     * @throws IllegalArgumentException null or not 64 hex digits (carspotter.json without modelSha256)
     */
    fun expectedDigest(digest: String?): String {
        require(digest != null && digest.length == 64 && digest.toLowerCase().all { it in DIGITS }) {
            "carspotter.json has no valid modelSha256 ($digest); re-export the bundle"
        }
        return digest.toLowerCase()
    }

    /**
     * Check a digest against carspotter.json's.
     * @return [found] (lower case)
     * @throws ModelDigestMismatchException they differ
     * @throws IllegalArgumentException [expected] is not a digest ([expected])
     */
    fun check(found: String, expected: String?, file: File): String {
        val want = expectedDigest(expected)
        if (found.toLowerCase() != want) throw ModelDigestMismatchException(want, found.toLowerCase(), file)
        return want
    }

    /** [check] the model file's digest (its bytes streamed CHUNK at a time). */
    fun verify(file: File, expected: String?): String = check(sha256(file), expectedDigest(expected), file)

    /** [check] the digest of the bytes in [buffer] (a mapped model: what the runtime is then given), named [file]. */
    fun verify(buffer: ByteBuffer, expected: String?, file: File): String = check(sha256(buffer), expectedDigest(expected), file)
}
