// The box pre-reduction read through the EXIF orientation, a band of stored rows at a time (pure Kotlin, language
// level 1.3): what ReferenceResize.prepare computes, value for value, without the photo ever being whole on the heap.
// A 48 MP photo (8000 x 6000) costs a band of rows (about 1 MiB), the box sums (8 bytes per output value) and the
// reduced image, not the 192 MB of its stored pixels nor an upright copy. With a region of interest (in upright
// pixels) only the stored rows and columns that hold it are read (Orientation.storedRegion).
package dev.carspotter.core

/** A photo's stored pixels, read a band of rows at a time (a Bitmap, a decoder's rows, a generated test pattern). */
interface PixelSource {
    /** Stored width and height, px (before the EXIF orientation). */
    val width: Int
    val height: Int
    /** True: each pixel's alpha is composited on white (as the reference composites RGBA); false: alpha ignored. */
    val hasAlpha: Boolean

    /**
     * Fill [into] with the stored rows [top] until top + [count]: width ints per row, row-major, each 0xAARRGGBB with
     * unpremultiplied alpha (Bitmap.getPixels' layout). [into] holds at least width * count ints.
     */
    fun readRows(top: Int, count: Int, into: IntArray)

    /**
     * Fill [into] with the stored columns [left] until left + [columns] of the rows [top] until top + [count]:
     * columns ints per row, in [readRows]' layout; what the band path reads for a region of interest. The default
     * reads whole rows, one at a time, through a row of width ints; a source that can read a window (Bitmap.getPixels)
     * overrides it.
     */
    fun readRows(left: Int, columns: Int, top: Int, count: Int, into: IntArray) {
        if (left == 0 && columns == width) {
            readRows(top, count, into)
            return
        }
        val row = IntArray(width)
        for (r in 0 until count) {
            readRows(top + r, 1, row)
            System.arraycopy(row, left, into, r * columns, columns)
        }
    }
}

/** Packed RGB (3 bytes per pixel) or RGBA (4) bytes as a [PixelSource]: the byte-array API and the tests. */
class PackedPixels(private val pixels: ByteArray, override val width: Int, override val height: Int,
                   private val channels: Int) : PixelSource {
    init {
        require(channels == 3 || channels == 4) { "channels must be 3 (RGB) or 4 (RGBA), got $channels" }
        require(pixels.size == width * height * channels) { "${pixels.size} bytes is not $width x $height x $channels" }
    }

    override val hasAlpha: Boolean get() = channels == 4

    override fun readRows(top: Int, count: Int, into: IntArray) = readRows(0, width, top, count, into)

    override fun readRows(left: Int, columns: Int, top: Int, count: Int, into: IntArray) {
        var i = 0
        for (y in top until top + count) {
            var p = (y * width + left) * channels
            for (x in 0 until columns) {
                val a = if (channels == 4) pixels[p + 3].toInt() and 0xFF else 0xFF
                into[i++] = (a shl 24) or ((pixels[p].toInt() and 0xFF) shl 16) or ((pixels[p + 1].toInt() and 0xFF) shl 8) or
                    (pixels[p + 2].toInt() and 0xFF)
                p += channels
            }
        }
    }
}

object BandReduce {
    /** Ints a band holds at most (1 MiB): the rows read at once are this / width, at least one. */
    const val BAND_INTS = 1 shl 18

    /** Stored rows per band for a photo [width] px wide: 32 for 8000 px. */
    fun bandRows(width: Int): Int = Math.max(1, BAND_INTS / Math.max(1, width))

    /**
     * The upright, composited, box-reduced RGB image of a stored photo, or of a region of interest of it: for every
     * value the same as Orientation.upright, then Roi.cut (with a [roi]), then ReferenceResize.compositeOnWhite (alpha
     * sources), then ReferenceResize.boxReduce (box factors from the ROI's size, or the photo's; kx = ky = 1 under
     * 2 x [size]: the pixels themselves). Only the stored pixels that hold the ROI are read
     * (Orientation.storedRegion: its rows, a band at a time, and its columns). Memory: a band of at most [bandRows] x
     * width ints, one int per column read, ceil(rw / kx) x ceil(rh / ky) x 3 longs of sums and the output bytes.
     * @param orientation EXIF orientation 1..8 (0: unknown, as 1)
     * @param roi in pixels of the upright photo (after [orientation]); null: the whole photo
     * @return ceil(rw / kx) x ceil(rh / ky) x 3 RGB bytes, rw x rh the ROI's size (the upright photo's without one)
     * @throws IllegalArgumentException orientation outside 0..8, a size or band under 1, or the ROI breaking Roi.RULE
     *   for the upright photo (one line naming the ROI, the photo's size and the rule)
     */
    @JvmStatic
    @JvmOverloads
    fun prepare(source: PixelSource, orientation: Int, size: Int, bandRows: Int = bandRows(source.width),
                roi: Roi? = null): Image {
        require(orientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $orientation" }
        val w = source.width; val h = source.height
        require(w >= 1 && h >= 1 && size >= 1 && bandRows >= 1) { "sizes must be positive: $w x $h -> $size, band $bandRows" }
        val turned = orientation >= 5
        val uw = if (turned) h else w
        val uh = if (turned) w else h
        val region = if (roi == null) Roi.whole(uw, uh) else Roi.check(roi, uw, uh)
        val k = ReferenceResize.boxFactors(region.width, region.height, size)
        val outW = (region.width + k[0] - 1) / k[0]
        val outH = (region.height + k[1] - 1) / k[1]
        val sums = LongArray(outW * outH * 3)
        val stored = Orientation.storedRegion(orientation, region, w, h)
        val cols = stored.width
        val columns = IntArray(cols) { columnOffset(orientation, stored.x0 + it, w, region, k, outW) }
        val band = IntArray(cols * Math.min(bandRows, stored.height))
        var top = stored.y0
        while (top < stored.y1) {
            val count = Math.min(bandRows, stored.y1 - top)
            source.readRows(stored.x0, cols, top, count, band)
            for (r in 0 until count) {
                accumulate(band, r * cols, cols, rowOffset(orientation, top + r, h, region, k, outW), columns, sums,
                           source.hasAlpha)
            }
            top += count
        }
        return Image(means(sums, region.width, region.height, k, outW, outH), outW, outH, 3)
    }

    /**
     * Offset in the sums of stored column [sx]'s box along its upright axis (x for 0..4, y for 5..8), counted from the
     * region's top-left pixel.
     */
    private fun columnOffset(orientation: Int, sx: Int, width: Int, region: Roi, k: IntArray, outW: Int): Int =
        when (orientation) {
            2, 3 -> (width - 1 - sx - region.x0) / k[0] * 3
            5, 6 -> (sx - region.y0) / k[1] * outW * 3
            7, 8 -> (width - 1 - sx - region.y0) / k[1] * outW * 3
            else -> (sx - region.x0) / k[0] * 3
        }

    /**
     * Offset in the sums of stored row [sy]'s box along its upright axis (y for 0..4, x for 5..8), counted from the
     * region's top-left pixel.
     */
    private fun rowOffset(orientation: Int, sy: Int, height: Int, region: Roi, k: IntArray, outW: Int): Int =
        when (orientation) {
            3, 4 -> (height - 1 - sy - region.y0) / k[1] * outW * 3
            5, 8 -> (sy - region.x0) / k[0] * 3
            6, 7 -> (height - 1 - sy - region.x0) / k[0] * 3
            else -> (sy - region.y0) / k[1] * outW * 3
        }

    /** Add one stored row (ints [start] until start + [width] of [band]) into its boxes' sums. */
    private fun accumulate(band: IntArray, start: Int, width: Int, row: Int, columns: IntArray, sums: LongArray,
                           alpha: Boolean) {
        for (sx in 0 until width) {
            val p = band[start + sx]
            val o = row + columns[sx]
            if (alpha) {
                val a = p ushr 24
                sums[o] += ReferenceResize.onWhite((p shr 16) and 0xFF, a).toLong()
                sums[o + 1] += ReferenceResize.onWhite((p shr 8) and 0xFF, a).toLong()
                sums[o + 2] += ReferenceResize.onWhite(p and 0xFF, a).toLong()
            } else {
                sums[o] += ((p shr 16) and 0xFF).toLong(); sums[o + 1] += ((p shr 8) and 0xFF).toLong()
                sums[o + 2] += (p and 0xFF).toLong()
            }
        }
    }

    /** Each box's mean rounded half up, (sum + n / 2) / n, the last box on an axis holding the side % k pixels left. */
    private fun means(sums: LongArray, uw: Int, uh: Int, k: IntArray, outW: Int, outH: Int): ByteArray {
        val out = ByteArray(sums.size)
        for (oy in 0 until outH) {
            val boxRows = Math.min(k[1], uh - oy * k[1])
            for (ox in 0 until outW) {
                val count = (Math.min(k[0], uw - ox * k[0]) * boxRows).toLong()
                val o = (oy * outW + ox) * 3
                for (c in 0 until 3) out[o + c] = ((sums[o + c] + count / 2) / count).toByte()
            }
        }
        return out
    }
}
