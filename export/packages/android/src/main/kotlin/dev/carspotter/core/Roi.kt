// Region of interest: which pixels of a photo the model is given (pure Kotlin, language level 1.3), as
// carspotter.model.roi states it and the golden set's ROI vectors check it:
// - four whole numbers x0, y0, x1, y1 in pixels of the UPRIGHT photo (after the EXIF orientation), origin top-left;
// - half-open: the pixels x0 <= x < x1, y0 <= y < y1; the whole photo is 0, 0, W, H;
// - inside the photo and at least one pixel: 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H. Nothing is clipped: an empty,
//   reversed, negative, outside, non-whole (10.5) or non-number (NaN, infinity) ROI is refused with one line naming
//   the ROI, the photo's size and the rule; whole numbers as doubles (12.0) are accepted;
// - its pixels are cut at full resolution before the box pre-reduction, and the reference resize runs on them as if
//   they were the photo (box factors from the ROI's size, boxes from its top-left pixel).
package dev.carspotter.core

/**
 * A region of interest: x0 <= x < x1, y0 <= y < y1 in pixels of the upright photo. The constructor takes any four
 * integers (a value, as a Rect); [check] is what makes one fit for a photo, and what classify and the resize apply.
 */
data class Roi(val x0: Int, val y0: Int, val x1: Int, val y1: Int) {
    /** Width in pixels, x1 - x0 (at least 1 once checked). */
    val width: Int get() = x1 - x0

    /** Height in pixels, y1 - y0 (at least 1 once checked). */
    val height: Int get() = y1 - y0

    /** "x0,y0,x1,y1", as `carspotter predict --roi` takes it and the golden set writes it. */
    fun text(): String = "$x0,$y0,$x1,$y1"

    /**
     * The ROI's pixels of an upright [image], at full resolution (a copy, row by row; channels as the image's).
     * @throws IllegalArgumentException the ROI breaks [RULE] for the image's size
     */
    fun cut(image: Image): Image {
        check(this, image.width, image.height)
        val c = image.channels
        val out = ByteArray(width * height * c)
        for (y in 0 until height) {
            System.arraycopy(image.pixels, ((y0 + y) * image.width + x0) * c, out, y * width * c, width * c)
        }
        return Image(out, width, height, c)
    }

    companion object {
        /** The rule a ROI must meet, as the error messages and the manifest state it (carspotter.model.roi.RULE). */
        const val RULE = "0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, whole pixels of the upright photo, half-open"

        /** The whole upright [width] x [height] photo: 0, 0, width, height. */
        @JvmStatic
        fun whole(width: Int, height: Int): Roi = Roi(0, 0, width, height)

        /**
         * Check a ROI given as doubles (a JavaScript-style number, a RectF holding whole pixels) against the upright
         * [width] x [height] photo.
         * @throws IllegalArgumentException one line naming the ROI, the photo's size and [RULE]: a value NaN, infinite
         *   or not whole (10.5), a negative coordinate, an empty or reversed ROI, or one reaching past the photo's edge
         */
        @JvmStatic
        fun check(x0: Double, y0: Double, x1: Double, y1: Double, width: Int, height: Int): Roi {
            val values = doubleArrayOf(x0, y0, x1, y1)
            val shown = values.joinToString(", ", "(", ")") { shown(it) }
            val size = "the ${width}x$height photo"
            for (i in 0 until 4) {
                val v = values[i]
                require(!v.isNaN() && !v.isInfinite()) { "ROI $shown for $size: ${NAMES[i]} is $v, not a pixel coordinate; $RULE" }
                require(v == Math.floor(v)) { "ROI $shown for $size: ${NAMES[i]} = $v is not a whole pixel; $RULE" }
            }
            // whole numbers past Int's range saturate, and are then refused as negative or outside like any other
            return checked(x0.toLong(), y0.toLong(), x1.toLong(), y1.toLong(), shown, width, height)
        }

        /**
         * Check a ROI of whole pixels against the upright [width] x [height] photo.
         * @throws IllegalArgumentException one line naming the ROI, the photo's size and [RULE]
         */
        @JvmStatic
        fun check(x0: Int, y0: Int, x1: Int, y1: Int, width: Int, height: Int): Roi =
            checked(x0.toLong(), y0.toLong(), x1.toLong(), y1.toLong(), "($x0, $y0, $x1, $y1)", width, height)

        /**
         * Check [roi] against the upright [width] x [height] photo; returns it.
         * @throws IllegalArgumentException one line naming the ROI, the photo's size and [RULE]
         */
        @JvmStatic
        fun check(roi: Roi, width: Int, height: Int): Roi = check(roi.x0, roi.y0, roi.x1, roi.y1, width, height)

        private val NAMES = arrayOf("x0", "y0", "x1", "y1")

        private fun shown(v: Double): String =
            if (!v.isNaN() && !v.isInfinite() && v == Math.floor(v) && Math.abs(v) < 1e15) v.toLong().toString() else v.toString()

        private fun checked(x0: Long, y0: Long, x1: Long, y1: Long, shown: String, width: Int, height: Int): Roi {
            val size = "the ${width}x$height photo"
            require(Math.min(Math.min(x0, y0), Math.min(x1, y1)) >= 0) {
                "ROI $shown has a negative coordinate; it must lie inside $size: $RULE"
            }
            require(x1 > x0 && y1 > y0) {
                "ROI $shown is empty (x1 <= x0 or y1 <= y0) in $size; it must hold at least one pixel: $RULE"
            }
            require(x1 <= width && y1 <= height) {
                "ROI $shown reaches outside $size (x1 <= $width, y1 <= $height); $RULE"
            }
            return Roi(x0.toInt(), y0.toInt(), x1.toInt(), y1.toInt())
        }
    }
}
