// The box pre-reduction read through the EXIF orientation, a band of stored rows at a time: what
// ReferenceResize.prepare computes, value for value, without the photo ever being whole in the package's memory. Port
// of the Kotlin core's BandReduce.kt. A 48 MP photo (8000 x 6000, 299 px input: k = 26 x 20, 308 x 300 boxes) costs
// a band of 32 rows (1.0 MB as RGBA), the column offsets (64 KB), the box sums (8 bytes per output value: 2.2 MB), the
// reduced image and the model input (0.3 MB each): about 4 MB, computed from these sizes, not the 192 MB of its pixels
// as RGBA nor an upright copy. The decoded image itself is the caller's CGImage (ImageIO's cache: 192 MB).
import CoreGraphics
import Foundation

/// A photo's stored pixels, read a band of rows at a time (a CGImage drawn band by band, packed bytes in the tests).
public protocol PixelSource {
    /// Stored width and height, px (before the EXIF orientation).
    var width: Int { get }
    var height: Int { get }
    /// Bytes per pixel of the rows `readRows` writes: 1 grey (copied to R, G and B), 3 RGB, 4 RGBA (unpremultiplied;
    /// composited on white as the reference composites RGBA).
    var channels: Int { get }
    /// Write the stored rows `top ..< top + count` into `band`: `width * channels` bytes per row, row-major.
    func readRows(top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws
}

extension PackedImage: PixelSource {
    public func readRows(top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        let start = top * width * channels, n = count * width * channels
        pixels.withUnsafeBytes { band.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: n) }
    }
}

public enum BandReduce {
    /// Bytes a band of RGBA rows holds at most (1 MiB): the rows read at once are this / (width * 4), at least one.
    public static let bandBytes = 1 << 20

    /// Stored rows per band for a photo `width` px wide: 32 for 8000 px.
    public static func bandRows(width: Int) -> Int { max(1, bandBytes / max(1, width * 4)) }

    /// The upright, composited, box-reduced RGB image of a stored photo: for every value the same as
    /// Orientation.upright, then ReferenceResize.compositeOnWhite (RGBA sources), then ReferenceResize.boxReduce
    /// (kx = ky = 1 for a photo under 2 x `size`: the upright photo itself). Memory: one band (`bandRows` x width x
    /// channels bytes), width ints of column offsets, ceil(uw / kx) x ceil(uh / ky) x 3 ints of sums and the output.
    /// - Parameter orientation: EXIF orientation 1...8 (0: unknown, as 1)
    /// - Returns: ceil(uw / kx) x ceil(uh / ky) RGB bytes, uw x uh the upright size
    /// - Throws: `ReferenceResize.ResizeError.badInput` for an orientation outside 0...8, channels other than 1, 3 or
    ///   4, a size or band under 1; the source's own errors
    public static func prepare(_ source: any PixelSource, orientation: UInt32, size: Int,
                               bandRows: Int? = nil) throws -> PackedImage {
        let w = source.width, h = source.height, c = source.channels, rows = bandRows ?? self.bandRows(width: w)
        guard orientation <= 8 else { throw ReferenceResize.ResizeError.badInput("EXIF orientation must be 1...8 (0: unknown), got \(orientation)") }
        guard [1, 3, 4].contains(c) else { throw ReferenceResize.ResizeError.badInput("channels must be 1, 3 or 4, got \(c)") }
        guard w >= 1, h >= 1, size >= 1, rows >= 1 else {
            throw ReferenceResize.ResizeError.badInput("sizes must be positive: \(w) x \(h) -> \(size), band \(rows)")
        }
        let o = Int(orientation), turned = o >= 5
        let uw = turned ? h : w, uh = turned ? w : h
        let (kx, ky) = ReferenceResize.boxFactors(width: uw, height: uh, size: size)
        let outW = (uw + kx - 1) / kx, outH = (uh + ky - 1) / ky
        var sums = [Int](repeating: 0, count: outW * outH * 3)
        let columns = (0..<w).map { columnOffset(o, $0, width: w, kx: kx, ky: ky, outW: outW) }
        var band = [UInt8](repeating: 0, count: w * min(rows, h) * c)
        var top = 0
        while top < h {
            let count = min(rows, h - top)
            try band.withUnsafeMutableBytes { try source.readRows(top: top, count: count, into: $0) }
            for r in 0..<count {
                let row = rowOffset(o, top + r, height: h, kx: kx, ky: ky, outW: outW)
                accumulate(band, start: r * w * c, width: w, channels: c, row: row, columns: columns, sums: &sums)
            }
            top += count
        }
        return PackedImage(pixels: means(sums, uw: uw, uh: uh, kx: kx, ky: ky, outW: outW, outH: outH),
                           width: outW, height: outH, channels: 3)
    }

    /// Offset in the sums of stored column `sx`'s box along its upright axis (x for orientations 1...4, y for 5...8).
    static func columnOffset(_ orientation: Int, _ sx: Int, width: Int, kx: Int, ky: Int, outW: Int) -> Int {
        switch orientation {
        case 2, 3: return (width - 1 - sx) / kx * 3
        case 5, 6: return sx / ky * outW * 3
        case 7, 8: return (width - 1 - sx) / ky * outW * 3
        default: return sx / kx * 3
        }
    }

    /// Offset in the sums of stored row `sy`'s box along its upright axis (y for orientations 1...4, x for 5...8).
    static func rowOffset(_ orientation: Int, _ sy: Int, height: Int, kx: Int, ky: Int, outW: Int) -> Int {
        switch orientation {
        case 3, 4: return (height - 1 - sy) / ky * outW * 3
        case 5, 8: return sy / kx * 3
        case 6, 7: return (height - 1 - sy) / kx * 3
        default: return sy / ky * outW * 3
        }
    }

    /// Add one stored row (`width` pixels of `band` from byte `start`) into its boxes' sums.
    private static func accumulate(_ band: [UInt8], start: Int, width: Int, channels: Int, row: Int, columns: [Int],
                                   sums: inout [Int]) {
        band.withUnsafeBufferPointer { px in
            sums.withUnsafeMutableBufferPointer { s in
                var p = start
                for sx in 0..<width {
                    let o = row + columns[sx]
                    switch channels {
                    case 1:
                        let g = Int(px[p]); s[o] += g; s[o + 1] += g; s[o + 2] += g
                    case 3:
                        s[o] += Int(px[p]); s[o + 1] += Int(px[p + 1]); s[o + 2] += Int(px[p + 2])
                    default:
                        let a = Int(px[p + 3])
                        s[o] += ReferenceResize.onWhite(Int(px[p]), a); s[o + 1] += ReferenceResize.onWhite(Int(px[p + 1]), a)
                        s[o + 2] += ReferenceResize.onWhite(Int(px[p + 2]), a)
                    }
                    p += channels
                }
            }
        }
    }

    /// Each box's mean rounded half up, (sum + n / 2) / n, the last box on an axis holding the side % k pixels left.
    private static func means(_ sums: [Int], uw: Int, uh: Int, kx: Int, ky: Int, outW: Int, outH: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sums.count)
        for oy in 0..<outH {
            let boxRows = min(ky, uh - oy * ky)
            for ox in 0..<outW {
                let n = min(kx, uw - ox * kx) * boxRows
                let o = (oy * outW + ox) * 3
                for c in 0..<3 { out[o + c] = UInt8((sums[o + c] + n / 2) / n) }
            }
        }
        return out
    }
}

/// A CGImage's stored pixels, drawn 1:1 a band of rows at a time (`cropping(to:)` each band, then drawn into an 8-bit
/// bitmap over opaque white) in the image's own colour space, as `CarClassifier.packedPixels(of:)` draws it whole: grey
/// images into one channel, others into RGBA in their own RGB space (sRGB for CMYK and other models).
public struct CGImageRows: PixelSource {
    public let image: CGImage
    public var width: Int { image.width }
    public var height: Int { image.height }
    public let channels: Int
    private let space: CGColorSpace

    /// - Throws: `CarSpotterError.badImage` when no 8-bit bitmap context can be made for the image.
    public init(_ image: CGImage) throws {
        self.image = image
        if let grey = image.colorSpace, grey.model == .monochrome,
           CGImageRows.context(nil, width: image.width, rows: 1, channels: 1, space: grey) != nil {
            channels = 1
            space = grey
            return
        }
        let own = image.colorSpace.flatMap { $0.model == .rgb ? $0 : nil }
        for candidate in [own, CGColorSpace(name: CGColorSpace.sRGB)].compactMap({ $0 })
        where CGImageRows.context(nil, width: image.width, rows: 1, channels: 4, space: candidate) != nil {
            channels = 4
            space = candidate
            return
        }
        throw CarSpotterError.badImage("no 8-bit RGBA bitmap context for a \(image.width) x \(image.height) image")
    }

    static func context(_ data: UnsafeMutableRawPointer?, width: Int, rows: Int, channels: Int, space: CGColorSpace) -> CGContext? {
        let alpha = channels == 1 ? CGImageAlphaInfo.none : CGImageAlphaInfo.premultipliedLast
        return CGContext(data: data, width: width, height: rows, bitsPerComponent: 8, bytesPerRow: width * channels,
                         space: space, bitmapInfo: alpha.rawValue)
    }

    /// The stored rows `top ..< top + count` drawn over opaque white: every alpha is then 255, so the premultiplied
    /// RGBA is the composited RGB as it is.
    public func readRows(top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        let n = width * count * channels
        band.baseAddress!.initializeMemory(as: UInt8.self, repeating: 255, count: n)  // opaque white
        // cropping(to:) takes the rectangle in the image's pixels, row 0 at the top; the subimage references them
        guard let rows = image.cropping(to: CGRect(x: 0, y: top, width: width, height: count)),
              let context = CGImageRows.context(band.baseAddress, width: width, rows: count, channels: channels, space: space)
        else { throw CarSpotterError.badImage("cannot draw rows \(top)..<\(top + count) of a \(width) x \(height) image") }
        context.interpolationQuality = .none
        context.draw(rows, in: CGRect(x: 0, y: 0, width: width, height: count))
    }
}
