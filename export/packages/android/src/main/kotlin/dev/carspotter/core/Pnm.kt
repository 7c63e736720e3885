// Binary PPM (P6) and PAM (P7) files, as the golden set's resize vectors are stored (pure Kotlin).
package dev.carspotter.core

object Pnm {
    /** @throws IllegalArgumentException not a P6 or P7 file */
    fun parse(bytes: ByteArray): Image {
        val magic = String(bytes, 0, 2, Charsets.US_ASCII)
        if (magic == "P6") {
            var pos = 2
            val fields = ArrayList<Int>()
            while (fields.size < 3) {
                while (Character.isWhitespace(bytes[pos].toInt())) pos++
                val start = pos
                while (!Character.isWhitespace(bytes[pos].toInt())) pos++
                fields.add(String(bytes, start, pos - start, Charsets.US_ASCII).toInt())
            }
            val w = fields[0]; val h = fields[1]
            return Image(bytes.copyOfRange(pos + 1, pos + 1 + w * h * 3), w, h, 3)
        }
        require(magic == "P7") { "not a P6 or P7 image" }
        val text = String(bytes, 0, Math.min(bytes.size, 256), Charsets.US_ASCII)
        val end = text.indexOf("ENDHDR\n")
        require(end > 0) { "P7 header without ENDHDR" }
        val head = text.substring(3, end).trim().lines().associate { val kv = it.split(" ", limit = 2); kv[0] to kv[1] }
        val w = head.getValue("WIDTH").toInt(); val h = head.getValue("HEIGHT").toInt(); val c = head.getValue("DEPTH").toInt()
        val start = end + 7
        return Image(bytes.copyOfRange(start, start + w * h * c), w, h, c)
    }
}
