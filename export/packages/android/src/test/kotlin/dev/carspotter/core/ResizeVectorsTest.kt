// JVM unit tests of the pure-Kotlin core: the golden set's resize vectors bit for bit (EXIF orientation and region of
// interest included) through each path, EXIF orientations as Pillow applies them, the parity rule and the answer.
// RoiTest.kt and TwoPassTest.kt: ROIs refused and accepted, the two-pass box logic. `./gradlew test` from the
// bundle's android/ folder (the golden set is ../golden; -Dcarspotter.golden=DIR elsewhere).
package dev.carspotter.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File
import java.security.MessageDigest

/** Why the golden-set tests skip in a bundle exported with --golden 0 (JUnit's Assume: skipped, not failed). */
internal const val NO_GOLDEN = "skipped: this bundle has no golden set (exported with --golden 0), so no resize vectors or golden photos to check; export with --golden N to test"

class ResizeVectorsTest {
    private val golden = File(System.getProperty("carspotter.golden") ?: "../golden")

    /** [check] on every vector (at least 10) with its stored photo, read from the golden set one at a time. */
    private fun eachVector(check: (ResizeVectors.Row, Image) -> Unit) {
        assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)
        val index = File(golden, "resize/vectors.txt")
        assertTrue("no resize vectors at $index (set -Dcarspotter.golden)", index.isFile)
        val rows = ResizeVectors.rows(index.readText())
        assertTrue(rows.size >= 10)
        for (row in rows) {
            val photo = ResizeVectors.photo(row.photo, row.width, row.height) { File(golden, "resize/" + it).readBytes() }
            assertEquals(row.name, listOf(row.width, row.height, row.channels), listOf(photo.width, photo.height, photo.channels))
            check(row, photo)
        }
    }

    private fun expected(row: ResizeVectors.Row): ByteArray = Pnm.parse(File(golden, "resize/" + row.expected).readBytes()).pixels

    private fun sha256(bytes: ByteArray): String =
        MessageDigest.getInstance("SHA-256").digest(bytes).joinToString("") { String.format("%02x", it) }

    @Test
    fun everyResizeVectorIsBitExact() {
        // the steps one after another: upright (EXIF orientation), the ROI cut, the reference resize
        eachVector { row, photo ->
            val want = expected(row)
            val got = ReferenceResize.resize(photo, row.orientation, row.roi, row.size)
            var differing = 0
            for (i in got.indices) if (got[i] != want[i]) differing++
            assertEquals("${row.name}: values differing from the reference", 0, differing)
            assertEquals(row.name, row.sha256, sha256(got))
        }
    }

    @Test
    fun everyResizeVectorIsBitExactThroughTheFusedPath() {
        // ReferenceResize.prepare: orientation and ROI read through, no upright copy; then the bilinear step
        eachVector { row, photo ->
            val reduced = ReferenceResize.prepare(photo.pixels, photo.width, photo.height, photo.channels, row.orientation,
                                                  row.size, row.roi)
            assertArrayEquals("${row.name}: fused path", expected(row),
                              ReferenceResize.bilinear(reduced.pixels, reduced.width, reduced.height, row.size))
        }
    }

    @Test
    fun everyResizeVectorIsBitExactThroughTheBandPath() {
        // BandReduce.prepare (what CarSpotter.classify runs), 7 stored rows at a time, orientation and ROI applied
        eachVector { row, photo ->
            val reduced = BandReduce.prepare(PackedPixels(photo.pixels, photo.width, photo.height, photo.channels),
                                             row.orientation, row.size, 7, row.roi)
            assertArrayEquals("${row.name}: band path", expected(row),
                              ReferenceResize.bilinear(reduced.pixels, reduced.width, reduced.height, row.size))
        }
    }

    @Test
    fun indexRowsReadTenFieldsAndOldEightFieldRowsAsUprightWholePhotos() {
        val rows = ResizeVectors.rows("# header\n" +
            "old\told.ppm\told.out.ppm\t4\t3\t3\t2\tab\n" +
            "new\tnew.pam\tnew.out.ppm\t4\t3\t4\t2\tcd\t6\t1,2,3,4\n" +
            "whole\tgen:7\twhole.out.ppm\t4\t3\t3\t2\tef\t3\t-\n")
        assertEquals(listOf("old", "new", "whole"), rows.map { it.name })
        assertEquals(listOf(1, 6, 3), rows.map { it.orientation })
        assertEquals(listOf(null, Roi(1, 2, 3, 4), null), rows.map { it.roi })
        assertEquals(listOf(3, 4, 3), rows.map { it.channels })
        try { ResizeVectors.rows("bad\tx\ty\n"); throw AssertionError("accepted 3 fields") } catch (e: IllegalArgumentException) {}
    }

    @Test
    fun boxReduceAveragesPartialBoxesRoundingHalvesUp() {
        // 7 x 1 grey-as-RGB row, size 2: kx = 3 -> boxes [0,3) [3,6) [6,7): 32/3 -> 11, 3/3 -> 1, 7
        val row = intArrayOf(10, 11, 11, 0, 1, 2, 7)
        val rgb = ByteArray(21) { row[it / 3].toByte() }
        val out = ReferenceResize.boxReduce(rgb, 7, 1, 2)
        assertEquals(3, out.width)
        assertArrayEquals(byteArrayOf(11, 11, 11, 1, 1, 1, 7, 7, 7), out.pixels)
        // one 2 x 2 box (size 1): 1/4 -> 0, 2/4 -> 1 (halves round up)
        val quarter = intArrayOf(0, 0, 1, 0)
        val half = intArrayOf(1, 0, 1, 0)
        assertArrayEquals(byteArrayOf(0, 0, 0), ReferenceResize.boxReduce(ByteArray(12) { quarter[it / 3].toByte() }, 2, 2, 1).pixels)
        assertArrayEquals(byteArrayOf(1, 1, 1), ReferenceResize.boxReduce(ByteArray(12) { half[it / 3].toByte() }, 2, 2, 1).pixels)
        assertArrayEquals(intArrayOf(13, 10), ReferenceResize.boxFactors(4032, 3024, 299))
    }

    @Test
    fun prepareOrientsCompositesAndReducesAsTheStepsInTurn() {
        // the fused path (no upright copy) against Orientation.upright, compositeOnWhite and boxReduce one after another
        val random = java.util.Random(7)
        for (case in 0 until 48) {
            val w = 1 + random.nextInt(90); val h = 1 + random.nextInt(90); val c = if (case % 3 == 0) 4 else 3
            val size = 1 + random.nextInt(40)
            val pixels = ByteArray(w * h * c).also { random.nextBytes(it) }
            for (o in 1..8) {
                val up = Orientation.upright(Image(pixels, w, h, c), o)
                val rgb = if (c == 4) ReferenceResize.compositeOnWhite(up.pixels) else up.pixels
                val want = ReferenceResize.boxReduce(rgb, up.width, up.height, size)
                val got = ReferenceResize.prepare(pixels, w, h, c, o, size)
                assertEquals("$w x $h x $c, orientation $o", listOf(want.width, want.height), listOf(got.width, got.height))
                assertArrayEquals("$w x $h x $c, orientation $o, size $size", want.pixels, got.pixels)
                val band = 1 + random.nextInt(5)  // the band path, bands of 1..5 stored rows
                val banded = BandReduce.prepare(PackedPixels(pixels, w, h, c), o, size, band)
                assertEquals("band $band", listOf(want.width, want.height), listOf(banded.width, banded.height))
                assertArrayEquals("$w x $h x $c, orientation $o, size $size, band $band", want.pixels, banded.pixels)
            }
        }
    }

    @Test
    fun prepareCutsARoiAsTheStepsInTurn() {
        // random ROIs of random photos in all 8 orientations: the fused and band paths against upright, cut, composite,
        // boxReduce one after another
        val random = java.util.Random(11)
        for (case in 0 until 40) {
            val w = 1 + random.nextInt(90); val h = 1 + random.nextInt(90); val c = if (case % 3 == 0) 4 else 3
            val size = 1 + random.nextInt(30)
            val pixels = ByteArray(w * h * c).also { random.nextBytes(it) }
            for (o in 1..8) {
                val up = Orientation.upright(Image(pixels, w, h, c), o)
                val x0 = random.nextInt(up.width); val y0 = random.nextInt(up.height)
                val roi = Roi(x0, y0, x0 + 1 + random.nextInt(up.width - x0), y0 + 1 + random.nextInt(up.height - y0))
                val cut = roi.cut(up)
                val want = ReferenceResize.boxReduce(if (c == 4) ReferenceResize.compositeOnWhite(cut.pixels) else cut.pixels,
                                                     cut.width, cut.height, size)
                val what = "$w x $h x $c, orientation $o, ROI ${roi.text()}, size $size"
                val fused = ReferenceResize.prepare(pixels, w, h, c, o, size, roi)
                assertEquals(what, listOf(want.width, want.height), listOf(fused.width, fused.height))
                assertArrayEquals(what, want.pixels, fused.pixels)
                val band = 1 + random.nextInt(5)
                val banded = BandReduce.prepare(PackedPixels(pixels, w, h, c), o, size, band, roi)
                assertEquals("$what, band $band", listOf(want.width, want.height), listOf(banded.width, banded.height))
                assertArrayEquals("$what, band $band", want.pixels, banded.pixels)
            }
        }
    }

    @Test
    fun rejectsWrongSizesAndChannels() {
        try { ReferenceResize.resize(ByteArray(5), 2, 1, 3, 4); throw AssertionError("accepted 5 bytes") } catch (e: IllegalArgumentException) {}
        try { ReferenceResize.resize(ByteArray(4), 2, 1, 2, 4); throw AssertionError("accepted 2 channels") } catch (e: IllegalArgumentException) {}
    }
}

/**
 * A 48 MP photo (8000 x 6000, the generated pattern of the resize vectors, seed 48) through the band path under a
 * 256 MiB heap (the runner's -Xmx256m; build.gradle.kts sets it for the unit tests): its stored pixels alone would be
 * 144 MB as RGB, 192 MB as RGBA. Checked against the Python reference's sha256 of the 299 px result when the runner
 * passes it (-Dcarspotter.photo48mp=ORIENTATION:SHA,...), and always box by box against sums read from the pattern.
 */
class Photo48MpTest {
    private val width = 8000
    private val height = 6000
    private val seed = 48
    private val size = 299

    @Test
    fun a48MpPhotoIsReducedInBandsWithinA256MiBHeap() {
        assertTrue("run with -Xmx256m (max heap ${Runtime.getRuntime().maxMemory() shr 20} MiB)",
            Runtime.getRuntime().maxMemory() <= 256L shl 20)
        val expected = (System.getProperty("carspotter.photo48mp") ?: "").split(",").filter { it.isNotEmpty() }
            .associate { val kv = it.split(":"); kv[0].toInt() to kv[1] }
        for (o in intArrayOf(1, 6)) {
            val reduced = BandReduce.prepare(ResizeVectors.Generated(width, height, seed), o, size)
            assertEquals("orientation $o", if (o == 1) listOf(308, 300) else listOf(300, 308), listOf(reduced.width, reduced.height))
            for (cell in listOf(0 to 0, reduced.width - 1 to 0, 0 to reduced.height - 1, reduced.width - 1 to reduced.height - 1, 150 to 151)) {
                assertArrayEquals("orientation $o, box $cell", boxMean(o, cell.first, cell.second, reduced.width),
                    reduced.pixels.copyOfRange((cell.second * reduced.width + cell.first) * 3, (cell.second * reduced.width + cell.first) * 3 + 3))
            }
            val out = ReferenceResize.bilinear(reduced.pixels, reduced.width, reduced.height, size)
            val sha = MessageDigest.getInstance("SHA-256").digest(out).joinToString("") { String.format("%02x", it) }
            expected[o]?.let { assertEquals("orientation $o: the Python reference's 299 px result", it, sha) }
        }
    }

    /** One box's mean straight from the pattern: each upright pixel's stored row read on its own. */
    private fun boxMean(o: Int, ox: Int, oy: Int, outW: Int): ByteArray {
        val uw = if (o >= 5) height else width
        val uh = if (o >= 5) width else height
        val k = ReferenceResize.boxFactors(uw, uh, size)
        val row = IntArray(width)
        val sums = LongArray(3)
        var n = 0L
        for (y in oy * k[1] until Math.min(uh, (oy + 1) * k[1])) for (x in ox * k[0] until Math.min(uw, (ox + 1) * k[0])) {
            val p = Orientation.source(o, x, y, width, height)
            ResizeVectors.generatedRows(width, height, seed, p / width, 1, row)
            val v = row[p % width]
            sums[0] += ((v shr 16) and 0xFF).toLong(); sums[1] += ((v shr 8) and 0xFF).toLong(); sums[2] += (v and 0xFF).toLong()
            n++
        }
        assertTrue(outW > ox)
        return ByteArray(3) { ((sums[it] + n / 2) / n).toByte() }
    }
}

class OrientationTest {
    @Test
    fun allEightOrientationsAsPillow() {
        // a 3 x 2 grey image 0..5 and what Pillow's ImageOps.exif_transpose makes of it for each orientation
        val want = mapOf(
            1 to listOf(3, 2, 0, 1, 2, 3, 4, 5), 2 to listOf(3, 2, 2, 1, 0, 5, 4, 3), 3 to listOf(3, 2, 5, 4, 3, 2, 1, 0),
            4 to listOf(3, 2, 3, 4, 5, 0, 1, 2), 5 to listOf(2, 3, 0, 3, 1, 4, 2, 5), 6 to listOf(2, 3, 3, 0, 4, 1, 5, 2),
            7 to listOf(2, 3, 5, 2, 4, 1, 3, 0), 8 to listOf(2, 3, 2, 5, 1, 4, 0, 3)
        )
        val image = Image(ByteArray(6) { it.toByte() }, 3, 2, 1)
        for ((o, w) in want) {
            val up = Orientation.upright(image, o)
            assertEquals("orientation $o", w.subList(0, 2), listOf(up.width, up.height))
            assertArrayEquals("orientation $o", w.drop(2).map { it.toByte() }.toByteArray(), up.pixels)
        }
    }
}

class CameraRotationTest {
    @Test
    fun cameraXDegreesBecomeExifOrientations() {
        assertEquals(listOf(1, 6, 3, 8, 8, 1), listOf(0, 90, 180, 270, -90, 360).map { Orientation.fromDegrees(it) })
        // a frame stored rotated: 90 degrees clockwise to view is EXIF 6, which Orientation.upright applies
        val stored = Image(ByteArray(6) { it.toByte() }, 3, 2, 1)
        assertEquals(listOf(2, 3), Orientation.upright(stored, Orientation.fromDegrees(90)).let { listOf(it.width, it.height) })
        try { Orientation.fromDegrees(45); throw AssertionError("accepted 45 degrees") } catch (e: IllegalArgumentException) {}
    }
}

class ParityRuleTest {
    @Test
    fun nearTiesPassAndRealSwapsFail() {
        val ref = floatArrayOf(0.5f, 0.3f, 0.15f, 0.05f)
        assertNull(ParityRule.top3(ref, ref, 0.01).mismatchRank)
        val swapped = floatArrayOf(0.3f, 0.5f, 0.15f, 0.05f)
        assertEquals(1, ParityRule.top3(ref, swapped, 0.01).mismatchRank)
        val nearTie = floatArrayOf(0.5f, 0.299f, 0.3f, 0.05f)
        val near = ParityRule.top3(floatArrayOf(0.5f, 0.3f, 0.2995f, 0.05f), nearTie, 0.01)
        assertNull(near.mismatchRank)
        assertEquals(2, near.nearTies)  // ranks 2 and 3 swapped, both within tau
    }

    @Test
    fun classificationAppliesThresholdAndNotACar() {
        val info = BundleInfo(299, listOf("a", "b", "(not a car)"), 0.6f, "(not a car)", "carspotter.tflite")
        val sure = info.classification(floatArrayOf(0.7f, 0.2f, 0.1f))
        assertTrue(sure.show)
        assertEquals("a", sure.best.label)
        assertFalse(info.classification(floatArrayOf(0.5f, 0.4f, 0.1f)).show)
        val notCar = info.classification(floatArrayOf(0.1f, 0.1f, 0.8f))
        assertTrue(notCar.notACar)
        assertFalse(notCar.show)
    }
}
