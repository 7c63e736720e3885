// EXIF orientation (values 1...8, as CGImagePropertyOrientation's raw values) applied to packed pixels, as the
// reference decoder does (Pillow's ImageOps.exif_transpose), mirrored values included. Port of the Kotlin core's
// Orientation.kt, whose JVM test checks all 8 against Pillow.
import Foundation

/// An image as packed bytes: `width` x `height`, `channels` bytes per pixel, row-major.
public struct PackedImage: Sendable {
    public var pixels: [UInt8]
    public var width: Int
    public var height: Int
    public var channels: Int

    public init(pixels: [UInt8], width: Int, height: Int, channels: Int) {
        self.pixels = pixels; self.width = width; self.height = height; self.channels = channels
    }
}

public enum Orientation {
    /// The upright image for EXIF orientation 1...8 (1: returned as is).
    public static func upright(_ image: PackedImage, orientation: UInt32) -> PackedImage {
        guard orientation >= 2 && orientation <= 8 else { return image }
        let w = image.width, h = image.height, c = image.channels
        let ow = orientation >= 5 ? h : w, oh = orientation >= 5 ? w : h
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        for y in 0..<oh {
            for x in 0..<ow {
                let from = source(orientation, x: x, y: y, width: w, height: h) * c, to = (y * ow + x) * c
                for k in 0..<c { out[to + k] = image.pixels[from + k] }
            }
        }
        return PackedImage(pixels: out, width: ow, height: oh, channels: c)
    }

    /// The index (pixel number, row-major) in the stored `width` x `height` image of the pixel shown at (x, y) once
    /// upright, for EXIF orientation 2...8 (others: the pixel itself).
    public static func source(_ orientation: UInt32, x: Int, y: Int, width: Int, height: Int) -> Int {
        let sx: Int, sy: Int
        switch orientation {
        case 2: sx = width - 1 - x; sy = y
        case 3: sx = width - 1 - x; sy = height - 1 - y
        case 4: sx = x; sy = height - 1 - y
        case 5: sx = y; sy = x
        case 6: sx = y; sy = height - 1 - x
        case 7: sx = width - 1 - y; sy = height - 1 - x
        case 8: sx = width - 1 - y; sy = x
        default: sx = x; sy = y
        }
        return sy * width + sx
    }
}
