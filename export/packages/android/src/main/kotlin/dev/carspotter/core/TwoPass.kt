// Two-pass recognition's box logic (pure Kotlin, language level 1.3): from pass 1's box output to the ROI pass 2
// classifies, step for step as carspotter.model.two_pass, in the same integers (checked on the golden set's box
// vectors, golden/two_pass/box_vectors.txt):
// 1. the four float32 outputs widened to Double exactly; any NaN or infinity: no box;
// 2. each clamped to [0, 1];
// 3. px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw), likewise y with ry0, rh (one Double product each);
// 4. no box when px1 - px0 < MIN_BOX_SIDE or py1 - py0 < MIN_BOX_SIDE (a reversed box included);
// 5. pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9.
// TwoPass.run is the recognition around it, as carspotter.model.localizer.two_pass: pass 1 on the region, the box
// logic, pass 2 on the ROI it found when the car is small; CarSpotter.twoPass runs it with the model.
package dev.carspotter.core

/**
 * What two-pass recognition says of one photo, as probabilities (carspotter.model.localizer.TwoPassAnswer).
 * @property probabilities [C] 0..1 in label order: pass 2's when it ran, else pass 1's
 * @property box pass 1's box output as the model gave it: 4 floats x0, y0, x1, y1 in 0..1 of the region pass 1 saw
 * @property roi the ROI pass 2 classified, in upright-photo pixels; null when pass 2 did not run
 * @property found the ROI [TwoPass.boxToRoi] made of the box (null: no usable box), whether or not pass 2 ran
 * @property passes 1 or 2
 * @property first [C] pass 1's probabilities (the same array as [probabilities] when [passes] is 1)
 */
class TwoPassResult(val probabilities: FloatArray, val box: FloatArray, val roi: Roi?, val found: Roi?, val passes: Int,
                    val first: FloatArray) {
    override fun toString(): String =
        "TwoPassResult(passes=$passes, box=${box.joinToString(",")}, roi=${roi?.text()}, found=${found?.text()})"
}

/**
 * Two-pass recognition's answer for the app: [classification] is what classify would say of the probabilities two-pass
 * ends with (pass 2's when it ran, else pass 1's); the other fields say how it got there.
 * @property box pass 1's box output, 4 floats x0, y0, x1, y1 in 0..1 of the region pass 1 saw
 * @property roi the ROI pass 2 classified (upright-photo pixels), or null when one pass was enough
 * @property found the ROI the box logic made of the box (null: no usable box), whether or not pass 2 ran
 * @property passes 1 or 2
 * @property first pass 1's answer (the same as [classification] when [passes] is 1)
 */
class TwoPassClassification(val classification: Classification, val box: FloatArray, val roi: Roi?, val found: Roi?,
                            val passes: Int, val first: Classification) {
    /** The most probable class of [classification]. */
    val best: Guess get() = classification.best

    /** [classification]'s show: false below the bundle's threshold or for "not a car". */
    val show: Boolean get() = classification.show

    companion object {
        /** [result]'s probabilities as the bundle's answers (top 3, threshold, "not a car"). */
        @JvmStatic
        fun of(info: BundleInfo, result: TwoPassResult): TwoPassClassification {
            val first = info.classification(result.first)
            val last = if (result.passes == 1) first else info.classification(result.probabilities)
            return TwoPassClassification(last, result.box, result.roi, result.found, result.passes, first)
        }
    }
}

object TwoPass {
    /** Smallest box side, in photo pixels, taken as a car (step 4); below it the localizer found nothing usable. */
    const val MIN_BOX_SIDE = 8

    /** Pass 2 runs when the ROI is below SECOND_PASS_NUM / SECOND_PASS_DEN (9/10) of the region on a side (step 5). */
    const val SECOND_PASS_NUM = 9
    const val SECOND_PASS_DEN = 10

    /** The box logic in one line, as the manifest (two_pass.rule) states it. */
    const val RULE = "box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), clamped to 0..1; " +
        "px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; " +
        "pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9"

    /**
     * The ROI pass 2 classifies, from pass 1's box output (steps 1 to 4).
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
        return Roi(px0, py0, px1, py1)
    }

    /** True when pass 2 should classify [roi]: a box was found and it is below 9/10 of [region] on a side (step 5). */
    @JvmStatic
    fun needsSecondPass(roi: Roi?, region: Roi): Boolean {
        if (roi == null) return false
        return roi.width.toLong() * SECOND_PASS_DEN < region.width.toLong() * SECOND_PASS_NUM ||
            roi.height.toLong() * SECOND_PASS_DEN < region.height.toLong() * SECOND_PASS_NUM
    }

    /** Why two-pass cannot run on a model without the localizer's box output (one line, naming the fix). */
    const val NO_BOX = "carspotter: twoPass needs the model's box output (output 1, [1, 4]), and this model has none; " +
        "export the bundle from a run with a localizer: carspotter localize RUN, then carspotter export RUN"

    /**
     * Two-pass recognition of one upright photo, as the reference (carspotter.model.localizer.two_pass): [pass1] on
     * [region] gives probabilities and the car's box; [boxToRoi] makes a ROI of the box; when [needsSecondPass] says the
     * car is small, [pass2] classifies that ROI (its pixels cut from the full-resolution photo, then the usual resize),
     * else the answer is pass 1's. Runs on the calling thread; the passes are the caller's (the model, or fakes in tests).
     * @param region what pass 1 sees, in upright-photo pixels: the whole photo (Roi.whole(W, H)) or the caller's ROI,
     *   already checked against the photo (Roi.check). The box, and pass 2's ROI, lie inside it
     * @param pass1 the model on a region: probabilities [C] 0..1 in label order, and its box output (4 floats x0, y0,
     *   x1, y1 in 0..1 of that region) or null when the model has none
     * @param pass2 the model on a ROI: probabilities [C] 0..1 (its box is not used)
     * @return the answer; [pass2] ran once when [TwoPassResult.passes] is 2, never otherwise
     * @throws IllegalArgumentException an empty or reversed [region]
     * @throws IllegalStateException [pass1] gave no box ([NO_BOX]) or a box of other than 4 numbers (one line each)
     */
    @JvmStatic
    fun run(region: Roi, pass1: (Roi) -> Pair<FloatArray, FloatArray?>, pass2: (Roi) -> FloatArray): TwoPassResult {
        require(region.width >= 1 && region.height >= 1) { "the region ${region.text()} is empty or reversed" }
        val one = pass1(region)
        val box = checkNotNull(one.second) { NO_BOX }
        check(box.size == 4) { "carspotter: the model's box output gave ${box.size} numbers, not 4 (x0, y0, x1, y1)" }
        val found = boxToRoi(box, region)
        if (found == null || !needsSecondPass(found, region)) return TwoPassResult(one.first, box, null, found, 1, one.first)
        return TwoPassResult(pass2(found), box, found, found, 2, one.first)
    }
}
