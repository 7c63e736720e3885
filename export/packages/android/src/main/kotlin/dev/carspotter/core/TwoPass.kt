// Two-pass recognition's box logic (pure Kotlin, language level 1.3): from pass 1's box output to the ROI pass 2
// classifies, step for step as carspotter.model.two_pass, in the same integers (checked on the golden set's box
// vectors, golden/two_pass/box_vectors.txt):
// 1. the four float32 outputs widened to Double exactly; any NaN or infinity: no box;
// 2. each clamped to [0, 1];
// 3. px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw), likewise y with ry0, rh (one Double product each);
// 4. no box when px1 - px0 < MIN_BOX_SIDE or py1 - py0 < MIN_BOX_SIDE (a reversed box included);
// 5. margin in integers, (px1 - px0) / MARGIN_DIVISOR on each side (likewise y), kept inside the region;
// 6. pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9.
package dev.carspotter.core

object TwoPass {
    /** Smallest box side, in photo pixels, taken as a car (step 4); below it the localizer found nothing usable. */
    const val MIN_BOX_SIDE = 8

    /** The margin added on each side is the box's side / 8 (12.5 %, integer division: step 5). */
    const val MARGIN_DIVISOR = 8

    /** Pass 2 runs when the ROI is below SECOND_PASS_NUM / SECOND_PASS_DEN (9/10) of the region on a side (step 6). */
    const val SECOND_PASS_NUM = 9
    const val SECOND_PASS_DEN = 10

    /** The box logic in one line, as the manifest (two_pass.rule) states it. */
    const val RULE = "box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), clamped to 0..1; " +
        "px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; " +
        "margin side // 8 on each side, kept inside the region; pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9"

    /**
     * The ROI pass 2 classifies, from pass 1's box output (steps 1 to 5).
     * @param box 4 float32 values x0, y0, x1, y1 in 0..1 of [region] (the model's `box` output)
     * @param region what pass 1 saw, in upright-photo pixels (Roi.whole(W, H) for the whole photo)
     * @return the ROI in upright-photo pixels, inside [region]; null when the box is not 4 finite values or too small
     */
    @JvmStatic
    fun boxToRoi(box: FloatArray, region: Roi): Roi? {
        if (box.size != 4) return null
        val v = DoubleArray(4)
        for (i in 0 until 4) {
            val d = box[i].toDouble()  // exact
            if (d.isNaN() || d.isInfinite()) return null
            v[i] = Math.min(1.0, Math.max(0.0, d))
        }
        val rw = region.width.toDouble()
        val rh = region.height.toDouble()
        val px0 = region.x0 + Math.floor(v[0] * rw).toInt()
        val px1 = region.x0 + Math.ceil(v[2] * rw).toInt()
        val py0 = region.y0 + Math.floor(v[1] * rh).toInt()
        val py1 = region.y0 + Math.ceil(v[3] * rh).toInt()
        if (px1 - px0 < MIN_BOX_SIDE || py1 - py0 < MIN_BOX_SIDE) return null
        val mx = (px1 - px0) / MARGIN_DIVISOR  // both sides at least 8: positive, so / is Python's //
        val my = (py1 - py0) / MARGIN_DIVISOR
        return Roi(Math.max(region.x0, px0 - mx), Math.max(region.y0, py0 - my),
                   Math.min(region.x1, px1 + mx), Math.min(region.y1, py1 + my))
    }

    /** True when pass 2 should classify [roi]: a box was found and it is below 9/10 of [region] on a side (step 6). */
    @JvmStatic
    fun needsSecondPass(roi: Roi?, region: Roi): Boolean {
        if (roi == null) return false
        return roi.width.toLong() * SECOND_PASS_DEN < region.width.toLong() * SECOND_PASS_NUM ||
            roi.height.toLong() * SECOND_PASS_DEN < region.height.toLong() * SECOND_PASS_NUM
    }
}
