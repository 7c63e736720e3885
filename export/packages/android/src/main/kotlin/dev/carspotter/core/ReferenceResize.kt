// carspotter's reference resize, ported exactly (pure Kotlin, language level 1.3, no Android classes): for every
// pixel the same value as carspotter.model.reference_resize.resize: an integer box pre-reduction (boxReduce),
// then OpenCV 4's warpPerspective as MediaPipe Tasks' ImageClassifier calls it on the CPU (bilinear). A
// line-for-line port of the JavaScript package's resize.js; the steps are explained there. Checked bit for bit
// against the golden set's resize vectors (src/test).
package dev.carspotter.core

object ReferenceResize {
    private const val INTER_BITS = 5
    private const val INTER_TAB_SIZE = 1 shl INTER_BITS
    private const val COEF_BITS = 15

    /** OpenCV's hal::LU64f: solves a x = b in place (Gaussian elimination, partial pivoting), returns b. */
    private fun luSolve(a: Array<DoubleArray>, b: DoubleArray): DoubleArray {
        val m = b.size
        for (i in 0 until m) {
            var k = i
            for (j in i + 1 until m) if (Math.abs(a[j][i]) > Math.abs(a[k][i])) k = j
            if (k != i) {
                for (j in i until m) { val t = a[i][j]; a[i][j] = a[k][j]; a[k][j] = t }
                val t = b[i]; b[i] = b[k]; b[k] = t
            }
            val d = -1.0 / a[i][i]
            for (j in i + 1 until m) {
                val alpha = a[j][i] * d
                for (c in i + 1 until m) a[j][c] += alpha * a[i][c]
                b[j] += alpha * b[i]
            }
        }
        for (i in m - 1 downTo 0) {
            var s = b[i]
            for (c in i + 1 until m) s -= a[i][c] * b[c]
            b[i] = s / a[i][i]
        }
        return b
    }

    /** Output pixel -> photo position, row-major 3x3: getPerspectiveTransform of the corners, then cv::invert. */
    fun inverseMatrix(width: Int, height: Int, size: Int): DoubleArray {
        val w = width.toDouble(); val h = height.toDouble(); val s = size.toDouble()
        val src = arrayOf(doubleArrayOf(0.0, h), doubleArrayOf(0.0, 0.0), doubleArrayOf(w, 0.0), doubleArrayOf(w, h))
        val dst = arrayOf(doubleArrayOf(0.0, s), doubleArrayOf(0.0, 0.0), doubleArrayOf(s, 0.0), doubleArrayOf(s, s))
        val a = Array(8) { DoubleArray(8) }
        val b = DoubleArray(8)
        for (i in 0 until 4) {
            a[i][0] = src[i][0]; a[i + 4][3] = src[i][0]
            a[i][1] = src[i][1]; a[i + 4][4] = src[i][1]
            a[i][2] = 1.0; a[i + 4][5] = 1.0
            a[i][6] = -src[i][0] * dst[i][0]
            a[i][7] = -src[i][1] * dst[i][0]
            a[i + 4][6] = -src[i][0] * dst[i][1]
            a[i + 4][7] = -src[i][1] * dst[i][1]
            b[i] = dst[i][0]
            b[i + 4] = dst[i][1]
        }
        val x = luSolve(a, b)
        val m = DoubleArray(9) { if (it < 8) x[it] else 1.0 }
        var d = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
        d = 1.0 / d
        return doubleArrayOf(
            (m[4] * m[8] - m[5] * m[7]) * d, (m[2] * m[7] - m[1] * m[8]) * d, (m[1] * m[5] - m[2] * m[4]) * d,
            (m[5] * m[6] - m[3] * m[8]) * d, (m[0] * m[8] - m[2] * m[6]) * d, (m[2] * m[3] - m[0] * m[5]) * d,
            (m[3] * m[7] - m[4] * m[6]) * d, (m[1] * m[6] - m[0] * m[7]) * d, (m[0] * m[4] - m[1] * m[3]) * d
        )
    }

    /** RGBA (4 bytes per pixel) composited on opaque white as Pillow's alpha_composite does: RGB bytes. */
    fun compositeOnWhite(rgba: ByteArray): ByteArray {
        val n = rgba.size / 4
        val out = ByteArray(n * 3)
        for (p in 0 until n) {
            val a = rgba[4 * p + 3].toInt() and 0xFF
            for (c in 0 until 3) {
                val v = rgba[4 * p + c].toInt() and 0xFF
                out[3 * p + c] = when (a) {
                    255 -> v
                    0 -> 255
                    else -> {
                        val t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 shl 7)
                        (((t ushr 8) + t) ushr 8) ushr 7
                    }
                }.toByte()
            }
        }
        return out
    }

    /** The box pre-reduction's factors: [kx, ky] = max(1, side / size) per axis (integer division). */
    fun boxFactors(width: Int, height: Int, size: Int): IntArray =
        intArrayOf(Math.max(1, width / size), Math.max(1, height / size))

    /**
     * Step 0, the antialiasing: average kx x ky boxes of RGB bytes from the top-left, the last box on an axis keeping
     * the side % k pixels left; each value is the box's mean rounded half up, (sum + n / 2) / n.
     * @return the reduced photo, ceil(width / kx) x ceil(height / ky), 3 channels; [rgb] itself when kx = ky = 1
     */
    fun boxReduce(rgb: ByteArray, width: Int, height: Int, size: Int): Image {
        val k = boxFactors(width, height, size)
        val kx = k[0]; val ky = k[1]
        if (kx == 1 && ky == 1) return Image(rgb, width, height, 3)
        val ow = (width + kx - 1) / kx
        val oh = (height + ky - 1) / ky
        val out = ByteArray(ow * oh * 3)
        val sums = IntArray(ow * 3)  // at most kx * ky * 255 each
        for (oy in 0 until oh) {
            val top = oy * ky
            val rows = Math.min(ky, height - top)
            java.util.Arrays.fill(sums, 0)
            for (y in top until top + rows) {
                var p = y * width * 3
                for (ox in 0 until ow) {
                    val end = p + Math.min(kx, width - ox * kx) * 3
                    var r = 0; var g = 0; var b = 0
                    while (p < end) {
                        r += rgb[p].toInt() and 0xFF; g += rgb[p + 1].toInt() and 0xFF; b += rgb[p + 2].toInt() and 0xFF
                        p += 3
                    }
                    sums[3 * ox] += r; sums[3 * ox + 1] += g; sums[3 * ox + 2] += b
                }
            }
            for (ox in 0 until ow) {
                val n = Math.min(kx, width - ox * kx) * rows
                val o = (oy * ow + ox) * 3
                for (c in 0 until 3) out[o + c] = ((sums[3 * ox + c] + n / 2) / n).toByte()
            }
        }
        return Image(out, ow, oh, 3)
    }

    /**
     * Stretch an upright photo to size x size exactly as carspotter's reference: RGBA composited on white, [boxReduce],
     * then [bilinear].
     * @param pixels row-major, [channels] bytes per pixel (3 RGB, 4 RGBA: composited on white first)
     * @return size * size * 3 RGB bytes, row-major
     * @throws IllegalArgumentException channels not 3 or 4, or pixels not width * height * channels bytes
     */
    fun resize(pixels: ByteArray, width: Int, height: Int, channels: Int, size: Int): ByteArray {
        require(channels == 3 || channels == 4) { "channels must be 3 (RGB) or 4 (RGBA), got $channels" }
        require(width >= 1 && height >= 1 && size >= 1) { "sizes must be positive: $width x $height -> $size" }
        require(pixels.size == width * height * channels) { "${pixels.size} bytes is not $width x $height x $channels" }
        val reduced = boxReduce(if (channels == 4) compositeOnWhite(pixels) else pixels, width, height, size)
        return bilinear(reduced.pixels, reduced.width, reduced.height, size)
    }

    /**
     * The reference's steps one after another, on whole copies: EXIF [orientation] applied (Orientation.upright), the
     * [roi] cut (Roi.cut; null: the whole upright photo), then [resize]. What [prepare] and BandReduce.prepare compute
     * without the copies, and what the golden set's resize vectors state.
     * @throws IllegalArgumentException as [resize], orientation outside 0..8, or the ROI breaking Roi.RULE
     */
    @JvmStatic
    fun resize(image: Image, orientation: Int, roi: Roi?, size: Int): ByteArray {
        val up = Orientation.upright(image, orientation)
        val cut = if (roi == null) up else roi.cut(up)
        return resize(cut.pixels, cut.width, cut.height, cut.channels, size)
    }

    /**
     * What the bilinear step is given, from a photo as stored: EXIF [orientation] applied (1..8; 0 unknown), the [roi]
     * cut (in upright pixels; null: the whole photo), RGBA composited on white, [boxReduce]d (the box factors from the
     * ROI's size, the boxes from its top-left pixel): the upright RGB image MediaPipe is handed, and what [resize]
     * resizes. For a photo that is reduced, the reduction reads the stored pixels through the orientation (no upright
     * copy of a 48 MP photo is made); the values are those of Orientation.upright, then Roi.cut, then
     * compositeOnWhite, then boxReduce.
     * @throws IllegalArgumentException channels not 3 or 4, orientation outside 0..8, a wrong byte count, or the ROI
     *   breaking Roi.RULE for the upright photo (one line naming the ROI, the photo's size and the rule)
     */
    @JvmStatic
    @JvmOverloads
    fun prepare(pixels: ByteArray, width: Int, height: Int, channels: Int, orientation: Int, size: Int,
                roi: Roi? = null): Image {
        require(channels == 3 || channels == 4) { "channels must be 3 (RGB) or 4 (RGBA), got $channels" }
        require(orientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $orientation" }
        require(width >= 1 && height >= 1 && size >= 1) { "sizes must be positive: $width x $height -> $size" }
        require(pixels.size == width * height * channels) { "${pixels.size} bytes is not $width x $height x $channels" }
        val uw = if (orientation >= 5) height else width
        val uh = if (orientation >= 5) width else height
        val region = if (roi == null) Roi.whole(uw, uh) else Roi.check(roi, uw, uh)
        val rw = region.width; val rh = region.height
        val k = boxFactors(rw, rh, size)
        if ((orientation <= 1 && roi == null) || (k[0] == 1 && k[1] == 1)) {
            val up = Orientation.upright(Image(pixels, width, height, channels), orientation)
            val cut = if (roi == null) up else region.cut(up)
            return boxReduce(if (channels == 4) compositeOnWhite(cut.pixels) else cut.pixels, rw, rh, size)
        }
        val kx = k[0]; val ky = k[1]
        val ow = (rw + kx - 1) / kx
        val oh = (rh + ky - 1) / ky
        val out = ByteArray(ow * oh * 3)
        for (oy in 0 until oh) for (ox in 0 until ow) {
            var r = 0; var g = 0; var b = 0
            val rows = Math.min(ky, rh - oy * ky)
            val cols = Math.min(kx, rw - ox * kx)
            val top = region.y0 + oy * ky
            val left = region.x0 + ox * kx
            for (y in top until top + rows) for (x in left until left + cols) {
                val p = Orientation.source(orientation, x, y, width, height) * channels
                if (channels == 3) {
                    r += pixels[p].toInt() and 0xFF; g += pixels[p + 1].toInt() and 0xFF; b += pixels[p + 2].toInt() and 0xFF
                } else {
                    val a = pixels[p + 3].toInt() and 0xFF
                    r += onWhite(pixels[p].toInt() and 0xFF, a); g += onWhite(pixels[p + 1].toInt() and 0xFF, a)
                    b += onWhite(pixels[p + 2].toInt() and 0xFF, a)
                }
            }
            val n = rows * cols
            val o = (oy * ow + ox) * 3
            out[o] = ((r + n / 2) / n).toByte(); out[o + 1] = ((g + n / 2) / n).toByte(); out[o + 2] = ((b + n / 2) / n).toByte()
        }
        return Image(out, ow, oh, 3)
    }

    /** One value of compositeOnWhite: channel [v] with alpha [a] over white. */
    internal fun onWhite(v: Int, a: Int): Int = when (a) {
        255 -> v
        0 -> 255
        else -> {
            val t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 shl 7)
            (((t ushr 8) + t) ushr 8) ushr 7
        }
    }

    /** The bilinear step alone (MediaPipe's own resize, no antialiasing): RGB bytes to size * size * 3. */
    fun bilinear(src: ByteArray, width: Int, height: Int, size: Int): ByteArray {
        val m = inverseMatrix(width, height, size)
        val out = ByteArray(size * size * 3)
        val bw0 = Math.min(1024 / Math.min(16, size), size)  // OpenCV's block width (its rows are absolute)
        val row = width * 3
        for (y in 0 until size) {
            var xb = 0
            while (xb < size) {
                val x0d = m[0] * xb + m[1] * y + m[2]
                val y0d = m[3] * xb + m[4] * y + m[5]
                val w0d = m[6] * xb + m[7] * y + m[8]
                val bw = Math.min(bw0, size - xb)
                for (x1 in 0 until bw) {
                    var wd = w0d + m[6] * x1
                    wd = if (wd != 0.0) INTER_TAB_SIZE / wd else 0.0
                    val fx = Math.max(Int.MIN_VALUE.toDouble(), Math.min(Int.MAX_VALUE.toDouble(), (x0d + m[0] * x1) * wd))
                    val fy = Math.max(Int.MIN_VALUE.toDouble(), Math.min(Int.MAX_VALUE.toDouble(), (y0d + m[3] * x1) * wd))
                    val xi = Math.rint(fx).toInt()  // round half to even, as cvRound
                    val yi = Math.rint(fy).toInt()
                    val sx = Math.max(-32768, Math.min(32767, xi shr INTER_BITS))
                    val sy = Math.max(-32768, Math.min(32767, yi shr INTER_BITS))
                    val ax = xi and (INTER_TAB_SIZE - 1)
                    val ay = yi and (INTER_TAB_SIZE - 1)
                    val w00 = (32 - ax) * (32 - ay) * 32
                    val w01 = ax * (32 - ay) * 32
                    val w10 = (32 - ax) * ay * 32
                    val w11 = ax * ay * 32
                    val xa = Math.min(Math.max(sx, 0), width - 1) * 3
                    val xc = Math.min(Math.max(sx + 1, 0), width - 1) * 3
                    val ya = Math.min(Math.max(sy, 0), height - 1) * row
                    val yc = Math.min(Math.max(sy + 1, 0), height - 1) * row
                    val o = (y * size + xb + x1) * 3
                    for (c in 0 until 3) {
                        val v = (src[ya + xa + c].toInt() and 0xFF) * w00 + (src[ya + xc + c].toInt() and 0xFF) * w01 +
                            (src[yc + xa + c].toInt() and 0xFF) * w10 + (src[yc + xc + c].toInt() and 0xFF) * w11
                        out[o + c] = Math.min(255, Math.max(0, (v + (1 shl (COEF_BITS - 1))) shr COEF_BITS)).toByte()
                    }
                }
                xb += bw0
            }
        }
        return out
    }
}
