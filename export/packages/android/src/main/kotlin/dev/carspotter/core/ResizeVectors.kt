// The golden set's resize vectors (golden/resize/vectors.txt): a photo stored as PPM / PAM, or generated from a seed
// ("gen:SEED") when it is too large to ship (a 12 MP frame), with the EXIF orientation it is stored with and a region
// of interest in the upright photo; and the ROIs every port refuses (bad_rois.txt). Pure Kotlin; used by the JVM
// tests and the self-test.
package dev.carspotter.core

object ResizeVectors {
    /**
     * One line of vectors.txt: the stored photo ([width] x [height], [channels] 3 or 4, EXIF [orientation] 1..8), the
     * [roi] cut from the upright photo (null: the whole photo) and the [size] x [size] RGB bytes the reference makes of
     * it ([expected], whose SHA-256 is [sha256]).
     */
    class Row(val name: String, val photo: String, val expected: String, val width: Int, val height: Int,
              val channels: Int, val size: Int, val sha256: String, val orientation: Int, val roi: Roi?)

    /**
     * The rows of vectors.txt (comment lines skipped): 10 tab-separated fields each; a file written before ROIs has
     * the first 8, read as orientation 1 and no ROI.
     * @throws IllegalArgumentException a row without its 8 or 10 fields, or with a ROI that is not 4 integers
     */
    fun rows(text: String): List<Row> =
        text.lines().filter { it.isNotEmpty() && !it.startsWith("#") }.map { line ->
            val f = line.split("\t")
            require(f.size == 8 || f.size == 10) { "row '${f[0]}' has ${f.size} fields, not 10; re-export the bundle" }
            val roi = if (f.size == 8 || f[9] == "-") null else f[9].split(",").map { it.trim().toInt() }.let {
                require(it.size == 4) { "row '${f[0]}': ROI '${f[9]}' is not x0,y0,x1,y1; re-export the bundle" }
                Roi(it[0], it[1], it[2], it[3])
            }
            Row(f[0], f[1], f[2], f[3].toInt(), f[4].toInt(), f[5].toInt(), f[6].toInt(), f[7],
                if (f.size == 8) 1 else f[8].toInt(), roi)
        }

    /**
     * One line of bad_rois.txt: a [width] x [height] upright photo, a ROI's four [values] as text ("NaN", "Infinity",
     * "-1", "10.5", "12.0" included) and its [kind]: "ok" (accept) or the fault (refuse).
     */
    class BadRoi(val width: Int, val height: Int, val values: List<String>, val kind: String)

    /** The lines of bad_rois.txt (comment lines skipped). */
    fun badRois(text: String): List<BadRoi> =
        text.lines().filter { it.isNotEmpty() && !it.startsWith("#") }.map { line ->
            val f = line.split("\t")
            require(f.size == 7) { "bad_rois.txt line '$line' has ${f.size} fields, not 7; re-export the bundle" }
            BadRoi(f[0].toInt(), f[1].toInt(), f.subList(2, 6), f[6])
        }

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

    /**
     * Rows [top] until top + [count] of [generated] as opaque 0xFFRRGGBB ints, into [into]: the columns [left] until
     * left + [columns] (default: the whole row), columns ints per row.
     */
    fun generatedRows(width: Int, height: Int, seed: Int, top: Int, count: Int, into: IntArray, left: Int = 0,
                      columns: Int = width) {
        val s = seed * 0x9E3779B9L.toInt()
        val dx = Math.max(1, width - 1); val dy = Math.max(1, height - 1)
        for (y in top until top + count) for (x in left until left + columns) {
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
            into[(y - top) * columns + x - left] = p
        }
    }

    /** [generated] as a [PixelSource], made a band at a time: a 48 MP test photo that is never whole in memory. */
    class Generated(override val width: Int, override val height: Int, private val seed: Int) : PixelSource {
        override val hasAlpha: Boolean get() = false
        override fun readRows(top: Int, count: Int, into: IntArray) = generatedRows(width, height, seed, top, count, into)
        override fun readRows(left: Int, columns: Int, top: Int, count: Int, into: IntArray) =
            generatedRows(width, height, seed, top, count, into, left, columns)
    }
}
