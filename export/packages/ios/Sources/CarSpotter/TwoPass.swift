// Two-pass recognition's box logic, ported exactly from carspotter.model.two_pass and checked on the golden set's box
// vectors (golden/two_pass/box_vectors.txt): pass 1's box output (four Float32 x0, y0, x1, y1 in 0...1 of the region
// it saw) -> a Roi of whole photo pixels, or none -> whether pass 2 classifies that Roi. Every step is stated so that
// Swift, Kotlin, JavaScript and the reference compute the same integers:
// 1. the four Floats widened to Double exactly; any NaN or infinity: no box;
// 2. each clamped to 0...1;
// 3. px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw), likewise y with ry0 and rh (one Double product each);
// 4. a side under MIN_BOX_SIDE (8) px, a reversed box included: no box;
// 5. pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9.
// `TwoPass.run(region:pass1:pass2:)` is the recognition around it, as carspotter.model.localizer.two_pass: pass 1 on
// the region, the box logic, pass 2 on the ROI it found when the car is small; `CarClassifier.twoPass` runs it with
// the model's "box" output (a bundle exported from a run with a localizer).
import Foundation

/// What two-pass recognition says of one photo, as probabilities (carspotter.model.localizer.TwoPassAnswer).
public struct TwoPassResult: Sendable, Equatable {
    /// `[C]` 0...1 in label order: pass 2's when it ran, else pass 1's.
    public let probabilities: [Float]
    /// Pass 1's box output as the model gave it: x0, y0, x1, y1 in 0...1 of the region pass 1 saw.
    public let box: [Float]
    /// The ROI pass 2 classified, in upright-photo pixels; nil when pass 2 did not run.
    public let roi: Roi?
    /// The ROI `TwoPass.boxToRoi` made of the box (nil: no usable box), whether or not pass 2 ran.
    public let found: Roi?
    /// 1 or 2.
    public let passes: Int
    /// `[C]` pass 1's probabilities (equal to `probabilities` when `passes` is 1).
    public let first: [Float]

    public init(probabilities: [Float], box: [Float], roi: Roi?, found: Roi?, passes: Int, first: [Float]) {
        self.probabilities = probabilities
        self.box = box
        self.roi = roi
        self.found = found
        self.passes = passes
        self.first = first
    }
}

/// Two-pass recognition's answer for the app (`CarClassifier.twoPass`): `classification` is what `classify` would say
/// of the probabilities two-pass ends with (pass 2's when it ran, else pass 1's); the rest says how it got there.
public struct TwoPassClassification: Sendable {
    /// The answer: top 3, with `show` false below the bundle's threshold or for "not a car".
    public let classification: Classification
    /// Pass 1's box output: x0, y0, x1, y1 in 0...1 of the region pass 1 saw.
    public let box: [Float]
    /// The ROI pass 2 classified (upright-photo pixels), or nil when one pass was enough.
    public let roi: Roi?
    /// The ROI the box logic made of the box (nil: no usable box), whether or not pass 2 ran.
    public let found: Roi?
    /// 1 or 2.
    public let passes: Int
    /// Pass 1's answer (the same as `classification` when `passes` is 1).
    public let first: Classification

    /// The most probable class of `classification`.
    public var best: Guess { classification.best }
    /// `classification.show`.
    public var show: Bool { classification.show }

    /// `result`'s probabilities as `info`'s answers (top 3, threshold, "not a car").
    public init(_ result: TwoPassResult, info: BundleInfo) {
        let one = info.classification(result.first)
        first = one
        classification = result.passes == 1 ? one : info.classification(result.probabilities)
        box = result.box
        roi = result.roi
        found = result.found
        passes = result.passes
    }
}

/// Why two-pass recognition cannot run (one line each, naming the fix).
public enum TwoPassError: LocalizedError, CustomStringConvertible, Sendable, Equatable {
    /// The model has no "box" output (exported from a run without a localizer).
    case noBoxOutput(String)
    /// The box output gave other than 4 values.
    case badBox(count: Int)

    public var description: String {
        switch self {
        case .noBoxOutput(let why):
            return "carspotter: twoPass needs the model's \"box\" output, and \(why); export the bundle from a run with "
                + "a localizer: carspotter localize RUN, then carspotter export RUN"
        case .badBox(let count):
            return "carspotter: the model's \"box\" output gave \(count) numbers, not 4 (x0, y0, x1, y1)"
        }
    }

    public var errorDescription: String? { description }
}

public enum TwoPass {
    /// Smallest box side, in photo pixels, taken as a car (step 4); below it the localizer found nothing usable.
    public static let minBoxSide = 8
    /// Pass 2 runs when the ROI is below 9/10 of the region's width or of its height (step 5).
    public static let secondPassBelow = (numerator: 9, denominator: 10)
    /// The box logic in one line, as the bundle's manifest (`two_pass.rule`) states it.
    public static let rule = "box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), "
        + "clamped to 0..1; px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; "
        + "pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9"

    /// The ROI pass 2 classifies, from pass 1's box output (steps 1 to 4; carspotter.model.two_pass.box_to_roi).
    /// - Parameters:
    ///   - box: 4 values x0, y0, x1, y1 in 0...1 of `region` (the model's `box` output, Float32)
    ///   - region: what pass 1 saw, in upright-photo pixels (`Roi.whole(width:height:)` for the whole photo)
    /// - Returns: the ROI in upright-photo pixels, inside `region`; nil when the box is not 4 finite values or too small
    public static func boxToRoi(_ box: [Float], region: Roi) -> Roi? {
        guard box.count == 4 else { return nil }
        let values = box.map { Double($0) }  // exact
        guard values.allSatisfy({ $0.isFinite }) else { return nil }
        let c = values.map { min(1.0, max(0.0, $0)) }
        let rw = Double(region.width), rh = Double(region.height)
        // each product is one Double multiplication, then floor / ceil; 0 <= product <= side, so the Int is exact
        let px0 = region.x0 + Int((c[0] * rw).rounded(.down)), px1 = region.x0 + Int((c[2] * rw).rounded(.up))
        let py0 = region.y0 + Int((c[1] * rh).rounded(.down)), py1 = region.y0 + Int((c[3] * rh).rounded(.up))
        if px1 - px0 < minBoxSide || py1 - py0 < minBoxSide { return nil }
        return Roi(unchecked: px0, py0, px1, py1)  // inside region: 0 <= x0 <= x1 <= 1 after the clamp
    }

    /// True when pass 2 should classify `roi`: a box was found and it is below 9/10 of `region` on a side (step 5,
    /// in integers; carspotter.model.two_pass.needs_second_pass).
    public static func needsSecondPass(_ roi: Roi?, region: Roi) -> Bool {
        guard let roi = roi else { return false }
        let (num, den) = secondPassBelow
        return roi.width * den < region.width * num || roi.height * den < region.height * num
    }

    /// Two-pass recognition of one upright photo, as the reference (carspotter.model.localizer.two_pass): `pass1` on
    /// `region` gives probabilities and the car's box; `boxToRoi` makes a ROI of the box; when `needsSecondPass` says
    /// the car is small, `pass2` classifies that ROI (its pixels cut from the full-resolution photo, then the usual
    /// resize), else the answer is pass 1's. The passes are the caller's: the model (`CarClassifier.twoPass`), or fakes.
    /// - Parameters:
    ///   - region: what pass 1 sees, in upright-photo pixels: the whole photo (`Roi.whole(width:height:)`) or the
    ///     caller's ROI, checked against the photo. The box, and pass 2's ROI, lie inside it
    ///   - pass1: the model on a region: probabilities `[C]` 0...1 in label order, and its box output (4 values x0, y0,
    ///     x1, y1 in 0...1 of that region) or nil when the model has none
    ///   - pass2: the model on a ROI: probabilities `[C]` 0...1 (its box is not used)
    /// - Returns: the answer; `pass2` ran once when `passes` is 2, never otherwise
    /// - Throws: `TwoPassError.noBoxOutput` when `pass1` gave no box, `.badBox` for a box of other than 4 values; the
    ///   passes' own errors
    public static func run(region: Roi,
                           pass1: (Roi) async throws -> (probabilities: [Float], box: [Float]?),
                           pass2: (Roi) async throws -> [Float]) async throws -> TwoPassResult {
        let one = try await pass1(region)
        guard let box = one.box else { throw TwoPassError.noBoxOutput("this model has none") }
        guard box.count == 4 else { throw TwoPassError.badBox(count: box.count) }
        let found = boxToRoi(box, region: region)
        guard let roi = found, needsSecondPass(roi, region: region) else {
            return TwoPassResult(probabilities: one.probabilities, box: box, roi: nil, found: found, passes: 1,
                                 first: one.probabilities)
        }
        let second = try await pass2(roi)
        return TwoPassResult(probabilities: second, box: box, roi: roi, found: roi, passes: 2, first: one.probabilities)
    }
}
