// The golden set's resize vectors (golden/resize/vectors.txt): a photo stored as PPM / PAM, or generated from a seed
// ("gen:SEED") when it is too large to ship (a 12 MP frame). Pure Kotlin; used by the JVM tests and the self-test.
package dev.carspotter.core

object ResizeVectors {
    /**
     * The photo of one vector: [column] is the index's photo column, a file name read with [read] or "gen:SEED".
     * @throws IllegalArgumentException a stored file that is not P6 / P7
     */
    fun photo(column: String, width: Int, height: Int, read: (String) -> ByteArray): Image =
        if (column.startsWith("gen:")) generated(width, height, column.substring(4).toInt()) else Pnm.parse(read(column))

    /**
     * A generated photo, as carspotter.contracts.resize_vectors.generated_photo: for pixel (x, y), channel c, in 32-bit
     * arithmetic, z = (y * width + x) * 3 + c + seed * 0x9E3779B9, MurmurHash3's fmix32, value = clamp(base + z % 81
     * - 40, 0, 255) with z unsigned; base = x * 255 / (width - 1), y * 255 / (height - 1), ((x / 7 + y / 5) % 2) * 200 + 20.
     */
    fun generated(width: Int, height: Int, seed: Int): Image {
        val out = ByteArray(width * height * 3)
        val row = IntArray(width)
        for (y in 0 until height) {
            generatedRows(width, height, seed, y, 1, row)
            for (x in 0 until width) {
                val p = row[x]
                val o = (y * width + x) * 3
                out[o] = (p shr 16).toByte(); out[o + 1] = (p shr 8).toByte(); out[o + 2] = p.toByte()
            }
        }
        return Image(out, width, height, 3)
    }

    /** Rows [top] until top + [count] of [generated] as opaque 0xFFRRGGBB ints, width per row, into [into]. */
    fun generatedRows(width: Int, height: Int, seed: Int, top: Int, count: Int, into: IntArray) {
        val s = seed * 0x9E3779B9L.toInt()
        val dx = Math.max(1, width - 1); val dy = Math.max(1, height - 1)
        for (y in top until top + count) for (x in 0 until width) {
            var i = (y * width + x) * 3
            var p = 0xFF
            for (c in 0 until 3) {
                val base = when (c) { 0 -> x * 255 / dx; 1 -> y * 255 / dy; else -> ((x / 7 + y / 5) % 2) * 200 + 20 }
                var z = i + s
                z = (z xor (z ushr 16)) * 0x85EBCA6BL.toInt()
                z = (z xor (z ushr 13)) * 0xC2B2AE35L.toInt()
                z = z xor (z ushr 16)
                val noise = ((z.toLong() and 0xFFFFFFFFL) % 81).toInt() - 40
                p = (p shl 8) or Math.min(255, Math.max(0, base + noise))
                i++
            }
            into[(y - top) * width + x] = p
        }
    }

    /** [generated] as a [PixelSource], made a band at a time: a 48 MP test photo that is never whole in memory. */
    class Generated(override val width: Int, override val height: Int, private val seed: Int) : PixelSource {
        override val hasAlpha: Boolean get() = false
        override fun readRows(top: Int, count: Int, into: IntArray) = generatedRows(width, height, seed, top, count, into)
    }
}
