// EXIF orientation (TIFF tag 274, values 1..8) applied to packed pixels, as the reference decoder does
// (Pillow's ImageOps.exif_transpose): mirrored values (2, 4, 5, 7) included. Pure Kotlin.
package dev.carspotter.core

/** An upright image: [width] x [height], [channels] bytes per pixel, row-major. */
class Image(val pixels: ByteArray, val width: Int, val height: Int, val channels: Int)

object Orientation {
    /**
     * The upright image for an EXIF orientation; 1 (or 0, unknown) returns [image] itself.
     * @throws IllegalArgumentException orientation outside 0..8
     */
    fun upright(image: Image, orientation: Int): Image {
        require(orientation in 0..8) { "EXIF orientation must be 1..8 (0: unknown), got $orientation" }
        if (orientation <= 1) return image
        val w = image.width; val h = image.height; val c = image.channels
        val swap = orientation >= 5
        val ow = if (swap) h else w
        val oh = if (swap) w else h
        val out = ByteArray(image.pixels.size)
        for (y in 0 until oh) for (x in 0 until ow) {
            // the source pixel shown at (x, y) once upright
            val sx: Int; val sy: Int
            when (orientation) {
                2 -> { sx = w - 1 - x; sy = y }          // mirrored horizontally
                3 -> { sx = w - 1 - x; sy = h - 1 - y }  // rotated 180
                4 -> { sx = x; sy = h - 1 - y }          // mirrored vertically
                5 -> { sx = y; sy = x }                  // transposed
                6 -> { sx = y; sy = h - 1 - x }          // rotated 90 clockwise to view
                7 -> { sx = w - 1 - y; sy = h - 1 - x }  // transversed
                else -> { sx = w - 1 - y; sy = x }       // 8: rotated 90 counter-clockwise to view
            }
            System.arraycopy(image.pixels, (sy * w + sx) * c, out, (y * ow + x) * c, c)
        }
        return Image(out, ow, oh, c)
    }
}
