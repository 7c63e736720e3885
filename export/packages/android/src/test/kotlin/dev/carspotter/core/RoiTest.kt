// JVM unit tests of the region of interest (Roi.kt, as carspotter.model.roi): the golden set's bad ROIs refused and
// its edge ROIs accepted, the refusal's one line, and the band path reading only the stored pixels a ROI needs.
package dev.carspotter.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import java.io.File

class RoiTest {
    private val golden = File(System.getProperty("carspotter.golden") ?: "../golden")

    /** The lines of golden/resize/bad_rois.txt of [kind] "ok" ([ok]) or of every other kind. */
    private fun badRois(ok: Boolean): List<ResizeVectors.BadRoi> {
        assumeTrue(NO_GOLDEN, BundleConstants.HAS_GOLDEN)
        val index = File(golden, "resize/bad_rois.txt")
        assertTrue("no bad ROIs at $index (set -Dcarspotter.golden)", index.isFile)
        val lines = ResizeVectors.badRois(index.readText()).filter { (it.kind == "ok") == ok }
        assertTrue(lines.isNotEmpty())
        return lines
    }

    /** The line's ROI checked as doubles, as the text reads ("NaN", "Infinity", "-1", "10.5", "12.0"). */
    private fun check(line: ResizeVectors.BadRoi): Roi {
        val v = line.values.map { it.toDouble() }
        return Roi.check(v[0], v[1], v[2], v[3], line.width, line.height)
    }

    @Test
    fun everyBadRoiInTheGoldenSetIsRefusedWithOneLine() {
        for (line in badRois(ok = false)) {
            val what = "${line.values} (${line.kind}) in ${line.width}x${line.height}"
            val message = try {
                check(line)
                throw AssertionError("accepted $what")
            } catch (e: IllegalArgumentException) {
                e.message ?: ""
            }
            assertOneLine(what, message, "${line.width}x${line.height}")
        }
    }

    @Test
    fun everyOkRoiInTheGoldenSetIsAccepted() {
        for (line in badRois(ok = true)) {
            val roi = check(line)
            assertEquals("${line.values}", line.values.map { it.toDouble().toInt() }, listOf(roi.x0, roi.y0, roi.x1, roi.y1))
        }
    }

    @Test
    fun aRefusalIsOneLineNamingTheRoiThePhotoAndTheRule() {
        val cases = mapOf(
            "ROI (NaN, 0, 100, 100) for the 640x480 photo: x0 is NaN, not a pixel coordinate; " to doubleArrayOf(Double.NaN, 0.0, 100.0, 100.0),
            "ROI (10.5, 0, 100, 100) for the 640x480 photo: x0 = 10.5 is not a whole pixel; " to doubleArrayOf(10.5, 0.0, 100.0, 100.0),
            "ROI (-1, 0, 100, 100) has a negative coordinate; it must lie inside the 640x480 photo: " to doubleArrayOf(-1.0, 0.0, 100.0, 100.0),
            "ROI (50, 90, 40, 100) is empty (x1 <= x0 or y1 <= y0) in the 640x480 photo; it must hold at least one pixel: " to
                doubleArrayOf(50.0, 90.0, 40.0, 100.0),
            "ROI (0, 0, 641, 480) reaches outside the 640x480 photo (x1 <= 640, y1 <= 480); " to doubleArrayOf(0.0, 0.0, 641.0, 480.0)
        )
        for ((want, v) in cases) {
            try {
                Roi.check(v[0], v[1], v[2], v[3], 640, 480)
                throw AssertionError("accepted ${v.toList()}")
            } catch (e: IllegalArgumentException) {
                assertEquals(want + Roi.RULE, e.message)
            }
        }
        try { Roi.check(Roi(0, 0, 10, 10), 9, 10); throw AssertionError("accepted 10 px in 9") } catch (e: IllegalArgumentException) {
            assertOneLine("Roi(0, 0, 10, 10)", e.message ?: "", "9x10")
        }
        assertEquals(Roi(12, 7, 13, 8), Roi.check(12.0, 7.0, 13.0, 8.0, 640, 480))  // whole doubles, as JavaScript has them
        assertEquals(Roi(0, 0, 640, 480), Roi.check(0, 0, 640, 480, 640, 480))
    }

    private fun assertOneLine(what: String, message: String, size: String) {
        assertTrue("$what: '$message' does not name the ROI", message.startsWith("ROI ("))
        assertTrue("$what: '$message' does not name the photo's size", message.contains("the $size photo"))
        assertTrue("$what: '$message' does not state the rule", message.endsWith(Roi.RULE))
        assertFalse("$what: '$message' is more than one line", message.contains('\n'))
    }

    @Test
    fun cutTakesTheHalfOpenRectangle() {
        // a 4 x 3 grey image 0..11; ROI (1, 1, 3, 3): columns 1, 2 of rows 1, 2
        val image = Image(ByteArray(12) { it.toByte() }, 4, 3, 1)
        val cut = Roi(1, 1, 3, 3).cut(image)
        assertEquals(listOf(2, 2), listOf(cut.width, cut.height))
        assertArrayEquals(byteArrayOf(5, 6, 9, 10), cut.pixels)
        assertArrayEquals(image.pixels, Roi.whole(4, 3).cut(image).pixels)
    }

    @Test
    fun storedRegionHoldsExactlyTheRoisPixels() {
        // for each orientation, the stored rectangle made upright is the ROI cut from the upright photo
        val random = java.util.Random(5)
        for (case in 0 until 30) {
            val w = 1 + random.nextInt(20); val h = 1 + random.nextInt(20)
            val stored = Image(ByteArray(w * h) { random.nextInt(256).toByte() }, w, h, 1)
            for (o in 0..8) {
                val up = Orientation.upright(stored, o)
                val x0 = random.nextInt(up.width); val y0 = random.nextInt(up.height)
                val roi = Roi(x0, y0, x0 + 1 + random.nextInt(up.width - x0), y0 + 1 + random.nextInt(up.height - y0))
                val region = Orientation.storedRegion(o, roi, w, h)
                assertArrayEquals("$w x $h, orientation $o, ROI ${roi.text()}", roi.cut(up).pixels,
                                  Orientation.upright(region.cut(stored), o).pixels)
            }
        }
    }

    /** A pattern that records which stored pixels were read, and how many at once. */
    private class Recording(override val width: Int, override val height: Int) : PixelSource {
        override val hasAlpha: Boolean get() = false
        val read = Array(height) { BooleanArray(width) }
        var mostAtOnce = 0
        override fun readRows(top: Int, count: Int, into: IntArray) = readRows(0, width, top, count, into)
        override fun readRows(left: Int, columns: Int, top: Int, count: Int, into: IntArray) {
            mostAtOnce = Math.max(mostAtOnce, columns * count)
            for (y in top until top + count) for (x in left until left + columns) {
                read[y][x] = true
                into[(y - top) * columns + x - left] = (x * 7 + y * 13) and 0xFFFFFF
            }
        }
    }

    @Test
    fun theBandPathReadsOnlyTheRoisStoredPixels() {
        // a 640 x 480 photo stored turned (orientation 6: upright 480 x 640); the ROI is in upright pixels
        val roi = Roi(31, 101, 470, 633)
        val source = Recording(640, 480)
        BandReduce.prepare(source, 6, 64, 16, roi)
        val region = Orientation.storedRegion(6, roi, 640, 480)
        assertEquals(Roi(101, 10, 633, 449), region)
        for (y in 0 until 480) for (x in 0 until 640) {
            assertEquals("stored pixel ($x, $y)", x >= region.x0 && x < region.x1 && y >= region.y0 && y < region.y1, source.read[y][x])
        }
        assertTrue("at most a band of 16 rows of the ROI's columns at once", source.mostAtOnce <= 16 * region.width)
    }

    @Test
    fun aWindowOfRowsIsTheirSlice() {
        // PixelSource's window read (the ROI's columns) for the packed bytes, the generated pattern and the interface's
        // default (a source that reads whole rows only): the slice of the whole rows
        val w = 37; val h = 11
        val generated = ResizeVectors.Generated(w, h, 3)
        val wholeRowsOnly = object : PixelSource {
            override val width = w
            override val height = h
            override val hasAlpha = false
            override fun readRows(top: Int, count: Int, into: IntArray) = generated.readRows(top, count, into)
        }
        val image = ResizeVectors.generated(w, h, 3)
        for (source in listOf(PackedPixels(image.pixels, w, h, 3), generated, wholeRowsOnly)) {
            val rows = IntArray(w * 4)
            source.readRows(5, 4, rows)
            val window = IntArray(9 * 4)
            source.readRows(20, 9, 5, 4, window)
            val slice = IntArray(9 * 4) { rows[(it / 9) * w + 20 + it % 9] }
            assertArrayEquals(source.javaClass.name, slice, window)
        }
    }

    @Test
    fun aRoiOutsideTheUprightPhotoIsRefusedBeforeAnyPixelIsRead() {
        // 640 x 480 stored, orientation 6: the upright photo is 480 x 640, so (0, 0, 640, 480) reaches outside it
        val source = Recording(640, 480)
        try {
            BandReduce.prepare(source, 6, 64, 16, Roi(0, 0, 640, 480))
            throw AssertionError("accepted a ROI in stored pixels")
        } catch (e: IllegalArgumentException) {
            assertEquals("ROI (0, 0, 640, 480) reaches outside the 480x640 photo (x1 <= 480, y1 <= 640); " + Roi.RULE, e.message)
        }
        assertEquals(0, source.mostAtOnce)
    }
}
