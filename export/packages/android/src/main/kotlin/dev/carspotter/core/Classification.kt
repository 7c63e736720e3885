// What the app gets back, and the bundle facts it needs (pure Kotlin).
package dev.carspotter.core

/** One class: its index in the model's output, its label, its probability 0..1. */
data class Guess(val index: Int, val label: String, val probability: Float)

/**
 * The answer for one photo.
 * @property top the 3 most probable classes, most probable first
 * @property show false when the top-1's probability is below the bundle's threshold or it is the "not a car"
 *   class: ask for a closer photo instead of naming a car
 * @property probabilities every class's probability 0..1, in label order
 */
class Classification(val top: List<Guess>, val show: Boolean, val notACar: Boolean, val probabilities: FloatArray) {
    val best: Guess get() = top[0]
}

/**
 * The bundle facts (carspotter.json in the library's asset folder, BundleConstants.ASSETS, read by CarSpotter): input side, labels in the model's output
 * order, threshold, "not a car" class, model file name and its SHA-256 (`modelSha256`: what a model delivered apart from
 * the app is checked against, ModelDigest; null where carspotter.json has none).
 */
class BundleInfo(val size: Int, val labels: List<String>, val threshold: Float?, val notACar: String?, val model: String,
                 val modelSha256: String? = null) {
    /** The answer for a probability vector: top 3, threshold and "not a car" applied. */
    fun classification(probs: FloatArray): Classification {
        require(probs.size == labels.size) { "${probs.size} probabilities for ${labels.size} labels" }
        val top = ParityRule.topk(probs, Math.min(3, probs.size)).map { Guess(it, labels[it], probs[it]) }
        val notCar = notACar != null && top[0].label == notACar
        val show = !notCar && (threshold == null || top[0].probability >= threshold)
        return Classification(top, show, notCar, probs)
    }
}
