// A Bitmap read a band of rows at a time for the Kotlin core's box reduction (BandReduce): the photo's stored values,
// never the whole photo on the Java heap; for a region of interest, only the columns that hold it.
package dev.carspotter

import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.ColorSpace
import android.graphics.Rect
import android.os.Build
import dev.carspotter.core.PixelSource
import java.nio.ByteBuffer

/**
 * The bitmap's pixels as the reference reads a photo: its stored values, no colour conversion. An opaque bitmap in
 * sRGB (or with no colour space, before API 26) is read with getPixels, which then converts nothing; one in another
 * colour space (a Display P3 JPEG) is drawn a band at a time into a bitmap of the same colour space and read raw with
 * copyPixelsToBuffer. A bitmap with transparency is read with getPixels, un-premultiplied (and in sRGB, the only
 * colour space transparent photos come in here). Other configs (HARDWARE, RGB_565, RGBA_F16) are copied to ARGB_8888
 * first: that copy is native memory (the bitmap's pixels), not Java heap.
 */
internal class BitmapRows(bitmap: Bitmap) : PixelSource {
    private val argb = if (bitmap.config == Bitmap.Config.ARGB_8888) bitmap else bitmap.copy(Bitmap.Config.ARGB_8888, false)
    override val width: Int = argb.width
    override val height: Int = argb.height
    override val hasAlpha: Boolean = argb.hasAlpha()
    private val raw = !hasAlpha && Build.VERSION.SDK_INT >= 26 && argb.colorSpace.let {
        it != null && it != ColorSpace.get(ColorSpace.Named.SRGB)
    }
    private var band: Bitmap? = null
    private var bytes: ByteBuffer? = null

    override fun readRows(top: Int, count: Int, into: IntArray) = readRows(0, width, top, count, into)

    /** Columns [left] until left + [columns] of rows [top] until top + [count] (a region of interest's stored pixels). */
    override fun readRows(left: Int, columns: Int, top: Int, count: Int, into: IntArray) {
        if (!raw) {
            argb.getPixels(into, 0, columns, left, top, columns, count)  // unpremultiplied ARGB ints
            return
        }
        val target = band?.takeIf { it.width == columns && it.height >= count }
            ?: Bitmap.createBitmap(columns, count, Bitmap.Config.ARGB_8888, false, argb.colorSpace!!).also {
                band = it
                bytes = null
            }
        val buffer = bytes ?: ByteBuffer.allocate(target.rowBytes * target.height).also { bytes = it }
        Canvas(target).drawBitmap(argb, Rect(left, top, left + columns, top + count), Rect(0, 0, columns, count), null)
        buffer.rewind()
        target.copyPixelsToBuffer(buffer)  // ARGB_8888 is R, G, B, A in memory
        val data = buffer.array()
        for (y in 0 until count) {
            var p = y * target.rowBytes
            for (x in 0 until columns) {
                into[y * columns + x] = (0xFF shl 24) or ((data[p].toInt() and 0xFF) shl 16) or
                    ((data[p + 1].toInt() and 0xFF) shl 8) or (data[p + 2].toInt() and 0xFF)
                p += 4
            }
        }
    }
}
