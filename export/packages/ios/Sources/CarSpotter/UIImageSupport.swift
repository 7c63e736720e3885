// classify for a UIImage (iOS, iPadOS, Mac Catalyst, visionOS): its stored CGImage with its orientation, converted
// from UIKit's numbering to EXIF's. A camera photo's UIImage keeps the sensor's pixels (`cgImage`, landscape) and says
// how to show them (`imageOrientation`, `.right` for a portrait shot): both are needed for the upright photo.
#if canImport(UIKit)
import CoreGraphics
import ImageIO
import UIKit

extension CarClassifier {
    /// Classify a `UIImage`, or the region of interest `roi` of it:
    /// `classify(image.cgImage, orientation: exifOrientation(image.imageOrientation), roi: roi)`.
    /// - Parameter roi: in pixels of the image as displayed (upright): its `size` in points times its `scale`, origin
    ///   at the top-left (a crop UI's rect in those pixels: `Roi(pixelRect:uprightWidth:uprightHeight:)`); nil: all
    /// - Throws: `CarSpotterError.badImage` for a UIImage without a CGImage (one made from a `CIImage`: render it
    ///   first); as `classify(_:orientation:roi:)`.
    public func classify(_ image: UIImage, roi: Roi? = nil) async throws -> Classification {
        guard let cgImage = image.cgImage else {
            throw CarSpotterError.badImage("the UIImage has no CGImage (it is backed by a CIImage); render it to a CGImage first")
        }
        return try await classify(cgImage, orientation: CarClassifier.exifOrientation(image.imageOrientation), roi: roi)
    }

    /// A `UIImage.Orientation` as the `CGImagePropertyOrientation` of the same name: the cases mean the same, their raw
    /// values differ (UIKit's `.up` is 0, EXIF's 1; UIKit's `.left` is 2, EXIF's 8), so a raw-value conversion is wrong.
    public static func exifOrientation(_ orientation: UIImage.Orientation) -> CGImagePropertyOrientation {
        switch orientation {
        case .up: return .up
        case .upMirrored: return .upMirrored
        case .down: return .down
        case .downMirrored: return .downMirrored
        case .left: return .left
        case .leftMirrored: return .leftMirrored
        case .right: return .right
        case .rightMirrored: return .rightMirrored
        @unknown default: return .up
        }
    }
}
#endif
