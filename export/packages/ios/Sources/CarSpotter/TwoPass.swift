// Two-pass recognition's box logic, ported exactly from carspotter.model.two_pass and checked on the golden set's box
// vectors (golden/two_pass/box_vectors.txt): pass 1's box output (four Float32 x0, y0, x1, y1 in 0...1 of the region
// it saw) -> a Roi of whole photo pixels, or none -> whether pass 2 classifies that Roi. Every step is stated so that
// Swift, Kotlin, JavaScript and the reference compute the same integers:
// 1. the four Floats widened to Double exactly; any NaN or infinity: no box;
// 2. each clamped to 0...1;
// 3. px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw), likewise y with ry0 and rh (one Double product each);
// 4. a side under MIN_BOX_SIDE (8) px, a reversed box included: no box;
// 5. the margin in integers, side / 8 on each side, kept inside the region;
// 6. pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9.
// The models carry no box output yet: this is the pure logic and its tests, for when they do.
import Foundation

public enum TwoPass {
    /// Smallest box side, in photo pixels, taken as a car (step 4); below it the localizer found nothing usable.
    public static let minBoxSide = 8
    /// The margin added on each side is the box's side / 8 (12.5 %, step 5).
    public static let marginDivisor = 8
    /// Pass 2 runs when the ROI is below 9/10 of the region's width or of its height (step 6).
    public static let secondPassBelow = (numerator: 9, denominator: 10)
    /// The box logic in one line, as the bundle's manifest (`two_pass.rule`) states it.
    public static let rule = "box x0,y0,x1,y1 in 0..1 of the region (float32 widened to float64; NaN or infinity: no box), "
        + "clamped to 0..1; px0 = rx0 + floor(x0 * rw), px1 = rx0 + ceil(x1 * rw) (likewise y); no box when a side < 8 px; "
        + "margin side // 8 on each side, kept inside the region; pass 2 when roi_w * 10 < rw * 9 or roi_h * 10 < rh * 9"

    /// The ROI pass 2 classifies, from pass 1's box output (steps 1 to 5; carspotter.model.two_pass.box_to_roi).
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
        let mx = (px1 - px0) / marginDivisor, my = (py1 - py0) / marginDivisor  // both sides >= 8 > 0: floor division
        return Roi(unchecked: max(region.x0, px0 - mx), max(region.y0, py0 - my),
                   min(region.x1, px1 + mx), min(region.y1, py1 + my))
    }

    /// True when pass 2 should classify `roi`: a box was found and it is below 9/10 of `region` on a side (step 6,
    /// in integers; carspotter.model.two_pass.needs_second_pass).
    public static func needsSecondPass(_ roi: Roi?, region: Roi) -> Bool {
        guard let roi = roi else { return false }
        let (num, den) = secondPassBelow
        return roi.width * den < region.width * num || roi.height * den < region.height * num
    }
}
