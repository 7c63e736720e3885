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
        val ow = if (orientation >= 5) h else w
        val oh = if (orientation >= 5) w else h
        val out = ByteArray(image.pixels.size)
        for (y in 0 until oh) for (x in 0 until ow) {
            System.arraycopy(image.pixels, source(orientation, x, y, w, h) * c, out, (y * ow + x) * c, c)
        }
        return Image(out, ow, oh, c)
    }

    /**
     * The EXIF orientation (1, 6, 3 or 8) for a clockwise rotation in degrees that makes a frame upright, as CameraX
     * gives it (ImageProxy.imageInfo.rotationDegrees).
     * @throws IllegalArgumentException degrees not a multiple of 90
     */
    fun fromDegrees(degrees: Int): Int {
        require(degrees % 90 == 0) { "rotation must be a multiple of 90 degrees, got $degrees" }
        return when (((degrees % 360) + 360) % 360) {
            90 -> 6
            180 -> 3
            270 -> 8
            else -> 1
        }
    }

    /**
     * The stored pixels that hold an upright ROI: the rectangle (in the stored [width] x [height] image, half-open) whose
     * pixels, made upright with [orientation] (0..8), are exactly [roi]'s. What a region decoder (BitmapRegionDecoder)
     * or the band path (BandReduce) reads of a photo for a ROI. [roi] is not checked here (Roi.check).
     */
    fun storedRegion(orientation: Int, roi: Roi, width: Int, height: Int): Roi = when (orientation) {
        2 -> Roi(width - roi.x1, roi.y0, width - roi.x0, roi.y1)
        3 -> Roi(width - roi.x1, height - roi.y1, width - roi.x0, height - roi.y0)
        4 -> Roi(roi.x0, height - roi.y1, roi.x1, height - roi.y0)
        5 -> Roi(roi.y0, roi.x0, roi.y1, roi.x1)
        6 -> Roi(roi.y0, height - roi.x1, roi.y1, height - roi.x0)
        7 -> Roi(width - roi.y1, height - roi.x1, width - roi.y0, height - roi.x0)
        8 -> Roi(width - roi.y1, roi.x0, width - roi.y0, roi.x1)
        else -> roi
    }

    /**
     * The index (pixel number, row-major) in the stored [width] x [height] image of the pixel shown at ([x], [y]) once
     * upright, for an EXIF orientation 2..8.
     */
    fun source(orientation: Int, x: Int, y: Int, width: Int, height: Int): Int {
        val sx: Int; val sy: Int
        when (orientation) {
            2 -> { sx = width - 1 - x; sy = y }           // mirrored horizontally
            3 -> { sx = width - 1 - x; sy = height - 1 - y }  // rotated 180
            4 -> { sx = x; sy = height - 1 - y }          // mirrored vertically
            5 -> { sx = y; sy = x }                       // transposed
            6 -> { sx = y; sy = height - 1 - x }          // rotated 90 clockwise to view
            7 -> { sx = width - 1 - y; sy = height - 1 - x }  // transversed
            8 -> { sx = width - 1 - y; sy = x }           // rotated 90 counter-clockwise to view
            else -> { sx = x; sy = y }
        }
        return sy * width + sx
    }
}
