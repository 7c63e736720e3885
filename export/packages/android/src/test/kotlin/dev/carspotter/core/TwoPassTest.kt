// JVM unit tests of the two-pass box logic (TwoPass.kt, as carspotter.model.two_pass): every row of the golden set's
// box vectors (golden/two_pass/box_vectors.txt: float32 bit patterns in, the reference's ROI and pass out), and a few
// cases worked by hand.
package dev.carspotter.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

class TwoPassTest {
    private val golden = File(System.getProperty("carspotter.golden") ?: "../golden")

    private fun roi(text: String): Roi = text.split(",").map { it.toInt() }.let { Roi(it[0], it[1], it[2], it[3]) }

    @Test
    fun everyBoxVectorAgrees() {
        assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)
        val index = File(golden, "two_pass/box_vectors.txt")
        assertTrue("no box vectors at $index (set -Dcarspotter.golden)", index.isFile)
        val rows = index.readLines().filter { it.isNotEmpty() && !it.startsWith("#") }
        assertTrue(rows.size >= 100)
        val wrong = ArrayList<String>()
        for (line in rows) {
            val f = line.split("\t")
            assertEquals("fields of '$line'", 5, f.size)
            val region = roi(f[0])
            val box = f[1].split(",").map { java.lang.Float.intBitsToFloat(java.lang.Long.parseLong(it, 16).toInt()) }.toFloatArray()
            val got = TwoPass.boxToRoi(box, region)
            val pass = if (TwoPass.needsSecondPass(got, region)) "2" else "1"
            if ((got?.text() ?: "-") != f[3] || pass != f[4]) wrong.add("$line -> ${got?.text() ?: "-"}\t$pass")
        }
        assertTrue("${wrong.size} of ${rows.size} box vectors differ:\n" + wrong.joinToString("\n"), wrong.isEmpty())
    }

    @Test
    fun boxesWorkedByHand() {
        val photo = Roi.whole(4032, 3024)
        // px 1008..3024 x 756..2268, margins 2016 / 8 = 252 and 1512 / 8 = 189
        val middle = TwoPass.boxToRoi(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f), photo)
        assertEquals(Roi(756, 567, 3276, 2457), middle)
        assertTrue(TwoPass.needsSecondPass(middle, photo))
        // clamped to the region (13, 7)..(514, 398), the margin kept inside it
        val odd = Roi(13, 7, 514, 398)
        assertEquals(Roi(13, 7, 182, 398), TwoPass.boxToRoi(floatArrayOf(-0.5f, 0.1f, 0.3f, 2f), odd))
        // the whole photo: one pass
        assertEquals(photo, TwoPass.boxToRoi(floatArrayOf(0f, 0f, 1f, 1f), photo))
        assertFalse(TwoPass.needsSecondPass(photo, photo))
        // no box: not finite, reversed, under 8 px, not 4 values
        assertNull(TwoPass.boxToRoi(floatArrayOf(Float.NaN, 0.1f, 0.5f, 0.5f), photo))
        assertNull(TwoPass.boxToRoi(floatArrayOf(0.1f, 0.1f, Float.POSITIVE_INFINITY, 0.5f), photo))
        assertNull(TwoPass.boxToRoi(floatArrayOf(0.6f, 0.2f, 0.4f, 0.8f), photo))
        assertNull(TwoPass.boxToRoi(floatArrayOf(0f, 0f, 0.1f, 0.1f), Roi.whole(40, 40)))
        assertNull(TwoPass.boxToRoi(floatArrayOf(0f, 0f, 1f), photo))
        assertFalse(TwoPass.needsSecondPass(null, photo))
    }
}
