// carspotter's reference resize, ported exactly: for every pixel the same value as
// carspotter.model.reference_resize.resize: an integer box pre-reduction (boxReduce), then OpenCV 4's
// warpPerspective as MediaPipe Tasks' ImageClassifier calls it on the CPU (bilinear). A line-for-line port
// of the Kotlin core (android/src/main/kotlin/dev/carspotter/core/ReferenceResize.kt), which is compiled and
// checked bit for bit on the golden set's resize vectors where the bundle is built; the steps are explained in the
// JavaScript package's resize.js. Tests/CarSpotterTests checks this port on the same vectors (`swift test`).
import Foundation

public enum ReferenceResize {
    private static let interBits = 5
    private static let interTabSize = 1 << 5
    private static let coefBits = 15

    /// OpenCV's hal::LU64f: solves a x = b (Gaussian elimination, partial pivoting).
    private static func luSolve(_ a: inout [[Double]], _ b: inout [Double]) {
        let m = b.count
        for i in 0..<m {
            var k = i
            for j in (i + 1)..<m where abs(a[j][i]) > abs(a[k][i]) { k = j }
            if k != i {
                for j in i..<m { let t = a[i][j]; a[i][j] = a[k][j]; a[k][j] = t }
                let t = b[i]; b[i] = b[k]; b[k] = t
            }
            let d = -1.0 / a[i][i]
            for j in (i + 1)..<m {
                let alpha = a[j][i] * d
                for c in (i + 1)..<m { a[j][c] += alpha * a[i][c] }
                b[j] += alpha * b[i]
            }
        }
        for i in stride(from: m - 1, through: 0, by: -1) {
            var s = b[i]
            for c in (i + 1)..<m { s -= a[i][c] * b[c] }
            b[i] = s / a[i][i]
        }
    }

    /// Output pixel -> photo position, row-major 3x3: getPerspectiveTransform of the corners, then cv::invert.
    public static func inverseMatrix(width: Int, height: Int, size: Int) -> [Double] {
        let w = Double(width), h = Double(height), s = Double(size)
        let src: [[Double]] = [[0, h], [0, 0], [w, 0], [w, h]]
        let dst: [[Double]] = [[0, s], [0, 0], [s, 0], [s, s]]
        var a = [[Double]](repeating: [Double](repeating: 0, count: 8), count: 8)
        var b = [Double](repeating: 0, count: 8)
        for i in 0..<4 {
            a[i][0] = src[i][0]; a[i + 4][3] = src[i][0]
            a[i][1] = src[i][1]; a[i + 4][4] = src[i][1]
            a[i][2] = 1; a[i + 4][5] = 1
            a[i][6] = -src[i][0] * dst[i][0]
            a[i][7] = -src[i][1] * dst[i][0]
            a[i + 4][6] = -src[i][0] * dst[i][1]
            a[i + 4][7] = -src[i][1] * dst[i][1]
            b[i] = dst[i][0]
            b[i + 4] = dst[i][1]
        }
        luSolve(&a, &b)
        let m = b + [1.0]
        // each product and difference rounded on its own, as cv::invert computes it (the resize vectors would show a fused one)
        var d = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
        d = 1.0 / d
        return [
            (m[4] * m[8] - m[5] * m[7]) * d, (m[2] * m[7] - m[1] * m[8]) * d, (m[1] * m[5] - m[2] * m[4]) * d,
            (m[5] * m[6] - m[3] * m[8]) * d, (m[0] * m[8] - m[2] * m[6]) * d, (m[2] * m[3] - m[0] * m[5]) * d,
            (m[3] * m[7] - m[4] * m[6]) * d, (m[1] * m[6] - m[0] * m[7]) * d, (m[0] * m[4] - m[1] * m[3]) * d,
        ]
    }

    /// RGBA (4 bytes per pixel) composited on opaque white as Pillow's alpha_composite does: RGB bytes.
    public static func compositeOnWhite(_ rgba: [UInt8]) -> [UInt8] {
        let n = rgba.count / 4
        var out = [UInt8](repeating: 0, count: n * 3)
        for p in 0..<n {
            let a = Int(rgba[4 * p + 3])
            for c in 0..<3 {
                let v = Int(rgba[4 * p + c])
                switch a {
                case 255: out[3 * p + c] = UInt8(v)
                case 0: out[3 * p + c] = 255
                default:
                    let t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7)
                    out[3 * p + c] = UInt8((((t >> 8) + t) >> 8) >> 7)
                }
            }
        }
        return out
    }

    public enum ResizeError: Error, CustomStringConvertible {
        case badInput(String)
        public var description: String { switch self { case .badInput(let s): return "carspotter: \(s)" } }
    }

    /// The box pre-reduction's factors: (kx, ky) = max(1, side / size) per axis (integer division).
    public static func boxFactors(width: Int, height: Int, size: Int) -> (kx: Int, ky: Int) {
        (max(1, width / size), max(1, height / size))
    }

    /// Step 0, the antialiasing: average kx x ky boxes of RGB bytes from the top-left, the last box on an axis keeping
    /// the side % k pixels left; each value is the box's mean rounded half up, (sum + n / 2) / n.
    /// - Returns: the reduced RGB bytes, ceil(width / kx) x ceil(height / ky); `rgb` itself when kx = ky = 1
    public static func boxReduce(_ rgb: [UInt8], width: Int, height: Int, size: Int) -> (pixels: [UInt8], width: Int, height: Int) {
        let (kx, ky) = boxFactors(width: width, height: height, size: size)
        if kx == 1 && ky == 1 { return (rgb, width, height) }
        let ow = (width + kx - 1) / kx
        let oh = (height + ky - 1) / ky
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        var sums = [Int](repeating: 0, count: ow * 3)
        for oy in 0..<oh {
            let top = oy * ky
            let rows = min(ky, height - top)
            for i in 0..<sums.count { sums[i] = 0 }
            for y in top..<(top + rows) {
                var p = y * width * 3
                for ox in 0..<ow {
                    let end = p + min(kx, width - ox * kx) * 3
                    var r = 0, g = 0, b = 0
                    while p < end {
                        r += Int(rgb[p]); g += Int(rgb[p + 1]); b += Int(rgb[p + 2])
                        p += 3
                    }
                    sums[3 * ox] += r; sums[3 * ox + 1] += g; sums[3 * ox + 2] += b
                }
            }
            for ox in 0..<ow {
                let n = min(kx, width - ox * kx) * rows
                let o = (oy * ow + ox) * 3
                for c in 0..<3 { out[o + c] = UInt8((sums[3 * ox + c] + n / 2) / n) }
            }
        }
        return (out, ow, oh)
    }

    /// Stretch an upright photo, or its region of interest, to `size` x `size` exactly as carspotter's reference:
    /// the ROI cut at full resolution (`Roi.cut`), RGBA composited on white, `boxReduce`, then `bilinear`.
    /// - Parameters:
    ///   - pixels: row-major, `channels` bytes per pixel (3 RGB, 4 RGBA: composited on white first), upright
    ///   - roi: the pixels to resize, in this upright photo (nil: all of it); the box factors come from its size
    /// - Returns: `size * size * 3` RGB bytes, row-major
    /// - Throws: `ResizeError.badInput` for channels other than 3 or 4, or a byte count other than width * height *
    ///   channels; `RoiError` for a ROI that does not lie inside the photo
    public static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, size: Int,
                              roi: Roi? = nil) throws -> [UInt8] {
        guard channels == 3 || channels == 4 else { throw ResizeError.badInput("channels must be 3 (RGB) or 4 (RGBA), got \(channels)") }
        guard width >= 1, height >= 1, size >= 1 else { throw ResizeError.badInput("sizes must be positive: \(width) x \(height) -> \(size)") }
        guard pixels.count == width * height * channels else {
            throw ResizeError.badInput("\(pixels.count) bytes is not \(width) x \(height) x \(channels)")
        }
        var photo = PackedImage(pixels: pixels, width: width, height: height, channels: channels)
        if let roi = roi { photo = try roi.cut(photo) }
        let rgb = channels == 4 ? compositeOnWhite(photo.pixels) : photo.pixels
        let reduced = boxReduce(rgb, width: photo.width, height: photo.height, size: size)
        return bilinear(reduced.pixels, width: reduced.width, height: reduced.height, size: size)
    }

    /// What the bilinear step is given, from a photo as stored: EXIF `orientation` applied (1...8), the region of
    /// interest cut, RGBA composited on white, `boxReduce`d. For a region that is reduced, the reduction reads the
    /// stored pixels through the orientation (no upright copy of a 48 MP photo); the values are those of
    /// Orientation.upright, Roi.cut, compositeOnWhite, boxReduce. Port of the Kotlin core's ReferenceResize.prepare.
    /// - Parameter roi: in the UPRIGHT photo (nil: all of it); the box factors come from its size, the boxes start at
    ///   its top-left pixel
    /// - Throws: `ResizeError.badInput` for channels other than 3 or 4, an orientation outside 0...8, or a byte count
    ///   other than width * height * channels; `RoiError` for a ROI that does not lie inside the upright photo
    public static func prepare(_ pixels: [UInt8], width: Int, height: Int, channels: Int, orientation: UInt32,
                               size: Int, roi: Roi? = nil) throws -> PackedImage {
        guard channels == 3 || channels == 4 else { throw ResizeError.badInput("channels must be 3 (RGB) or 4 (RGBA), got \(channels)") }
        guard orientation <= 8 else { throw ResizeError.badInput("EXIF orientation must be 1...8 (0: unknown), got \(orientation)") }
        guard width >= 1, height >= 1, size >= 1 else { throw ResizeError.badInput("sizes must be positive: \(width) x \(height) -> \(size)") }
        guard pixels.count == width * height * channels else {
            throw ResizeError.badInput("\(pixels.count) bytes is not \(width) x \(height) x \(channels)")
        }
        let uw = orientation >= 5 ? height : width
        let uh = orientation >= 5 ? width : height
        let region = try roi?.checked(width: uw, height: uh) ?? Roi(unchecked: 0, 0, uw, uh)
        let rw = region.width, rh = region.height
        let (kx, ky) = boxFactors(width: rw, height: rh, size: size)
        if orientation <= 1 || (kx == 1 && ky == 1) {
            var up = Orientation.upright(PackedImage(pixels: pixels, width: width, height: height, channels: channels),
                                         orientation: orientation)
            if roi != nil { up = try region.cut(up) }
            let r = boxReduce(channels == 4 ? compositeOnWhite(up.pixels) : up.pixels, width: rw, height: rh, size: size)
            return PackedImage(pixels: r.pixels, width: r.width, height: r.height, channels: 3)
        }
        let ow = (rw + kx - 1) / kx
        let oh = (rh + ky - 1) / ky
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        for oy in 0..<oh {
            for ox in 0..<ow {
                var r = 0, g = 0, b = 0
                let rows = min(ky, rh - oy * ky)
                let cols = min(kx, rw - ox * kx)
                let top = region.y0 + oy * ky, left = region.x0 + ox * kx  // upright pixels
                for y in top..<(top + rows) {
                    for x in left..<(left + cols) {
                        let p = Orientation.source(orientation, x: x, y: y, width: width, height: height) * channels
                        if channels == 3 {
                            r += Int(pixels[p]); g += Int(pixels[p + 1]); b += Int(pixels[p + 2])
                        } else {
                            let a = Int(pixels[p + 3])
                            r += onWhite(Int(pixels[p]), a); g += onWhite(Int(pixels[p + 1]), a); b += onWhite(Int(pixels[p + 2]), a)
                        }
                    }
                }
                let n = rows * cols
                let o = (oy * ow + ox) * 3
                out[o] = UInt8((r + n / 2) / n); out[o + 1] = UInt8((g + n / 2) / n); out[o + 2] = UInt8((b + n / 2) / n)
            }
        }
        return PackedImage(pixels: out, width: ow, height: oh, channels: 3)
    }

    /// One value of compositeOnWhite: channel `v` with alpha `a` over white.
    static func onWhite(_ v: Int, _ a: Int) -> Int {
        switch a {
        case 255: return v
        case 0: return 255
        default:
            let t = v * a * 128 + 255 * (255 - a) * 128 + (0x80 << 7)
            return (((t >> 8) + t) >> 8) >> 7
        }
    }

    /// The bilinear step alone (MediaPipe's own resize, no antialiasing): RGB bytes to `size * size * 3`.
    public static func bilinear(_ src: [UInt8], width: Int, height: Int, size: Int) -> [UInt8] {
        let m = inverseMatrix(width: width, height: height, size: size)
        var out = [UInt8](repeating: 0, count: size * size * 3)
        let bw0 = min(1024 / min(16, size), size)  // OpenCV's block width (its rows are absolute)
        let row = width * 3
        for y in 0..<size {
            var xb = 0
            while xb < size {
                let x0d = m[0] * Double(xb) + m[1] * Double(y) + m[2]
                let y0d = m[3] * Double(xb) + m[4] * Double(y) + m[5]
                let w0d = m[6] * Double(xb) + m[7] * Double(y) + m[8]
                let bw = min(bw0, size - xb)
                for x1 in 0..<bw {
                    var wd = w0d + m[6] * Double(x1)
                    wd = wd != 0 ? Double(interTabSize) / wd : 0
                    let fx = max(Double(Int32.min), min(Double(Int32.max), (x0d + m[0] * Double(x1)) * wd))
                    let fy = max(Double(Int32.min), min(Double(Int32.max), (y0d + m[3] * Double(x1)) * wd))
                    let xi = Int(fx.rounded(.toNearestOrEven))  // as cvRound
                    let yi = Int(fy.rounded(.toNearestOrEven))
                    let sx = max(-32768, min(32767, xi >> interBits))
                    let sy = max(-32768, min(32767, yi >> interBits))
                    let ax = xi & (interTabSize - 1)
                    let ay = yi & (interTabSize - 1)
                    let w00 = (32 - ax) * (32 - ay) * 32
                    let w01 = ax * (32 - ay) * 32
                    let w10 = (32 - ax) * ay * 32
                    let w11 = ax * ay * 32
                    let xa = min(max(sx, 0), width - 1) * 3
                    let xc = min(max(sx + 1, 0), width - 1) * 3
                    let ya = min(max(sy, 0), height - 1) * row
                    let yc = min(max(sy + 1, 0), height - 1) * row
                    let o = (y * size + xb + x1) * 3
                    for c in 0..<3 {
                        let v = Int(src[ya + xa + c]) * w00 + Int(src[ya + xc + c]) * w01
                            + Int(src[yc + xa + c]) * w10 + Int(src[yc + xc + c]) * w11
                        out[o + c] = UInt8(min(255, max(0, (v + (1 << (coefBits - 1))) >> coefBits)))
                    }
                }
                xb += bw0
            }
        }
        return out
    }
}
