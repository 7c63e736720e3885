// The box pre-reduction read through the EXIF orientation, a band of stored rows at a time: what
// ReferenceResize.prepare computes, value for value, without the photo ever being whole in the package's memory. Port
// of the Kotlin core's BandReduce.kt. A 48 MP photo (8000 x 6000, 299 px input: k = 26 x 20, 308 x 300 boxes) costs
// a band of 32 rows (1.0 MB as RGBA), the column offsets (64 KB), the box sums (8 bytes per output value: 2.2 MB), the
// reduced image and the model input (0.3 MB each): about 4 MB, computed from these sizes, not the 192 MB of its pixels
// as RGBA nor an upright copy. The decoded image itself is the caller's CGImage (ImageIO's cache: 192 MB). With a
// region of interest (Roi, in upright pixels) only the stored pixels that hold it are read (`storedRect`: its rows, a
// band at a time, and its columns), and the sums are the ROI's boxes: a ROI costs less, never more.
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
    /// Write the stored columns `left ..< left + columns` of the rows `top ..< top + count` into `band`:
    /// `columns * channels` bytes per row, row-major; what the band path reads for a region of interest. The default
    /// reads whole rows, one at a time, through a buffer of one row; a source that can read a window overrides it.
    func readRows(left: Int, columns: Int, top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws
}

extension PixelSource {
    public func readRows(left: Int, columns: Int, top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        if left == 0 && columns == width {
            try readRows(top: top, count: count, into: band)
            return
        }
        let window = columns * channels
        let row = UnsafeMutableRawBufferPointer.allocate(byteCount: width * channels, alignment: 1)
        defer { row.deallocate() }
        for r in 0..<count {
            try readRows(top: top + r, count: 1, into: row)
            (band.baseAddress! + r * window).copyMemory(from: row.baseAddress! + left * channels, byteCount: window)
        }
    }
}

extension PackedImage: PixelSource {
    public func readRows(top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        try readRows(left: 0, columns: width, top: top, count: count, into: band)
    }

    public func readRows(left: Int, columns: Int, top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        let window = columns * channels
        pixels.withUnsafeBytes { px in
            for r in 0..<count {
                let start = ((top + r) * width + left) * channels
                (band.baseAddress! + r * window).copyMemory(from: px.baseAddress! + start, byteCount: window)
            }
        }
    }
}

public enum BandReduce {
    /// Bytes a band of RGBA rows holds at most (1 MiB): the rows read at once are this / (width * 4), at least one.
    public static let bandBytes = 1 << 20

    /// Stored rows per band for a photo `width` px wide: 32 for 8000 px.
    public static func bandRows(width: Int) -> Int { max(1, bandBytes / max(1, width * 4)) }

    /// The upright, composited, box-reduced RGB image of a stored photo, or of a region of interest of it: for every
    /// value the same as Orientation.upright, then Roi.cut (with a `roi`), then ReferenceResize.compositeOnWhite (RGBA
    /// sources), then ReferenceResize.boxReduce (box factors from the ROI's size, or the photo's; kx = ky = 1 under
    /// 2 x `size`: the pixels themselves). Only the stored pixels that hold the ROI are read (`storedRect`: its rows,
    /// a band at a time, and its columns). Memory: one band (`bandRows` x the columns read x channels bytes), one Int
    /// per column read, ceil(rw / kx) x ceil(rh / ky) x 3 Ints of sums and the output.
    /// - Parameters:
    ///   - orientation: EXIF orientation 1...8 (0: unknown, as 1)
    ///   - roi: in pixels of the UPRIGHT photo (after `orientation`); nil: the whole photo
    ///   - bandRows: stored rows read at once (default `bandRows(width:)` of the columns read: at most 1 MiB as RGBA)
    /// - Returns: ceil(rw / kx) x ceil(rh / ky) RGB bytes, rw x rh the ROI's size (the upright photo's without one)
    /// - Throws: `ReferenceResize.ResizeError.badInput` for an orientation outside 0...8, channels other than 1, 3 or
    ///   4, a size or band under 1; `RoiError` for a ROI that does not lie inside the upright photo; the source's own
    ///   errors
    public static func prepare(_ source: any PixelSource, orientation: UInt32, size: Int, roi: Roi? = nil,
                               bandRows: Int? = nil) throws -> PackedImage {
        let w = source.width, h = source.height, c = source.channels
        guard orientation <= 8 else { throw ReferenceResize.ResizeError.badInput("EXIF orientation must be 1...8 (0: unknown), got \(orientation)") }
        guard [1, 3, 4].contains(c) else { throw ReferenceResize.ResizeError.badInput("channels must be 1, 3 or 4, got \(c)") }
        guard w >= 1, h >= 1, size >= 1, (bandRows ?? 1) >= 1 else {
            throw ReferenceResize.ResizeError.badInput("sizes must be positive: \(w) x \(h) -> \(size), band \(bandRows ?? 1)")
        }
        let o = Int(orientation), turned = o >= 5
        let uw = turned ? h : w, uh = turned ? w : h
        let region = try roi?.checked(width: uw, height: uh) ?? Roi(unchecked: 0, 0, uw, uh)
        let (kx, ky) = ReferenceResize.boxFactors(width: region.width, height: region.height, size: size)
        let outW = (region.width + kx - 1) / kx, outH = (region.height + ky - 1) / ky
        var sums = [Int](repeating: 0, count: outW * outH * 3)
        let stored = storedRect(o, region, width: w, height: h)
        let cols = stored.x1 - stored.x0
        let rows = bandRows ?? self.bandRows(width: cols)
        let columns = (stored.x0..<stored.x1).map {
            columnOffset(o, $0, width: w, x0: region.x0, y0: region.y0, kx: kx, ky: ky, outW: outW)
        }
        var band = [UInt8](repeating: 0, count: cols * min(rows, stored.y1 - stored.y0) * c)
        var top = stored.y0
        while top < stored.y1 {
            let count = min(rows, stored.y1 - top)
            try band.withUnsafeMutableBytes {
                try source.readRows(left: stored.x0, columns: cols, top: top, count: count, into: $0)
            }
            for r in 0..<count {
                let row = rowOffset(o, top + r, height: h, x0: region.x0, y0: region.y0, kx: kx, ky: ky, outW: outW)
                accumulate(band, start: r * cols * c, width: cols, channels: c, row: row, columns: columns, sums: &sums)
            }
            top += count
        }
        return PackedImage(pixels: means(sums, uw: region.width, uh: region.height, kx: kx, ky: ky, outW: outW, outH: outH),
                           width: outW, height: outH, channels: 3)
    }

    /// The stored pixels that hold the upright region (x0, y0, x1, y1) of a stored `width` x `height` photo with EXIF
    /// `orientation`: the half-open stored rectangle whose pixels, made upright, are exactly the region's (the inverse
    /// of Orientation.source on a rectangle). Port of the Kotlin core's Orientation.storedRegion.
    static func storedRect(_ orientation: Int, _ region: Roi, width: Int, height: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int) {
        let x0 = region.x0, y0 = region.y0, x1 = region.x1, y1 = region.y1
        switch orientation {
        case 2: return (width - x1, y0, width - x0, y1)
        case 3: return (width - x1, height - y1, width - x0, height - y0)
        case 4: return (x0, height - y1, x1, height - y0)
        case 5: return (y0, x0, y1, x1)
        case 6: return (y0, height - x1, y1, height - x0)
        case 7: return (width - y1, height - x1, width - y0, height - x0)
        case 8: return (width - y1, x0, width - y0, x1)
        default: return (x0, y0, x1, y1)
        }
    }

    /// Offset in the sums of stored column `sx`'s box along its upright axis (x for orientations 1...4, y for 5...8),
    /// counted from the region's top-left upright pixel (`x0`, `y0`).
    static func columnOffset(_ orientation: Int, _ sx: Int, width: Int, x0: Int, y0: Int, kx: Int, ky: Int, outW: Int) -> Int {
        switch orientation {
        case 2, 3: return (width - 1 - sx - x0) / kx * 3
        case 5, 6: return (sx - y0) / ky * outW * 3
        case 7, 8: return (width - 1 - sx - y0) / ky * outW * 3
        default: return (sx - x0) / kx * 3
        }
    }

    /// Offset in the sums of stored row `sy`'s box along its upright axis (y for orientations 1...4, x for 5...8),
    /// counted from the region's top-left upright pixel (`x0`, `y0`).
    static func rowOffset(_ orientation: Int, _ sy: Int, height: Int, x0: Int, y0: Int, kx: Int, ky: Int, outW: Int) -> Int {
        switch orientation {
        case 3, 4: return (height - 1 - sy - y0) / ky * outW * 3
        case 5, 8: return (sy - x0) / kx * 3
        case 6, 7: return (height - 1 - sy - x0) / kx * 3
        default: return (sy - y0) / ky * outW * 3
        }
    }

    /// Add one stored row (`width` pixels of `band` from byte `start`: the columns read) into its boxes' sums.
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
        try readRows(left: 0, columns: width, top: top, count: count, into: band)
    }

    /// The stored columns `left ..< left + columns` of the rows `top ..< top + count` (a region of interest's window)
    /// drawn as `readRows(top:count:into:)` draws whole rows: only the window is cropped out and drawn.
    public func readRows(left: Int, columns: Int, top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        let n = columns * count * channels
        band.baseAddress!.initializeMemory(as: UInt8.self, repeating: 255, count: n)  // opaque white
        // cropping(to:) takes the rectangle in the image's pixels, row 0 at the top; the subimage references them
        guard let window = image.cropping(to: CGRect(x: left, y: top, width: columns, height: count)),
              let context = CGImageRows.context(band.baseAddress, width: columns, rows: count, channels: channels, space: space)
        else {
            throw CarSpotterError.badImage("cannot draw columns \(left)..<\(left + columns) of rows \(top)..<\(top + count) "
                                           + "of a \(width) x \(height) image")
        }
        context.interpolationQuality = .none
        context.draw(window, in: CGRect(x: 0, y: 0, width: columns, height: count))
    }
}
