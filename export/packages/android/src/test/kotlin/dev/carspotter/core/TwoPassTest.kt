// JVM unit tests of the two-pass box logic (TwoPass.kt, as carspotter.model.two_pass): every row of the golden set's
// box vectors (golden/two_pass/box_vectors.txt: float32 bit patterns in, the reference's ROI and pass out), a few
// cases worked by hand, and the recognition around it (TwoPass.run) with fake passes in place of the model.
package dev.carspotter.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertSame
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
        // px floor(0.25 * 4032) = 1008 .. ceil(0.75 * 4032) = 3024, likewise 756 .. 2268
        val middle = TwoPass.boxToRoi(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f), photo)
        assertEquals(Roi(1008, 756, 3024, 2268), middle)
        assertTrue(TwoPass.needsSecondPass(middle, photo))
        // clamped to the region (13, 7)..(514, 398): x 13 + 0 .. 13 + ceil(0.3f * 501) = 164, y 7 + floor(0.1f * 391) = 46 .. 398
        val odd = Roi(13, 7, 514, 398)
        assertEquals(Roi(13, 46, 164, 398), TwoPass.boxToRoi(floatArrayOf(-0.5f, 0.1f, 0.3f, 2f), odd))
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

    /** Fake passes: pass 1 gives [first] and [box] whatever the region; pass 2 gives [second]; both record their calls. */
    private class Fake(val box: FloatArray?, val first: FloatArray = floatArrayOf(0.7f, 0.2f, 0.1f),
                       val second: FloatArray = floatArrayOf(0.1f, 0.1f, 0.8f)) {
        val pass1Regions = ArrayList<Roi>()
        val pass2Rois = ArrayList<Roi>()

        fun run(region: Roi): TwoPassResult = TwoPass.run(region,
            { r -> pass1Regions.add(r); Pair(first, box) },
            { r -> pass2Rois.add(r); second })
    }

    @Test
    fun secondPassRunsOnlyWhenTheBoxIsSmall() {
        val photo = Roi.whole(4032, 3024)
        val small = Fake(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f))
        val two = small.run(photo)
        assertEquals(listOf(photo), small.pass1Regions)
        assertEquals(listOf(Roi(1008, 756, 3024, 2268)), small.pass2Rois)  // the ROI worked by hand above
        assertEquals(2, two.passes)
        assertSame(small.second, two.probabilities)
        assertSame(small.first, two.first)
        assertArrayEquals(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f), two.box, 0f)
        assertEquals(Roi(1008, 756, 3024, 2268), two.roi)
        assertEquals(two.roi, two.found)
        // a box nearly filling the region (3832 x 2874 of 4032 x 3024, not below 9/10): found, but one pass is enough
        val large = Fake(floatArrayOf(0.02f, 0.03f, 0.97f, 0.98f))
        val one = large.run(photo)
        assertEquals(1, one.passes)
        assertTrue(large.pass2Rois.isEmpty())
        assertSame(large.first, one.probabilities)
        assertSame(large.first, one.first)
        assertNull(one.roi)
        assertEquals(Roi(80, 90, 3912, 2964), one.found)
    }

    @Test
    fun noUsableBoxIsOnePassAndNothingFound() {
        val photo = Roi.whole(640, 480)
        for (box in listOf(floatArrayOf(Float.NaN, 0.1f, 0.5f, 0.5f), floatArrayOf(0.1f, 0.1f, 0.1f, 0.9f),
                           floatArrayOf(0.6f, 0.2f, 0.4f, 0.8f))) {
            val fake = Fake(box)
            val answer = fake.run(photo)
            assertEquals(1, answer.passes)
            assertNull(answer.found)
            assertNull(answer.roi)
            assertTrue(fake.pass2Rois.isEmpty())
            assertSame(fake.first, answer.probabilities)
            assertSame(box, answer.box)  // the raw box, NaN included
        }
    }

    @Test
    fun aCallersRegionOffsetsTheRoiAndHoldsIt() {
        // pass 1 on the region 1000..3000 x 500..2000: px 1000 + 500 .. 1000 + 1500 x 500 + 375 .. 500 + 1125
        val region = Roi(1000, 500, 3000, 2000)
        val fake = Fake(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f))
        val answer = fake.run(region)
        assertEquals(listOf(region), fake.pass1Regions)
        assertEquals(Roi(1500, 875, 2500, 1625), answer.roi)
        assertEquals(listOf(Roi(1500, 875, 2500, 1625)), fake.pass2Rois)
        // a box reaching past the region's edges: clamped inside the region, pass 2 on that ROI
        val odd = Roi(13, 7, 514, 398)
        val past = Fake(floatArrayOf(-0.5f, 0.1f, 0.3f, 2f))
        val inside = past.run(odd)
        assertEquals(Roi(13, 46, 164, 398), inside.roi)
        val roi = inside.roi!!
        assertTrue(roi.x0 >= odd.x0 && roi.y0 >= odd.y0 && roi.x1 <= odd.x1 && roi.y1 <= odd.y1)
        assertEquals(2, inside.passes)
    }

    @Test
    fun aModelWithoutBoxIsRefusedInOneLine() {
        val fake = Fake(null)
        val e = try {
            fake.run(Roi.whole(640, 480))
            null
        } catch (e: IllegalStateException) {
            e
        }
        assertEquals(TwoPass.NO_BOX, e?.message)
        assertTrue(TwoPass.NO_BOX.contains("carspotter localize") && !TwoPass.NO_BOX.contains("\n"))
        assertTrue(fake.pass2Rois.isEmpty())
        val three = try {
            Fake(floatArrayOf(0f, 0f, 1f)).run(Roi.whole(640, 480))
            null
        } catch (e: IllegalStateException) {
            e.message
        }
        assertEquals("carspotter: the model's box output gave 3 numbers, not 4 (x0, y0, x1, y1)", three)
    }

    @Test
    fun theAppsAnswerIsClassifyOnTheLastPass() {
        val info = BundleInfo(4, listOf("a", "b", "c"), 0.5f, "c", "carspotter.tflite")
        val two = TwoPassClassification.of(info, Fake(floatArrayOf(0.25f, 0.25f, 0.75f, 0.75f)).run(Roi.whole(640, 480)))
        assertEquals(2, two.passes)
        assertEquals("c", two.best.label)  // pass 2's top-1, the "not a car" class: not shown
        assertTrue(two.classification.notACar && !two.show)
        assertEquals("a", two.first.best.label)
        assertTrue(two.first.show)
        val one = TwoPassClassification.of(info, Fake(floatArrayOf(0f, 0f, 1f, 1f)).run(Roi.whole(640, 480)))
        assertEquals(1, one.passes)
        assertSame(one.first, one.classification)
        assertEquals(Roi.whole(640, 480), one.found)
    }
}
