// The box pre-reduction read through the EXIF orientation, a band of stored rows at a time (pure Kotlin, language
// level 1.3): what ReferenceResize.prepare computes, value for value, without the photo ever being whole on the heap.
// A 48 MP photo (8000 x 6000) costs a band of rows (about 1 MiB), the box sums (8 bytes per output value) and the
// reduced image, not the 192 MB of its stored pixels nor an upright copy.
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
}

/** Packed RGB (3 bytes per pixel) or RGBA (4) bytes as a [PixelSource]: the byte-array API and the tests. */
class PackedPixels(private val pixels: ByteArray, override val width: Int, override val height: Int,
                   private val channels: Int) : PixelSource {
    init {
        require(channels == 3 || channels == 4) { "channels must be 3 (RGB) or 4 (RGBA), got $channels" }
        require(pixels.size == width * height * channels) { "${pixels.size} bytes is not $width x $height x $channels" }
    }

    override val hasAlpha: Boolean get() = channels == 4

    override fun readRows(top: Int, count: Int, into: IntArray) {
        var p = top * width * channels
        for (i in 0 until width * count) {
            val a = if (channels == 4) pixels[p + 3].toInt() and 0xFF else 0xFF
            into[i] = (a shl 24) or ((pixels[p].toInt() and 0xFF) shl 16) or ((pixels[p + 1].toInt() and 0xFF) shl 8) or
                (pixels[p + 2].toInt() and 0xFF)
            p += channels
        }
    }
}

object BandReduce {
    /** Ints a band holds at most (1 MiB): the rows read at once are this / width, at least one. */
    const val BAND_INTS = 1 shl 18

    /** Stored rows per band for a photo [width] px wide: 32 for 8000 px. */
    fun bandRows(width: Int): Int = Math.max(1, BAND_INTS / Math.max(1, width))

    /**
     * The upright, composited, box-reduced RGB image of a stored photo: for every value the same as
     * Orientation.upright, then ReferenceResize.compositeOnWhite (alpha sources), then ReferenceResize.boxReduce
     * (kx = ky = 1 for a photo under 2 x [size]: the upright photo itself). Memory: a band of [bandRows] x width ints,
     * width ints of column offsets, ceil(uw / kx) x ceil(uh / ky) x 3 longs of sums and the output bytes.
     * @param orientation EXIF orientation 1..8 (0: unknown, as 1)
     * @return ceil(uw / kx) x ceil(uh / ky) x 3 RGB bytes, uw x uh the upright size
     * @throws IllegalArgumentException orientation outside 0..8, a size or band under 1
     */
    fun prepare(source: PixelSource, orientation: Int, size: Int, bandRows: Int = bandRows(source.width)): Image {
        require(orientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $orientation" }
        val w = source.width; val h = source.height
        require(w >= 1 && h >= 1 && size >= 1 && bandRows >= 1) { "sizes must be positive: $w x $h -> $size, band $bandRows" }
        val turned = orientation >= 5
        val uw = if (turned) h else w
        val uh = if (turned) w else h
        val k = ReferenceResize.boxFactors(uw, uh, size)
        val outW = (uw + k[0] - 1) / k[0]
        val outH = (uh + k[1] - 1) / k[1]
        val sums = LongArray(outW * outH * 3)
        val columns = IntArray(w) { columnOffset(orientation, it, w, k, outW) }
        val band = IntArray(w * Math.min(bandRows, h))
        var top = 0
        while (top < h) {
            val count = Math.min(bandRows, h - top)
            source.readRows(top, count, band)
            for (r in 0 until count) {
                accumulate(band, r * w, w, rowOffset(orientation, top + r, h, k, outW), columns, sums, source.hasAlpha)
            }
            top += count
        }
        return Image(means(sums, uw, uh, k, outW, outH), outW, outH, 3)
    }

    /** Offset in the sums of stored column [sx]'s box along its upright axis (x for 0..4, y for 5..8). */
    private fun columnOffset(orientation: Int, sx: Int, width: Int, k: IntArray, outW: Int): Int = when (orientation) {
        2, 3 -> (width - 1 - sx) / k[0] * 3
        5, 6 -> sx / k[1] * outW * 3
        7, 8 -> (width - 1 - sx) / k[1] * outW * 3
        else -> sx / k[0] * 3
    }

    /** Offset in the sums of stored row [sy]'s box along its upright axis (y for 0..4, x for 5..8). */
    private fun rowOffset(orientation: Int, sy: Int, height: Int, k: IntArray, outW: Int): Int = when (orientation) {
        3, 4 -> (height - 1 - sy) / k[1] * outW * 3
        5, 8 -> sy / k[0] * 3
        6, 7 -> (height - 1 - sy) / k[0] * 3
        else -> sy / k[1] * outW * 3
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
