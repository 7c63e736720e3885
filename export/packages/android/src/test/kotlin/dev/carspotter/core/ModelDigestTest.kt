// JVM unit tests of the model digest (ModelDigest): the library's own model, read from its asset folder, is accepted
// intact and refused with one byte changed, whichever way its bytes are read (stream, file, mapped buffer). Run by
// `./gradlew :carspotter:testDebugUnitTest` (the asset folder is src/main/assets; -Dcarspotter.assets=DIR elsewhere)
// and by the bundle's build with Kotlin 1.3 (tests/test_android_delivery.py), which also passes the digest Python
// computes (-Dcarspotter.pythonSha256=HEX: carspotter.contracts.bundle_facts.model_digest) to compare with.
package dev.carspotter.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNotEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import java.io.ByteArrayInputStream
import java.io.File
import java.io.RandomAccessFile
import java.nio.ByteBuffer
import java.nio.channels.FileChannel
import java.security.MessageDigest

class ModelDigestTest {
    private val folder = File(System.getProperty("carspotter.assets") ?: "src/main/assets", BundleConstants.ASSETS)
    private val facts = File(folder, "carspotter.json").readText(Charsets.UTF_8)

    /** A string value of carspotter.json (its keys and these values are plain ASCII: no escapes to undo). */
    private fun fact(key: String): String =
        Regex("\"$key\"\\s*:\\s*\"([^\"]*)\"").find(facts)?.groupValues?.get(1) ?: throw AssertionError("no $key in carspotter.json")

    private val model = File(folder, fact("model"))
    private val expected = fact("modelSha256")

    private fun mapped(file: File): ByteBuffer =
        RandomAccessFile(file, "r").use { it.channel.map(FileChannel.MapMode.READ_ONLY, 0, it.length()) }

    @Test
    fun theIntactModelIsAcceptedAndItsDigestIsPythons() {
        assertTrue("no model at $model", model.isFile)
        assertEquals(expected, ModelDigest.verify(model, expected))
        assertEquals(expected, ModelDigest.verify(mapped(model), expected, model))
        assertEquals(expected, model.inputStream().use { ModelDigest.sha256(it) })
        val python = System.getProperty("carspotter.pythonSha256")
        if (python != null) assertEquals("Python's model_digest", python, ModelDigest.sha256(model))
    }

    @Test
    fun aModelWithOneByteChangedIsRefused() {
        val copy = File.createTempFile("carspotter", ".tflite")
        try {
            model.copyTo(copy, overwrite = true)
            RandomAccessFile(copy, "rw").use { f ->
                val at = f.length() / 2
                f.seek(at)
                val b = f.read()
                f.seek(at)
                f.write(b xor 1)
            }
            for (check in listOf({ ModelDigest.verify(copy, expected) }, { ModelDigest.verify(mapped(copy), expected, copy) })) {
                try {
                    check()
                    fail("a model with one byte changed was accepted")
                } catch (e: ModelDigestMismatchException) {
                    assertEquals(expected, e.expected)
                    assertNotEquals(expected, e.found)
                    assertEquals(copy, e.file)
                    val message = e.message ?: ""
                    assertTrue(message, message.contains(expected) && message.contains(e.found) && message.contains(copy.path))
                    assertFalse("one line: $message", message.contains("\n"))
                }
            }
        } finally {
            copy.delete()
        }
    }

    @Test
    fun digestsAreSha256AcrossChunkBoundaries() {
        assertEquals("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                     ModelDigest.sha256(ByteArrayInputStream("abc".toByteArray())))
        val bytes = ByteArray(2 * ModelDigest.CHUNK + 3) { (it * 7 + it / 1000).toByte() }
        val whole = ModelDigest.hex(MessageDigest.getInstance("SHA-256").digest(bytes))
        assertEquals(whole, ModelDigest.sha256(ByteArrayInputStream(bytes)))
        val direct = ByteBuffer.allocateDirect(bytes.size).put(bytes)
        direct.rewind()
        assertEquals(whole, ModelDigest.sha256(direct))
        assertEquals("the buffer is left as it was", 0, direct.position())
    }

    @Test
    fun aMissingOrMalformedExpectedDigestIsNamed() {
        for (bad in listOf(null, "", "xyz", expected.substring(1))) {
            try {
                ModelDigest.check(expected, bad, model)
                fail("accepted $bad as carspotter.json's modelSha256")
            } catch (e: IllegalArgumentException) {
                assertTrue(e.message, (e.message ?: "").contains("modelSha256"))
            }
        }
        assertEquals(expected, ModelDigest.check(expected.toUpperCase(), expected, model))
    }
}
