// The top-3 rule of `carspotter parity` (port of the Kotlin core's ParityRule.kt).
import Foundation

public struct RuleResult: Sendable {
    /// First differing rank 1...3, or nil when the top 3 agree (up to near-ties).
    public let mismatchRank: Int?
    public let nearTies: Int
    public let maxAbsDiff: Double
}

public enum ParityRule {
    /// Class indices by decreasing probability; ties keep index order (numpy's stable argsort).
    public static func topk(_ probs: [Float], _ k: Int) -> [Int] {
        Array(probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }.prefix(k))
    }

    /// For ranks 1...3 the candidate's class must be the reference's, or one whose reference probability is within
    /// `tau` of it (a near-tie, counted).
    public static func top3(reference: [Float], candidate: [Float], tau: Double) -> RuleResult {
        let k = min(3, reference.count)
        let ref = topk(reference, k), cand = topk(candidate, k)
        var nearTies = 0
        var mismatch: Int? = nil
        for r in 0..<k where ref[r] != cand[r] {
            if abs(Double(reference[ref[r]]) - Double(reference[cand[r]])) < tau { nearTies += 1; continue }
            mismatch = r + 1
            break
        }
        var maxAbs = 0.0
        for c in reference.indices { maxAbs = max(maxAbs, abs(Double(reference[c]) - Double(candidate[c]))) }
        return RuleResult(mismatchRank: mismatch, nearTies: nearTies, maxAbsDiff: maxAbs)
    }
}
