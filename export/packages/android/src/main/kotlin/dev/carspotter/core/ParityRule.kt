// The top-3 rule of `carspotter parity`, as in the JavaScript package's selftest.js (pure Kotlin).
package dev.carspotter.core

/** Outcome of the rule on one photo: the first differing rank (null: none), near-ties counted, max |dp|. */
data class RuleResult(val mismatchRank: Int?, val nearTies: Int, val maxAbsDiff: Double)

object ParityRule {
    /** Class indices by decreasing probability; ties keep index order (numpy's stable argsort). */
    fun topk(probs: FloatArray, k: Int): List<Int> =
        probs.indices.sortedWith(Comparator { a, b -> if (probs[a] != probs[b]) probs[b].compareTo(probs[a]) else a - b }).take(k)

    /**
     * For ranks 1..3 the candidate's class must be the reference's, or one whose reference probability is
     * within [tau] of it (a near-tie, counted).
     */
    fun top3(reference: FloatArray, candidate: FloatArray, tau: Double): RuleResult {
        val k = Math.min(3, reference.size)
        val ref = topk(reference, k)
        val cand = topk(candidate, k)
        var nearTies = 0
        var mismatch: Int? = null
        for (r in 0 until k) {
            if (ref[r] == cand[r]) continue
            if (Math.abs(reference[ref[r]].toDouble() - reference[cand[r]].toDouble()) < tau) { nearTies++; continue }
            mismatch = r + 1
            break
        }
        var maxAbs = 0.0
        for (c in reference.indices) maxAbs = Math.max(maxAbs, Math.abs(reference[c].toDouble() - candidate[c].toDouble()))
        return RuleResult(mismatch, nearTies, maxAbs)
    }
}
