// Region of interest: which pixels of a photo the model is given. Port of carspotter.model.roi; the same semantics
// in the reference and in every package, checked on the golden set's ROI vectors (golden/resize/vectors.txt, the
// `roi` column, and golden/resize/bad_rois.txt):
// - four whole numbers x0, y0, x1, y1 in pixels of the UPRIGHT photo (after its EXIF orientation: a portrait phone
//   photo's ROI is in portrait coordinates), origin at the top-left pixel;
// - half-open: the pixels x0 <= x < x1, y0 <= y < y1; the whole photo is (0, 0, width, height);
// - inside the photo and at least one pixel: 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height. Nothing is clipped: an
//   empty, reversed, negative, outside, fractional (10.5) or non-finite ROI is refused with one line (RoiError)
//   naming the ROI, the photo's size and the rule. Whole numbers held in a Double (12.0) are accepted;
// - its pixels are cut at full resolution, BEFORE the box pre-reduction: the reference resize runs on them as if
//   they were the photo (box factors from the ROI's size, boxes from its top-left pixel, the bilinear step
//   replicating the ROI's own edge pixels). No pixel outside the ROI reaches the model.
// A detector's fractional box (Vision's normalized rect) becomes a Roi with `init(visionRect:uprightWidth:uprightHeight:)`,
// which rounds outward and clamps to the photo, documented below; `init(checking:...)` itself never rounds.
import CoreGraphics
import Foundation
import ImageIO

/// A ROI that breaks `Roi.rule`. `description` (and `errorDescription`, `localizedDescription`) is one line naming
/// the ROI, the photo's size and the rule.
public struct RoiError: LocalizedError, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong with it; the raw values are the kinds of golden/resize/bad_rois.txt.
    public enum Kind: String, Sendable {
        /// NaN or an infinity.
        case notANumber = "not-a-number"
        /// Not a whole pixel (10.5).
        case notWhole = "not-whole"
        /// A coordinate below 0.
        case negative
        /// x1 <= x0 or y1 <= y0: no pixel.
        case empty
        /// x1 > width or y1 > height.
        case outside
    }

    public let kind: Kind
    /// The one line.
    public let message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
    public var errorDescription: String? { message }
}

/// A checked region of interest: the pixels x0 <= x < x1, y0 <= y < y1 of the upright photo (after its EXIF
/// orientation), at least one, inside the photo it was checked against. Made only by checking
/// (`init(checking:_:_:_:width:height:)`) or from a detector's rect (`init(visionRect:uprightWidth:uprightHeight:)`,
/// `init(pixelRect:uprightWidth:uprightHeight:)`); `CarClassifier.classify(_:orientation:roi:)` checks it again
/// against the photo it is given.
public struct Roi: Hashable, Sendable, CustomStringConvertible {
    /// The rule a ROI must meet, as the error messages and the bundle's manifest state it.
    public static let rule = "0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, whole pixels of the upright photo, half-open"

    public let x0: Int
    public let y0: Int
    public let x1: Int
    public let y1: Int

    /// Width in pixels, x1 - x0 (at least 1).
    public var width: Int { x1 - x0 }
    /// Height in pixels, y1 - y0 (at least 1).
    public var height: Int { y1 - y0 }
    /// "x0,y0,x1,y1", as `carspotter predict --roi` takes it and the golden vectors write it.
    public var text: String { "\(x0),\(y0),\(x1),\(y1)" }
    public var description: String { text }

    /// Callers guarantee 0 <= x0 < x1 and 0 <= y0 < y1 (the box logic, the checks below).
    init(unchecked x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) {
        self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1
    }

    /// Check a ROI against a `width` x `height` upright photo, as carspotter.model.roi.check_roi: every value finite
    /// and whole (12.0 is 12; 10.5, NaN and infinities are refused), then none negative, then not empty, then inside.
    /// - Throws: `RoiError` (its `kind` says which rule, its line names the ROI, the photo's size and the rule).
    public init(checking x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width: Int, height: Int) throws {
        let values = [x0, y0, x1, y1]
        let shown = "(" + values.map(Roi.shown).joined(separator: ", ") + ")"
        for (value, name) in zip(values, ["x0", "y0", "x1", "y1"]) {
            if !value.isFinite {
                throw RoiError(kind: .notANumber, message: "carspotter: ROI \(shown) for the \(width)x\(height) photo: "
                               + "\(name) is \(value), not a pixel coordinate; \(Roi.rule)")
            }
            if value != value.rounded(.down) {
                throw RoiError(kind: .notWhole, message: "carspotter: ROI \(shown) for the \(width)x\(height) photo: "
                               + "\(name) = \(value) is not a whole pixel; \(Roi.rule)")
            }
        }
        // finite and whole: compared as Doubles (exact), so that no huge value is converted to Int before it is refused
        if let kind = Roi.fault(x0, y0, x1, y1, zero: 0.0, width: Double(width), height: Double(height)) {
            throw Roi.error(kind, shown: shown, width: width, height: height)
        }
        self.init(unchecked: Int(x0), Int(y0), Int(x1), Int(y1))  // 0 <= each <= width or height: exact
    }

    /// `init(checking:...)` for whole pixels given as Ints.
    /// - Throws: `RoiError` (negative, empty or outside).
    public init(checking x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, width: Int, height: Int) throws {
        if let kind = Roi.fault(x0, y0, x1, y1, zero: 0, width: width, height: height) {
            throw Roi.error(kind, shown: "(\(x0), \(y0), \(x1), \(y1))", width: width, height: height)
        }
        self.init(unchecked: x0, y0, x1, y1)
    }

    /// The whole `width` x `height` photo, (0, 0, width, height): the region pass 1 sees without a ROI.
    /// - Throws: `RoiError` (empty) for a side under 1.
    public static func whole(width: Int, height: Int) throws -> Roi {
        try Roi(checking: 0, 0, width, height, width: width, height: height)
    }

    /// This ROI checked again against a `width` x `height` upright photo (a ROI made for another photo).
    /// - Throws: `RoiError` (outside) when it reaches past that photo.
    public func checked(width: Int, height: Int) throws -> Roi {
        try Roi(checking: x0, y0, x1, y1, width: width, height: height)
    }

    /// The ROI's pixels of an upright image, at full resolution (carspotter.model.roi.cut): `width` x `height` pixels,
    /// the image's channels.
    /// - Throws: `RoiError` when the ROI does not lie inside `image`.
    public func cut(_ image: PackedImage) throws -> PackedImage {
        _ = try checked(width: image.width, height: image.height)
        let c = image.channels, row = width * c
        var out = [UInt8](repeating: 0, count: height * row)
        for y in 0..<height {
            let from = ((y0 + y) * image.width + x0) * c
            out.replaceSubrange((y * row)..<((y + 1) * row), with: image.pixels[from..<(from + row)])
        }
        return PackedImage(pixels: out, width: width, height: height, channels: c)
    }

    // MARK: rects from detectors and crop UIs

    /// A ROI from a rectangle in pixels of the upright photo with the origin at its TOP-LEFT (UIKit's convention; a
    /// crop UI's rect in image pixels: the displayed image's points times `UIImage.scale`), rounded OUTWARD to whole
    /// pixels and CLAMPED to the photo:
    /// `x0 = max(0, floor(minX))`, `y0 = max(0, floor(minY))`, `x1 = min(W, ceil(maxX))`, `y1 = min(H, ceil(maxY))`,
    /// where a value within 1e-6 px of a whole pixel counts as that pixel first (so that a rect computed from whole
    /// pixels, e.g. through a normalized rect, comes back as those pixels and not one wider). A partly covered pixel
    /// is in the ROI; what lies outside the photo is dropped. Unlike `init(checking:...)`, this rounds and clips:
    /// detectors and gestures give fractional boxes that may overshoot the edges.
    /// - Parameters:
    ///   - uprightWidth, uprightHeight: the upright photo's size in pixels (`Roi.uprightSize(of:orientation:)`)
    /// - Throws: `RoiError` (not-a-number) for a null, infinite or non-finite rect; (empty) when nothing of it is
    ///   left inside the photo, or the photo has no pixel.
    public init(pixelRect rect: CGRect, uprightWidth: Int, uprightHeight: Int) throws {
        let shown = "(x \(rect.origin.x), y \(rect.origin.y), width \(rect.size.width), height \(rect.size.height))"
        let r = rect.standardized
        let edges = [Double(r.minX), Double(r.minY), Double(r.maxX), Double(r.maxY)]
        guard !rect.isNull, !rect.isInfinite, edges.allSatisfy({ $0.isFinite }) else {
            throw RoiError(kind: .notANumber, message: "carspotter: rect \(shown) for the \(uprightWidth)x\(uprightHeight) "
                           + "photo is not finite; \(Roi.rule)")
        }
        let w = Double(uprightWidth), h = Double(uprightHeight)
        let x0 = min(w, max(0, Roi.snapped(edges[0]).rounded(.down)))
        let y0 = min(h, max(0, Roi.snapped(edges[1]).rounded(.down)))
        let x1 = min(w, max(0, Roi.snapped(edges[2]).rounded(.up)))
        let y1 = min(h, max(0, Roi.snapped(edges[3]).rounded(.up)))
        guard x0 < x1, y0 < y1 else {
            throw RoiError(kind: .empty, message: "carspotter: rect \(shown) covers no pixel of the \(uprightWidth)x"
                           + "\(uprightHeight) photo once rounded outward and clamped to it; \(Roi.rule)")
        }
        try self.init(checking: x0, y0, x1, y1, width: uprightWidth, height: uprightHeight)
    }

    /// A ROI from a Vision rect: normalized 0...1 of the upright photo with the origin at its BOTTOM-LEFT
    /// (`VNDetectedObjectObservation.boundingBox`, e.g. a `VNSaliencyImageObservation.salientObjects` element, when
    /// the request ran through `VNImageRequestHandler(cgImage:orientation:options:)` with the photo's own orientation
    /// and no `regionOfInterest`: Vision then reports in the upright photo). The rect is projected into pixels as
    /// `VNImageRectForNormalizedRect(rect, W, H)` does (x * W, y * H, width * W, height * H), flipped to a top-left
    /// origin (top = H - maxY * H, bottom = H - minY * H), then rounded outward and clamped as
    /// `init(pixelRect:uprightWidth:uprightHeight:)`: x0 = floor(minX * W), x1 = ceil(maxX * W),
    /// y0 = floor(H - maxY * H), y1 = ceil(H - minY * H), each clamped to 0...W or 0...H.
    /// - Parameters:
    ///   - uprightWidth, uprightHeight: the UPRIGHT photo's size: for an orientation of 5...8 (`.leftMirrored`,
    ///     `.right`, `.rightMirrored`, `.left`: a portrait phone photo) the stored image's height and width swapped;
    ///     `Roi.uprightSize(of:orientation:)` gives it
    /// - Throws: `RoiError` as `init(pixelRect:uprightWidth:uprightHeight:)`.
    public init(visionRect rect: CGRect, uprightWidth: Int, uprightHeight: Int) throws {
        let r = rect.standardized
        guard !rect.isNull, !rect.isInfinite else {
            try self.init(pixelRect: rect, uprightWidth: uprightWidth, uprightHeight: uprightHeight)  // refused there
            return
        }
        let w = Double(uprightWidth), h = Double(uprightHeight)
        let left = Double(r.minX) * w, right = Double(r.maxX) * w
        let top = h - Double(r.maxY) * h, bottom = h - Double(r.minY) * h
        try self.init(pixelRect: CGRect(x: left, y: top, width: right - left, height: bottom - top),
                      uprightWidth: uprightWidth, uprightHeight: uprightHeight)
    }

    /// `init(visionRect:uprightWidth:uprightHeight:)` for the stored `image` shown with EXIF `orientation` (the same
    /// CGImage and orientation given to Vision and to `classify(_:orientation:roi:)`).
    /// - Throws: as `init(visionRect:uprightWidth:uprightHeight:)`.
    public init(visionRect rect: CGRect, image: CGImage, orientation: CGImagePropertyOrientation) throws {
        let size = Roi.uprightSize(of: image, orientation: orientation)
        try self.init(visionRect: rect, uprightWidth: size.width, uprightHeight: size.height)
    }

    /// The upright size of a stored `width` x `height` photo with EXIF `orientation`: the sides swapped for 5...8.
    public static func uprightSize(width: Int, height: Int, orientation: CGImagePropertyOrientation) -> (width: Int, height: Int) {
        if orientation.rawValue >= 5 && orientation.rawValue <= 8 { return (width: height, height: width) }
        return (width: width, height: height)
    }

    /// The upright size of a stored CGImage with EXIF `orientation` (`image.width` x `image.height`, swapped for 5...8).
    public static func uprightSize(of image: CGImage, orientation: CGImagePropertyOrientation) -> (width: Int, height: Int) {
        uprightSize(width: image.width, height: image.height, orientation: orientation)
    }

    // MARK: private

    /// The first rule a ROI of whole numbers breaks, in check_roi's order: negative, empty, outside; nil when none.
    private static func fault<T: Comparable>(_ x0: T, _ y0: T, _ x1: T, _ y1: T, zero: T, width: T, height: T) -> RoiError.Kind? {
        if x0 < zero || y0 < zero || x1 < zero || y1 < zero { return .negative }
        if x1 <= x0 || y1 <= y0 { return .empty }
        if x1 > width || y1 > height { return .outside }
        return nil
    }

    private static func error(_ kind: RoiError.Kind, shown: String, width: Int, height: Int) -> RoiError {
        let size = "the \(width)x\(height) photo"
        switch kind {
        case .negative:
            return RoiError(kind: kind, message: "carspotter: ROI \(shown) has a negative coordinate; it must lie inside \(size): \(rule)")
        case .empty:
            return RoiError(kind: kind, message: "carspotter: ROI \(shown) is empty (x1 <= x0 or y1 <= y0); it must hold at "
                            + "least one pixel of \(size): \(rule)")
        default:
            return RoiError(kind: kind, message: "carspotter: ROI \(shown) reaches outside \(size) (x1 <= \(width), "
                            + "y1 <= \(height)); \(rule)")
        }
    }

    /// A value as the error shows it: whole numbers without ".0" (12.0 -> "12"), others as Swift prints them
    /// ("10.5", "nan", "inf").
    private static func shown(_ value: Double) -> String {
        value.isFinite && value == value.rounded(.down) && abs(value) < 9e15 ? String(Int(value)) : "\(value)"
    }

    /// `value`, or the whole number within 1e-6 of it.
    private static func snapped(_ value: Double) -> Double {
        let whole = value.rounded()
        return abs(value - whole) <= 1e-6 ? whole : value
    }
}
