// The package's self-test (`swift test` on a Mac, or `xcodebuild test` on an iOS Simulator or device, Cmd-U in Xcode):
// the golden set's resize vectors bit for bit, EXIF orientations as Pillow applies them, and the golden photos through
// Core ML, and through Core AI where it runs (iOS 27+ / macOS 27+, a bundle with a .aimodel), under the top-3 rule of
// `carspotter parity`. The golden set is a resource of this test target (export copies the bundle's golden/ into
// Tests/CarSpotterTests/golden), so it travels to a simulator or device with the test bundle; the CARSPOTTER_GOLDEN
// environment variable points at another copy. CARSPOTTER_REQUIRE_COREAI=1 turns the Core AI tests' skips into
// failures (CI on Xcode 27 / macOS 27, where they must run).
import CoreGraphics
import CryptoKit
import Foundation
import ImageIO
#if canImport(UIKit)
import UIKit
#endif
import XCTest
@testable import CarSpotter

/// The golden set, or nil for a bundle exported with `--golden 0` (its tests then skip). The test bundle's copy is
/// found by GoldenResource.swift, which export generates: with a golden set, `Bundle.module`'s "golden" folder
/// (Package.swift: .testTarget(..., resources: [.copy("golden")])); without one, nil, since a test target without
/// resources has no `Bundle.module`.
let goldenFolder: URL? = {
    if let dir = ProcessInfo.processInfo.environment["CARSPOTTER_GOLDEN"] { return URL(fileURLWithPath: dir) }
    return packagedGoldenFolder()
}()

func goldenSet() throws -> URL {
    guard let folder = goldenFolder else {
        throw XCTSkip("no golden set: the bundle was exported with --golden 0 (its Swift package carries none); "
                      + "set CARSPOTTER_GOLDEN to a bundle's golden/ folder to run this test")
    }
    return folder
}

/// Whether this OS can run Core AI, decided here apart from the package: built with an SDK that has Core AI (Xcode 27,
/// and Swift's Float16: not an Intel Mac) and running on iOS 27+ / macOS 27+.
let osHasCoreAI: Bool = {
    #if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
    if #available(iOS 27.0, macOS 27.0, tvOS 27.0, watchOS 27.0, visionOS 27.0, *) { return true }
    #endif
    return false
}()

/// The bundle facts, when Core AI can run this bundle here; otherwise an XCTSkip saying why (a failure with
/// CARSPOTTER_REQUIRE_COREAI=1).
func coreAIBundle() throws -> BundleInfo {
    let info = try BundleInfo.packaged()
    let why: String
    if !osHasCoreAI {
        why = "no Core AI here: it needs iOS 27 / macOS 27 and a build with Xcode 27 (this is "
            + "\(ProcessInfo.processInfo.operatingSystemVersionString)); the Core ML tests cover this OS"
    } else if info.coreAIModel == nil {
        why = "this bundle has no Core AI model (carspotter.json's coreAIModel is null: exported without carspotter[coreai])"
    } else {
        return info
    }
    if ProcessInfo.processInfo.environment["CARSPOTTER_REQUIRE_COREAI"] == "1" {
        throw CarSpotterError.backendUnavailable("CARSPOTTER_REQUIRE_COREAI=1, but " + why)
    }
    throw XCTSkip(why)
}

/// A resize vector's generated photo ("gen:SEED" in vectors.txt), as carspotter.contracts.resize_vectors.generated_photo:
/// for pixel (x, y), channel c, in UInt32 arithmetic, z = (y * width + x) * 3 + c + seed * 0x9E3779B9, MurmurHash3's
/// fmix32, value = clamp(base + z % 81 - 40, 0, 255); base = x * 255 / (width - 1), y * 255 / (height - 1),
/// ((x / 7 + y / 5) % 2) * 200 + 20.
func generatedPhoto(width: Int, height: Int, seed: UInt32) -> PackedImage {
    var out = [UInt8](repeating: 0, count: width * height * 3)
    let s = seed &* 0x9E37_79B9
    let dx = max(1, width - 1), dy = max(1, height - 1)
    var i = 0
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<3 {
                let base: Int
                switch c {
                case 0: base = x * 255 / dx
                case 1: base = y * 255 / dy
                default: base = ((x / 7 + y / 5) % 2) * 200 + 20
                }
                var z = UInt32(truncatingIfNeeded: i) &+ s
                z = (z ^ (z >> 16)) &* 0x85EB_CA6B
                z = (z ^ (z >> 13)) &* 0xC2B2_AE35
                z = z ^ (z >> 16)
                out[i] = UInt8(min(255, max(0, base + Int(z % 81) - 40)))
                i += 1
            }
        }
    }
    return PackedImage(pixels: out, width: width, height: height, channels: 3)
}

/// A binary PPM (P6) or PAM (P7) file, as the resize vectors are stored.
func parsePnm(_ data: Data) throws -> PackedImage {
    let bytes = [UInt8](data)
    func text(_ a: Int, _ b: Int) -> String { String(decoding: bytes[a..<b], as: UTF8.self) }
    if text(0, 2) == "P6" {
        var pos = 2
        var fields: [Int] = []
        while fields.count < 3 {
            while bytes[pos] == 0x20 || bytes[pos] == 0x0A { pos += 1 }
            let start = pos
            while bytes[pos] != 0x20 && bytes[pos] != 0x0A { pos += 1 }
            fields.append(Int(text(start, pos))!)
        }
        let n = fields[0] * fields[1] * 3
        return PackedImage(pixels: Array(bytes[(pos + 1)..<(pos + 1 + n)]), width: fields[0], height: fields[1], channels: 3)
    }
    let head = text(0, min(bytes.count, 256))
    guard text(0, 2) == "P7", let end = head.range(of: "ENDHDR\n") else { throw CarSpotterError.badImage("not P6 or P7") }
    var fields: [String: Int] = [:]
    for line in head[..<end.lowerBound].split(separator: "\n").dropFirst() {
        let kv = line.split(separator: " ", maxSplits: 1)
        if kv.count == 2, let v = Int(kv[1]) { fields[String(kv[0])] = v }
    }
    let start = head.utf8.distance(from: head.utf8.startIndex, to: end.upperBound)
    let w = fields["WIDTH"]!, h = fields["HEIGHT"]!, c = fields["DEPTH"]!
    return PackedImage(pixels: Array(bytes[start..<(start + w * h * c)]), width: w, height: h, channels: c)
}

/// The rows of golden/resize/vectors.txt, each with its 10 fields: name, photo, expected, width, height, channels,
/// size, sha256, orientation (1...8 of the stored photo), roi ("x0,y0,x1,y1" in the upright photo, or "-"); a file
/// written before ROIs has the first 8, read as orientation 1 and roi "-".
func resizeVectorRows(_ golden: URL) throws -> [[String]] {
    let index = golden.appendingPathComponent("resize/vectors.txt")
    let rows = try String(contentsOf: index, encoding: .utf8).split(separator: "\n")
        .filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    for row in rows where row.count != 8 && row.count != 10 {
        throw CarSpotterError.badImage("resize/vectors.txt: row \(row[0]) has \(row.count) fields, not 10; re-export the bundle")
    }
    return rows.map { $0.count == 10 ? $0 : $0 + ["1", "-"] }
}

/// A ROI as the golden files write it: "x0,y0,x1,y1" (whole pixels), checked against a `width` x `height` photo; nil for "-".
func parseRoi(_ text: String, width: Int, height: Int) throws -> Roi? {
    if text == "-" { return nil }
    let v = text.split(separator: ",").map { Int($0)! }
    return try Roi(checking: v[0], v[1], v[2], v[3], width: width, height: height)
}

/// A number of golden/resize/bad_rois.txt as the reference's float() reads it: "NaN", "Infinity", "-1", "10.5", "12.0".
func parseNumber(_ text: String) -> Double {
    switch text.lowercased() {
    case "nan", "+nan", "-nan": return .nan
    case "inf", "+inf", "infinity", "+infinity": return .infinity
    case "-inf", "-infinity": return -.infinity
    default: return Double(text)!
    }
}

func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: Data(bytes)).map { String(format: "%02x", $0) }.joined() }

/// A PixelSource that counts the stored pixels read (through the windowed read the band path uses for a ROI).
final class CountingSource: PixelSource {
    let image: PackedImage
    private(set) var pixelsRead = 0
    init(_ image: PackedImage) { self.image = image }
    var width: Int { image.width }
    var height: Int { image.height }
    var channels: Int { image.channels }

    func readRows(top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        pixelsRead += width * count
        try image.readRows(top: top, count: count, into: band)
    }

    func readRows(left: Int, columns: Int, top: Int, count: Int, into band: UnsafeMutableRawBufferPointer) throws {
        pixelsRead += columns * count
        try image.readRows(left: left, columns: columns, top: top, count: count, into: band)
    }
}

final class ResizeVectorTests: XCTestCase {
    /// Every vector, as stored (EXIF orientation, RGBA) with its ROI, bit for bit through each path the package has:
    /// the upright photo cut and resized (ReferenceResize.resize), the fused reduction (ReferenceResize.prepare) and
    /// the banded one (BandReduce.prepare, as classify reads a CGImage; whole bands and 7-row bands), each followed by
    /// the bilinear step.
    func testEveryResizeVectorIsBitExact() throws {
        let golden = try goldenSet()
        let rows = try resizeVectorRows(golden)
        XCTAssertGreaterThanOrEqual(rows.count, 10)
        for row in rows {
            let name = row[0], size = Int(row[6])!, orientation = UInt32(row[8])!
            let photo = row[1].hasPrefix("gen:")
                ? generatedPhoto(width: Int(row[3])!, height: Int(row[4])!, seed: UInt32(row[1].dropFirst(4))!)
                : try parsePnm(Data(contentsOf: golden.appendingPathComponent("resize/" + row[1])))
            XCTAssertEqual([photo.width, photo.height, photo.channels], [Int(row[3])!, Int(row[4])!, Int(row[5])!], name)
            let want = try parsePnm(Data(contentsOf: golden.appendingPathComponent("resize/" + row[2])))
            let upright = Orientation.upright(photo, orientation: orientation)
            let roi = try parseRoi(row[9], width: upright.width, height: upright.height)
            var paths: [(String, [UInt8])] = []
            let cutResized = try ReferenceResize.resize(upright.pixels, width: upright.width, height: upright.height,
                                                        channels: upright.channels, size: size, roi: roi)
            paths.append(("upright, cut, resize", cutResized))
            let fused = try ReferenceResize.prepare(photo.pixels, width: photo.width, height: photo.height,
                                                    channels: photo.channels, orientation: orientation, size: size, roi: roi)
            paths.append(("prepare", ReferenceResize.bilinear(fused.pixels, width: fused.width, height: fused.height, size: size)))
            let bands: [Int?] = row[1].hasPrefix("gen:") ? [nil] : [nil, 7]  // 12 MP: one band height
            for band in bands {
                let reduced = try BandReduce.prepare(photo, orientation: orientation, size: size, roi: roi, bandRows: band)
                let label = band.map { String($0) } ?? "default"
                paths.append(("bands of \(label) rows",
                              ReferenceResize.bilinear(reduced.pixels, width: reduced.width, height: reduced.height, size: size)))
            }
            for (path, got) in paths {
                let what = "\(name) (orientation \(orientation), roi \(row[9])), \(path)"
                XCTAssertEqual(got.count, want.pixels.count, what)
                XCTAssertEqual(zip(got, want.pixels).filter { $0 != $1 }.count, 0, "\(what): values differing from the reference")
                XCTAssertEqual(sha256Hex(got), row[7], what)
            }
        }
    }

    /// golden/resize/bad_rois.txt: the edge ROIs marked "ok" are accepted as they are, every other is refused with a
    /// RoiError of the line's kind, one line naming the ROI, the photo's size and the rule.
    func testBadRoisAreRefusedAndEdgeRoisAccepted() throws {
        let golden = try goldenSet()
        let index = golden.appendingPathComponent("resize/bad_rois.txt")
        let lines = try String(contentsOf: index, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }.map { $0.split(separator: "\t").map(String.init) }
        XCTAssertGreaterThanOrEqual(lines.count, 10)
        XCTAssertTrue(lines.contains { $0.last != "ok" } && lines.contains { $0.last == "ok" })
        for line in lines {
            XCTAssertEqual(line.count, 7, line.joined(separator: " "))
            let width = Int(line[0])!, height = Int(line[1])!, kind = line[6]
            let v = line[2...5].map(parseNumber)
            let what = "\(width)x\(height) photo, ROI \(line[2...5].joined(separator: ",")) (\(kind))"
            if kind == "ok" {
                let roi = try Roi(checking: v[0], v[1], v[2], v[3], width: width, height: height)
                XCTAssertEqual([roi.x0, roi.y0, roi.x1, roi.y1], v.map { Int($0) }, what)
                continue
            }
            XCTAssertThrowsError(try Roi(checking: v[0], v[1], v[2], v[3], width: width, height: height), what) { error in
                guard let roiError = error as? RoiError else { return XCTFail("\(what): \(error) is not a RoiError") }
                XCTAssertEqual(roiError.kind.rawValue, kind, what)
                let message = roiError.localizedDescription
                XCTAssertFalse(message.contains("\n"), what)
                XCTAssertTrue(message.contains("\(width)x\(height)") && message.contains(Roi.rule), "\(what): \(message)")
            }
            // the same ROI passed to the resize paths is refused there too, before any pixel is read
            if v.allSatisfy({ $0.isFinite && $0 == $0.rounded(.down) }) {
                let photo = PackedImage(pixels: [UInt8](repeating: 0, count: width * height * 3), width: width, height: height, channels: 3)
                if let roi = try? Roi(checking: v[0], v[1], v[2], v[3], width: Int(1e6), height: Int(1e6)) {
                    XCTAssertThrowsError(try BandReduce.prepare(photo, orientation: 1, size: 8, roi: roi), what)
                    XCTAssertThrowsError(try ReferenceResize.prepare(photo.pixels, width: width, height: height, channels: 3,
                                                                     orientation: 1, size: 8, roi: roi), what)
                }
            }
        }
    }

    func testRejectsWrongByteCounts() {
        XCTAssertThrowsError(try ReferenceResize.resize([0, 0, 0, 0, 0], width: 2, height: 1, channels: 3, size: 4))
        XCTAssertThrowsError(try ReferenceResize.resize([0, 0, 0, 0], width: 2, height: 1, channels: 2, size: 4))
    }

    func testBoxReduceAveragesPartialBoxesRoundingHalvesUp() {
        // 7 x 1 row, size 2: kx = 3 -> boxes [0,3) [3,6) [6,7): 32/3 -> 11, 3/3 -> 1, 7
        let row: [UInt8] = [10, 11, 11, 0, 1, 2, 7]
        let out = ReferenceResize.boxReduce(row.flatMap { [$0, $0, $0] }, width: 7, height: 1, size: 2)
        XCTAssertEqual(out.width, 3)
        XCTAssertEqual(out.pixels, [11, 11, 11, 1, 1, 1, 7, 7, 7])
        // one 2 x 2 box (size 1): 1/4 -> 0, 2/4 -> 1 (halves round up)
        let quarter: [UInt8] = [0, 0, 1, 0], half: [UInt8] = [1, 0, 1, 0]
        XCTAssertEqual(ReferenceResize.boxReduce(quarter.flatMap { [$0, $0, $0] }, width: 2, height: 2, size: 1).pixels, [0, 0, 0])
        XCTAssertEqual(ReferenceResize.boxReduce(half.flatMap { [$0, $0, $0] }, width: 2, height: 2, size: 1).pixels, [1, 1, 1])
        let factors = ReferenceResize.boxFactors(width: 4032, height: 3024, size: 299)
        XCTAssertEqual(factors.kx, 13)
        XCTAssertEqual(factors.ky, 10)
    }

    func testPrepareOrientsCompositesAndReducesAsTheStepsInTurn() throws {
        // the fused path (no upright copy) against Orientation.upright, compositeOnWhite and boxReduce in turn
        var state: UInt32 = 7
        func next(_ n: Int) -> Int { state = state &* 1_664_525 &+ 1_013_904_223; return Int(state >> 8) % n }
        for trial in 0..<48 {
            let w = 1 + next(90), h = 1 + next(90), c = trial % 3 == 0 ? 4 : 3, size = 1 + next(40)
            let pixels = (0..<(w * h * c)).map { _ in UInt8(next(256)) }
            for o in UInt32(1)...8 {
                let up = Orientation.upright(PackedImage(pixels: pixels, width: w, height: h, channels: c), orientation: o)
                let rgb = c == 4 ? ReferenceResize.compositeOnWhite(up.pixels) : up.pixels
                let want = ReferenceResize.boxReduce(rgb, width: up.width, height: up.height, size: size)
                let got = try ReferenceResize.prepare(pixels, width: w, height: h, channels: c, orientation: o, size: size)
                XCTAssertEqual([got.width, got.height], [want.width, want.height], "\(w) x \(h) x \(c), orientation \(o)")
                XCTAssertEqual(got.pixels, want.pixels, "\(w) x \(h) x \(c), orientation \(o), size \(size)")
                // a ROI of the upright photo: cut, then composited and reduced as if it were the photo
                let x0 = next(up.width), y0 = next(up.height)
                let roi = try Roi(checking: x0, y0, x0 + 1 + next(up.width - x0), y0 + 1 + next(up.height - y0),
                                  width: up.width, height: up.height)
                let cut = try roi.cut(up)
                XCTAssertEqual([cut.width, cut.height], [roi.width, roi.height])
                let cutRGB = c == 4 ? ReferenceResize.compositeOnWhite(cut.pixels) : cut.pixels
                let wantRoi = ReferenceResize.boxReduce(cutRGB, width: roi.width, height: roi.height, size: size)
                let gotRoi = try ReferenceResize.prepare(pixels, width: w, height: h, channels: c, orientation: o, size: size, roi: roi)
                XCTAssertEqual([gotRoi.width, gotRoi.height], [wantRoi.width, wantRoi.height], "orientation \(o), roi \(roi)")
                XCTAssertEqual(gotRoi.pixels, wantRoi.pixels, "\(w) x \(h) x \(c), orientation \(o), size \(size), roi \(roi)")
            }
        }
    }

    func testRoiCutIsTheHalfOpenRectangleOfTheUprightPhoto() throws {
        // a 4 x 3 grey image 0...11: (1, 1, 3, 3) holds x 1...2, y 1...2
        let image = PackedImage(pixels: (0..<12).map { UInt8($0) }, width: 4, height: 3, channels: 1)
        XCTAssertEqual(try Roi(checking: 1, 1, 3, 3, width: 4, height: 3).cut(image).pixels, [5, 6, 9, 10])
        XCTAssertEqual(try Roi.whole(width: 4, height: 3).cut(image).pixels, image.pixels)
        XCTAssertEqual(try Roi(checking: 3, 2, 4, 3, width: 4, height: 3).cut(image).pixels, [11])
        XCTAssertThrowsError(try Roi(checking: 0, 0, 5, 3, width: 5, height: 3).cut(image))  // a ROI of another photo
        // the resize of a ROI is the resize of its pixels, cut
        var state: UInt32 = 3
        func next(_ n: Int) -> Int { state = state &* 1_664_525 &+ 1_013_904_223; return Int(state >> 8) % n }
        let w = 97, h = 61
        let rgb = PackedImage(pixels: (0..<(w * h * 3)).map { _ in UInt8(next(256)) }, width: w, height: h, channels: 3)
        let roi = try Roi(checking: 13, 7, 90, 60, width: w, height: h)
        let cut = try roi.cut(rgb)
        XCTAssertEqual(try ReferenceResize.resize(rgb.pixels, width: w, height: h, channels: 3, size: 20, roi: roi),
                       try ReferenceResize.resize(cut.pixels, width: cut.width, height: cut.height, channels: 3, size: 20))
    }

    func testBandReduceIsPrepareForEveryBandOrientationAndChannelCount() throws {
        // the banded reduction (any band height) against prepare on the whole photo: the same bytes
        var state: UInt32 = 17
        func next(_ n: Int) -> Int { state = state &* 1_664_525 &+ 1_013_904_223; return Int(state >> 8) % n }
        for trial in 0..<36 {
            let w = 1 + next(120), h = 1 + next(120), c = [1, 3, 4][trial % 3], size = 1 + next(50)
            let pixels = (0..<(w * h * c)).map { _ in UInt8(next(256)) }
            let rgb = c == 1 ? pixels.flatMap { [$0, $0, $0] } : pixels  // grey: copied to R, G and B
            for o in UInt32(0)...8 {
                let want = try ReferenceResize.prepare(rgb, width: w, height: h, channels: c == 1 ? 3 : c, orientation: o, size: size)
                for band in [1, 1 + next(7), h] {
                    let got = try BandReduce.prepare(PackedImage(pixels: pixels, width: w, height: h, channels: c),
                                                     orientation: o, size: size, bandRows: band)
                    XCTAssertEqual([got.width, got.height], [want.width, want.height], "\(w) x \(h) x \(c), orientation \(o)")
                    XCTAssertEqual(got.pixels, want.pixels, "\(w) x \(h) x \(c), orientation \(o), size \(size), band \(band)")
                }
                // a ROI of the upright photo: only its stored rows and columns read, the same bytes as prepare's
                let (uw, uh) = o >= 5 ? (h, w) : (w, h)
                let x0 = next(uw), y0 = next(uh)
                let roi = try Roi(checking: x0, y0, x0 + 1 + next(uw - x0), y0 + 1 + next(uh - y0), width: uw, height: uh)
                let wantRoi = try ReferenceResize.prepare(rgb, width: w, height: h, channels: c == 1 ? 3 : c, orientation: o,
                                                          size: size, roi: roi)
                let bands: [Int?] = [nil, 1, 1 + next(7)]
                for band in bands {
                    let source = CountingSource(PackedImage(pixels: pixels, width: w, height: h, channels: c))
                    let got = try BandReduce.prepare(source, orientation: o, size: size, roi: roi, bandRows: band)
                    let label = band.map { String($0) } ?? "default"
                    let what = "\(w) x \(h) x \(c), orientation \(o), size \(size), roi \(roi), band \(label)"
                    XCTAssertEqual([got.width, got.height], [wantRoi.width, wantRoi.height], what)
                    XCTAssertEqual(got.pixels, wantRoi.pixels, what)
                    XCTAssertEqual(source.pixelsRead, roi.width * roi.height, "\(what): pixels read")
                }
            }
        }
        XCTAssertEqual(BandReduce.bandRows(width: 8000), 32)
    }

    func testStoredRectIsWhatTheOrientationShowsInTheRoi() throws {
        // every stored pixel of storedRect is shown inside the ROI once upright, and the rectangle has the ROI's area
        let w = 7, h = 5
        for o in 1...8 {
            let (uw, uh) = o >= 5 ? (h, w) : (w, h)
            let roi = try Roi(checking: 1, 2, uw - 1, uh, width: uw, height: uh)
            let stored = BandReduce.storedRect(o, roi, width: w, height: h)
            XCTAssertEqual((stored.x1 - stored.x0) * (stored.y1 - stored.y0), roi.width * roi.height, "orientation \(o)")
            var shown = Set<Int>()
            for y in roi.y0..<roi.y1 {
                for x in roi.x0..<roi.x1 { shown.insert(Orientation.source(UInt32(o), x: x, y: y, width: w, height: h)) }
            }
            var inRect = Set<Int>()
            for sy in stored.y0..<stored.y1 { for sx in stored.x0..<stored.x1 { inRect.insert(sy * w + sx) } }
            XCTAssertEqual(shown, inRect, "orientation \(o)")
        }
    }

    func testCGImageBandsArePackedPixelsWhole() throws {
        // a CGImage read a band at a time (cropping(to:), drawn 1:1) gives the bytes packedPixels(of:) draws whole
        var state: UInt32 = 5
        func next() -> UInt8 { state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        for (w, h, grey) in [(301, 157, false), (97, 640, false), (211, 89, true)] {
            let c = grey ? 1 : 4
            var bytes = (0..<(w * h * c)).map { i in c == 4 && i % 4 == 3 ? 255 : next() }  // opaque
            let space = grey ? CGColorSpaceCreateDeviceGray() : CGColorSpace(name: CGColorSpace.sRGB)!
            let info = grey ? CGImageAlphaInfo.none.rawValue : CGImageAlphaInfo.premultipliedLast.rawValue
            let image = try bytes.withUnsafeMutableBytes { raw -> CGImage in
                guard let context = CGContext(data: raw.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * c,
                                              space: space, bitmapInfo: info), let made = context.makeImage() else {
                    throw CarSpotterError.badImage("test image")
                }
                return made
            }
            let rows = try CGImageRows(image)
            XCTAssertEqual(rows.channels, c)
            let whole = try CarClassifier.packedPixels(of: image)
            for o in UInt32(1)...8 {
                for size in [29, 299] {
                    let want = try ReferenceResize.prepare(whole.pixels, width: w, height: h, channels: whole.channels,
                                                           orientation: o, size: size)
                    let got = try BandReduce.prepare(rows, orientation: o, size: size, bandRows: 13)
                    XCTAssertEqual(got.pixels, want.pixels, "\(w) x \(h) grey \(grey), orientation \(o), size \(size)")
                    // a ROI: only its window of each band is cropped out and drawn
                    let (uw, uh) = o >= 5 ? (h, w) : (w, h)
                    let roi = try Roi(checking: 3, 5, uw - 7, uh - 2, width: uw, height: uh)
                    let wantRoi = try ReferenceResize.prepare(whole.pixels, width: w, height: h, channels: whole.channels,
                                                              orientation: o, size: size, roi: roi)
                    let gotRoi = try BandReduce.prepare(rows, orientation: o, size: size, roi: roi, bandRows: 13)
                    XCTAssertEqual(gotRoi.pixels, wantRoi.pixels, "\(w) x \(h) grey \(grey), orientation \(o), size \(size), roi \(roi)")
                }
            }
        }
    }

    func testAllEightOrientationsAsPillow() {
        // a 3 x 2 grey image 0...5 and what Pillow's ImageOps.exif_transpose makes of it for each orientation
        let want: [UInt32: [Int]] = [1: [3, 2, 0, 1, 2, 3, 4, 5], 2: [3, 2, 2, 1, 0, 5, 4, 3], 3: [3, 2, 5, 4, 3, 2, 1, 0],
                                     4: [3, 2, 3, 4, 5, 0, 1, 2], 5: [2, 3, 0, 3, 1, 4, 2, 5], 6: [2, 3, 3, 0, 4, 1, 5, 2],
                                     7: [2, 3, 5, 2, 4, 1, 3, 0], 8: [2, 3, 2, 5, 1, 4, 0, 3]]
        let image = PackedImage(pixels: [0, 1, 2, 3, 4, 5], width: 3, height: 2, channels: 1)
        for (o, w) in want {
            let up = Orientation.upright(image, orientation: o)
            XCTAssertEqual([up.width, up.height], Array(w.prefix(2)), "orientation \(o)")
            XCTAssertEqual(up.pixels.map(Int.init), Array(w.dropFirst(2)), "orientation \(o)")
        }
    }
}

final class RoiTests: XCTestCase {
    func testRoiRuleAsTheReference() throws {
        let roi = try Roi(checking: 12.0, 7, 13, 8, width: 640, height: 480)  // whole numbers held in Doubles
        XCTAssertEqual([roi.x0, roi.y0, roi.x1, roi.y1, roi.width, roi.height], [12, 7, 13, 8, 1, 1])
        XCTAssertEqual(roi.text, "12,7,13,8")
        XCTAssertEqual(roi, try Roi(checking: 12, 7, 13, 8, width: 640, height: 480))
        XCTAssertEqual(try Roi.whole(width: 640, height: 480), try Roi(checking: 0, 0, 640, 480, width: 640, height: 480))
        func kind(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, _ w: Int = 640, _ h: Int = 480) -> RoiError.Kind? {
            do {
                _ = try Roi(checking: x0, y0, x1, y1, width: w, height: h)
                return nil
            } catch let error as RoiError {
                return error.kind
            } catch {
                return nil
            }
        }
        XCTAssertEqual(kind(.nan, 0, 1, 1), .notANumber)
        XCTAssertEqual(kind(0, 0, 1, -.infinity), .notANumber)
        XCTAssertEqual(kind(0.5, 0, 1, 1), .notWhole)
        XCTAssertEqual(kind(-1, 0, 10.5, 1), .notWhole)  // every value whole first, in check_roi's order
        XCTAssertEqual(kind(-1, 0, 0, 1), .negative)  // negative before empty
        XCTAssertEqual(kind(5, 0, 5, 1), .empty)
        XCTAssertEqual(kind(5, 0, 700, 0), .empty)  // empty before outside
        XCTAssertEqual(kind(0, 0, 1e300, 1), .outside)  // refused, never converted
        XCTAssertEqual(kind(0, 0, 1, 1, 0, 0), .outside)
        XCTAssertNil(kind(-0.0, 0, 640, 480))
        XCTAssertThrowsError(try Roi.whole(width: 0, height: 5))
        // checked again against another photo
        XCTAssertNoThrow(try roi.checked(width: 13, height: 8))
        XCTAssertThrowsError(try roi.checked(width: 12, height: 480)) { XCTAssertEqual(($0 as? RoiError)?.kind, .outside) }
        // the line names the ROI, the photo's size and the rule
        do {
            _ = try Roi(checking: 10.5, 0, 100, 100, width: 640, height: 480)
            XCTFail("10.5 accepted")
        } catch {
            XCTAssertEqual(error.localizedDescription, "carspotter: ROI (10.5, 0, 100, 100) for the 640x480 photo: x0 = 10.5 "
                           + "is not a whole pixel; " + Roi.rule)
        }
    }

    /// Vision's normalized rect (origin at the bottom-left of the upright photo) to a Roi: projected, flipped,
    /// rounded outward, clamped.
    func testVisionRectsMapToRoundedOutwardClampedRois() throws {
        // whole pixels through a normalized rect come back as those pixels: (100, 50)-(300, 250) in a 400 x 300 photo
        let exact = CGRect(x: 100.0 / 400, y: (300.0 - 250) / 300, width: 200.0 / 400, height: 200.0 / 300)
        XCTAssertEqual(try Roi(visionRect: exact, uprightWidth: 400, uprightHeight: 300).text, "100,50,300,250")
        // fractional: a partly covered pixel is in
        let frac = CGRect(x: 0.1001, y: 0.2001, width: 0.5, height: 0.3)
        XCTAssertEqual(try Roi(visionRect: frac, uprightWidth: 1000, uprightHeight: 100).text, "100,49,601,80")
        // overshooting the edges: clamped (a detector's box may reach past the photo)
        let over = CGRect(x: -0.2, y: -0.1, width: 1.5, height: 0.6)
        XCTAssertEqual(try Roi(visionRect: over, uprightWidth: 640, uprightHeight: 480).text, "0,240,640,480")
        // the whole normalized rect is the whole photo
        XCTAssertEqual(try Roi(visionRect: CGRect(x: 0, y: 0, width: 1, height: 1), uprightWidth: 4032, uprightHeight: 3024),
                       try Roi.whole(width: 4032, height: 3024))
        // nothing left inside, or not finite: refused
        XCTAssertThrowsError(try Roi(visionRect: CGRect(x: 1.2, y: 0, width: 0.5, height: 1), uprightWidth: 640, uprightHeight: 480)) {
            XCTAssertEqual(($0 as? RoiError)?.kind, .empty)
        }
        XCTAssertThrowsError(try Roi(visionRect: .null, uprightWidth: 640, uprightHeight: 480)) {
            XCTAssertEqual(($0 as? RoiError)?.kind, .notANumber)
        }
        XCTAssertThrowsError(try Roi(visionRect: CGRect(x: CGFloat.nan, y: 0, width: 1, height: 1), uprightWidth: 640,
                                     uprightHeight: 480))
        // a portrait photo stored landscape (orientation 6, .right): Vision's rect is in the upright 3024 x 4032
        let portrait = Roi.uprightSize(width: 4032, height: 3024, orientation: .right)
        XCTAssertEqual([portrait.width, portrait.height], [3024, 4032])
        let mirrored = Roi.uprightSize(width: 4032, height: 3024, orientation: .downMirrored)
        XCTAssertEqual([mirrored.width, mirrored.height], [4032, 3024])
        // a top-left pixel rect (a crop UI): rounded outward and clamped the same way
        XCTAssertEqual(try Roi(pixelRect: CGRect(x: 10.25, y: 20.75, width: 99.5, height: 500), uprightWidth: 640,
                               uprightHeight: 480).text, "10,20,110,480")
    }
}

/// golden/two_pass/box_vectors.txt: region, box (Float32 bit patterns, hex), box (decimal), roi or "-", pass 1 or 2.
final class TwoPassTests: XCTestCase {
    func testEveryBoxVectorAgrees() throws {
        let golden = try goldenSet()
        let index = golden.appendingPathComponent("two_pass/box_vectors.txt")
        let lines = try String(contentsOf: index, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        XCTAssertGreaterThanOrEqual(lines.count, 100)
        var wrong: [String] = []
        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(f.count, 5, String(line))
            let r = f[0].split(separator: ",").map { Int($0)! }
            let region = try Roi(checking: r[0], r[1], r[2], r[3], width: r[2], height: r[3])
            let box = f[1].split(separator: ",").map { Float(bitPattern: UInt32($0, radix: 16)!) }
            let roi = TwoPass.boxToRoi(box, region: region)
            let pass = TwoPass.needsSecondPass(roi, region: region) ? "2" : "1"
            if (roi?.text ?? "-") != f[3] || pass != f[4] {
                wrong.append("\(line): got \(roi?.text ?? "-") pass \(pass)")
            }
        }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) box vectors differ:\n" + wrong.joined(separator: "\n"))
    }

    func testBoxLogicEdges() throws {
        let whole = try Roi.whole(width: 4032, height: 3024)
        // the whole region: no second pass
        let all = TwoPass.boxToRoi([0, 0, 1, 1], region: whole)
        XCTAssertEqual(all, whole)
        XCTAssertFalse(TwoPass.needsSecondPass(all, region: whole))
        // a quarter box: floor / ceil of one Double product each
        let quarter = TwoPass.boxToRoi([0.25, 0.25, 0.75, 0.75], region: whole)
        XCTAssertEqual(quarter?.text, "1008,756,3024,2268")  // floor(0.25 * 4032), floor(0.25 * 3024), ceil(0.75 * 4032), ceil(0.75 * 3024)
        XCTAssertTrue(TwoPass.needsSecondPass(quarter, region: whole))
        // not finite, too small, reversed, not four values: no box, pass 1
        XCTAssertNil(TwoPass.boxToRoi([.nan, 0.1, 0.5, 0.5], region: whole))
        XCTAssertNil(TwoPass.boxToRoi([0.1, 0.1, .infinity, 0.5], region: whole))
        XCTAssertNil(TwoPass.boxToRoi([0.6, 0.2, 0.4, 0.8], region: whole))
        XCTAssertNil(TwoPass.boxToRoi([0, 0, 1], region: whole))
        XCTAssertNil(TwoPass.boxToRoi([0.1, 0.1, 0.1, 0.9], region: whole))  // 1 px wide
        XCTAssertFalse(TwoPass.needsSecondPass(nil, region: whole))
        // a region at an offset: the ROI is in photo pixels, inside the region
        let region = try Roi(checking: 13, 7, 514, 398, width: 640, height: 480)
        let inRegion = try XCTUnwrap(TwoPass.boxToRoi([-0.5, 0.5, 0.5, 2], region: region))
        XCTAssertTrue(inRegion.x0 >= region.x0 && inRegion.y0 >= region.y0 && inRegion.x1 <= region.x1 && inRegion.y1 <= region.y1)
        XCTAssertEqual(inRegion.text, "13,202,264,398")  // 13 + 0, 7 + floor(0.5 * 391), 13 + ceil(0.5 * 501), 7 + 391
        XCTAssertEqual(TwoPass.minBoxSide, 8)
        XCTAssertEqual([TwoPass.secondPassBelow.numerator, TwoPass.secondPassBelow.denominator], [9, 10])
    }

    /// TwoPass.run with closures in place of the model (as carspotter.model.localizer.two_pass): pass 2 runs only when
    /// the box is small, on the ROI the box logic found; otherwise the answer is pass 1's.
    func testRunClassifiesTheBoxOnlyWhenTheCarIsSmall() async throws {
        let photo = try Roi.whole(width: 4032, height: 3024)
        let first: [Float] = [0.7, 0.2, 0.1], second: [Float] = [0.1, 0.1, 0.8]
        var regions: [Roi] = [], rois: [Roi] = []
        let small = try await TwoPass.run(region: photo, pass1: { r in
            regions.append(r)
            return (first, [0.25, 0.25, 0.75, 0.75])
        }, pass2: { r in
            rois.append(r)
            return second
        })
        XCTAssertEqual(regions, [photo])
        XCTAssertEqual(rois.map(\.text), ["1008,756,3024,2268"])  // the quarter box worked by hand above
        XCTAssertEqual(small.passes, 2)
        XCTAssertEqual(small.probabilities, second)
        XCTAssertEqual(small.first, first)
        XCTAssertEqual(small.box, [0.25, 0.25, 0.75, 0.75])
        XCTAssertEqual(small.roi?.text, "1008,756,3024,2268")
        XCTAssertEqual(small.found, small.roi)
        // a box nearly filling the photo (3832 x 2874 of 4032 x 3024, not below 9/10): found, one pass
        rois = []
        let large = try await TwoPass.run(region: photo, pass1: { _ in (first, [0.02, 0.03, 0.97, 0.98]) },
                                          pass2: { r in rois.append(r); return second })
        XCTAssertEqual(large.passes, 1)
        XCTAssertTrue(rois.isEmpty)
        XCTAssertEqual(large.probabilities, first)
        XCTAssertNil(large.roi)
        XCTAssertEqual(large.found?.text, "80,90,3912,2964")
        // no usable box (not finite, 1 px wide, reversed): one pass, nothing found
        let unusable: [[Float]] = [[.nan, 0.1, 0.5, 0.5], [0.1, 0.1, 0.1, 0.9], [0.6, 0.2, 0.4, 0.8]]
        for box in unusable {
            let none = try await TwoPass.run(region: photo, pass1: { _ in (first, box) },
                                             pass2: { r in rois.append(r); return second })
            XCTAssertEqual(none.passes, 1)
            XCTAssertNil(none.found)
            XCTAssertNil(none.roi)
            XCTAssertEqual(none.probabilities, first)
        }
        XCTAssertTrue(rois.isEmpty)
    }

    /// A caller's region: pass 1 sees it, the box is 0...1 of it, pass 2's ROI is offset by it and lies inside it.
    func testRunOnACallersRegionOffsetsTheRoi() async throws {
        // 1000..3000 x 500..2000: px 1000 + 500 .. 1000 + 1500 x 500 + 375 .. 500 + 1125
        let region = try Roi(checking: 1000, 500, 3000, 2000, width: 4032, height: 3024)
        var regions: [Roi] = [], rois: [Roi] = []
        let answer = try await TwoPass.run(region: region, pass1: { r in
            regions.append(r)
            return ([0.5, 0.5], [0.25, 0.25, 0.75, 0.75])
        }, pass2: { r in
            rois.append(r)
            return [0.9, 0.1]
        })
        XCTAssertEqual(regions, [region])
        XCTAssertEqual(answer.roi?.text, "1500,875,2500,1625")
        XCTAssertEqual(rois.map(\.text), ["1500,875,2500,1625"])
        // a box past the region's edges: clamped inside the region
        let odd = try Roi(checking: 13, 7, 514, 398, width: 640, height: 480)
        let past = try await TwoPass.run(region: odd, pass1: { _ in ([0.5, 0.5], [-0.5, 0.1, 0.3, 2]) },
                                         pass2: { _ in [0.9, 0.1] })
        let roi = try XCTUnwrap(past.roi)
        XCTAssertEqual(roi.text, "13,46,164,398")
        XCTAssertTrue(roi.x0 >= odd.x0 && roi.y0 >= odd.y0 && roi.x1 <= odd.x1 && roi.y1 <= odd.y1)
        XCTAssertEqual(past.passes, 2)
    }

    /// A model without the "box" output is refused in one line naming the fix; a box of 3 values too.
    func testRunRefusesAModelWithoutBox() async throws {
        let photo = try Roi.whole(width: 640, height: 480)
        var ranPass2 = false
        do {
            _ = try await TwoPass.run(region: photo, pass1: { _ in ([0.5, 0.5], nil) },
                                      pass2: { _ in ranPass2 = true; return [0.5, 0.5] })
            XCTFail("a model without a box output was not refused")
        } catch let error as TwoPassError {
            XCTAssertEqual(error, .noBoxOutput("this model has none"))
            XCTAssertTrue(error.description.contains("carspotter localize") && !error.description.contains("\n"))
        }
        XCTAssertFalse(ranPass2)
        do {
            _ = try await TwoPass.run(region: photo, pass1: { _ in ([0.5, 0.5], [0, 0, 1]) }, pass2: { _ in [0.5, 0.5] })
            XCTFail("a box of 3 values was not refused")
        } catch let error as TwoPassError {
            XCTAssertEqual(error, .badBox(count: 3))
        }
    }
}

#if canImport(UIKit)
final class UIImageTests: XCTestCase {
    /// UIKit's orientations map by name, not raw value, onto EXIF's (CGImagePropertyOrientation's raw values).
    func testUIImageOrientationsMapToTheirExifValues() {
        let want: [(UIImage.Orientation, UInt32)] = [(.up, 1), (.upMirrored, 2), (.down, 3), (.downMirrored, 4),
                                                      (.leftMirrored, 5), (.right, 6), (.rightMirrored, 7), (.left, 8)]
        for (ui, exif) in want {
            XCTAssertEqual(CarClassifier.exifOrientation(ui).rawValue, exif, "UIImage.Orientation raw \(ui.rawValue)")
        }
    }

    /// classify(UIImage) is classify(cgImage, orientation:) with the UIImage's orientation (a camera photo: .right).
    func testClassifyUIImageUsesItsOrientation() async throws {
        let (jpg, _) = try decodeGolden((try goldenPhotos()).first!)
        let spotter = try await CarClassifier.load(backend: .coreML)
        let viaUIImage = try await spotter.classify(UIImage(cgImage: jpg, scale: 1, orientation: .right))
        let direct = try await spotter.classify(jpg, orientation: .right)
        XCTAssertEqual(viaUIImage.probabilities, direct.probabilities)
    }
}
#endif

/// A golden file (a name from expected.json) decoded by ImageIO, with its EXIF orientation.
func decodeGolden(_ rel: String) throws -> (CGImage, CGImagePropertyOrientation) {
    let golden = try goldenSet()
    // expected.json names files from the bundle ("golden/000.jpg"); `golden` is that folder
    let name = rel.hasPrefix("golden/") ? String(rel.dropFirst("golden/".count)) : rel
    let url = golden.appendingPathComponent(name)
    guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
          let image = CGImageSourceCreateImageAtIndex(source, 0, nil) else { throw CarSpotterError.badImage(rel) }
    let props = CGImageSourceCopyPropertiesAtIndex(source, 0, nil) as? [CFString: Any]
    let raw = (props?[kCGImagePropertyOrientation] as? NSNumber)?.uint32Value ?? 1
    return (image, CGImagePropertyOrientation(rawValue: raw) ?? .up)
}

/// The golden set's photo names (expected.json's "photo" of each entry).
func goldenPhotos() throws -> [String] {
    let golden = try goldenSet()
    let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: golden.appendingPathComponent("expected.json"))) as! [String: Any]
    return (expected["photos"] as! [[String: Any]]).map { $0["photo"] as! String }
}

final class GoldenSetTests: XCTestCase {
    func decode(_ rel: String) throws -> (CGImage, CGImagePropertyOrientation) { try decodeGolden(rel) }

    /// Exact path: golden/NNN.png (the reference's inputs) through `spotter`'s backend; package path: golden/NNN.jpg
    /// decoded by ImageIO, oriented and resized by this package. Both under the top-3 rule with the tolerances of
    /// `format`'s device precision (golden/expected.json).
    func checkGoldenPhotos(_ spotter: CarClassifier, format: String) async throws {
        let golden = try goldenSet()
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: golden.appendingPathComponent("expected.json"))) as! [String: Any]
        guard let entry = (expected["formats"] as! [String: Any])[format] as? [String: Any] else {
            XCTFail("golden/expected.json has no \(format) format, though the package runs it")
            return
        }
        let precision = (entry["device_precision"] as? String) ?? (entry["precision"] as! String)
        let tol = (expected["tolerances"] as! [String: Any])[precision] as! [String: Any]
        let tau = (tol["tau"] as! NSNumber).doubleValue, limit = (tol["max_abs_diff"] as! NSNumber).doubleValue
        var failures: [String] = []
        for photo in expected["photos"] as! [[String: Any]] {
            let reference = (photo["probabilities"] as! [NSNumber]).map { $0.floatValue }
            let (png, _) = try decode(photo["input"] as! String)
            let packed = try CarClassifier.packedPixels(of: png)
            let exactInput = packed.channels == 4 ? ReferenceResize.compositeOnWhite(packed.pixels) : packed.pixels
            let exact = try await spotter.probabilities(input: exactInput)
            let (jpg, orientation) = try decode(photo["photo"] as! String)
            let package = try await spotter.classify(jpg, orientation: orientation).probabilities
            for (path, probs) in [("exact", exact), ("package", package)] {
                let r = ParityRule.top3(reference: reference, candidate: probs, tau: tau)
                if let rank = r.mismatchRank { failures.append("\(format) \(photo["photo"]!) \(path) path: rank \(rank) differs") }
                if r.maxAbsDiff > limit { failures.append("\(format) \(photo["photo"]!) \(path) path: max |dp| \(r.maxAbsDiff) > \(limit)") }
            }
        }
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    /// The golden photos through Core ML (forced: on iOS 27+ / macOS 27+ `.automatic` would pick Core AI).
    func testGoldenPhotosPassTheParityRule() async throws {
        _ = try goldenSet()
        let spotter = try await CarClassifier.load(backend: .coreML)
        XCTAssertEqual(spotter.backend, .coreML)
        try await checkGoldenPhotos(spotter, format: "coreml")
    }

    /// classify(_:orientation:roi:) gives the model exactly the reference's input for the ROI: the photo oriented, the
    /// ROI cut at full resolution, then resized (here from the whole decoded image, there a window of bands); a ROI of
    /// the whole upright photo is no ROI.
    func testClassifyWithRoiIsTheModelOnTheRoisExactInput() async throws {
        let (jpg, orientation) = try decodeGolden(try goldenPhotos().first!)
        let spotter = try await CarClassifier.load(backend: .coreML)
        let (uw, uh) = Roi.uprightSize(of: jpg, orientation: orientation)
        let all = try Roi.whole(width: uw, height: uh)
        let whole = try await spotter.classify(jpg, orientation: orientation, roi: all)
        let plain = try await spotter.classify(jpg, orientation: orientation)
        XCTAssertEqual(whole.probabilities, plain.probabilities)
        let roi = try Roi(checking: uw / 7, uh / 5, uw - uw / 9, uh - 3, width: uw, height: uh)
        let packed = try CarClassifier.packedPixels(of: jpg)
        let reduced = try ReferenceResize.prepare(packed.pixels, width: packed.width, height: packed.height,
                                                  channels: packed.channels, orientation: orientation.rawValue,
                                                  size: spotter.info.size, roi: roi)
        let input = ReferenceResize.bilinear(reduced.pixels, width: reduced.width, height: reduced.height, size: spotter.info.size)
        let direct = try await spotter.probabilities(input: input)
        let viaRoi = try await spotter.classify(jpg, orientation: orientation, roi: roi)
        XCTAssertEqual(viaRoi.probabilities, direct)
        let past = try Roi(checking: 0, 0, uw, uh + 1, width: uw, height: uh + 1)  // a ROI of a taller photo
        do {
            _ = try await spotter.classify(jpg, orientation: orientation, roi: past)
            XCTFail("a ROI reaching past the upright photo was accepted")
        } catch let error as RoiError {
            XCTAssertEqual(error.kind, .outside)
        }
    }

    /// The golden photos through Core AI and the bundle's .aimodel (skipped before iOS 27 / macOS 27, or for a bundle
    /// without one), with the tolerances expected.json gives the coreai format.
    func testGoldenPhotosPassTheParityRuleThroughCoreAI() async throws {
        _ = try goldenSet()
        _ = try coreAIBundle()
        let spotter = try await CarClassifier.load(backend: .coreAI)
        XCTAssertEqual(spotter.backend, .coreAI)
        try await checkGoldenPhotos(spotter, format: "coreai")
    }
}

final class BackendTests: XCTestCase {
    /// `.automatic` loads Core AI on iOS 27+ / macOS 27+ when the bundle has a Core AI model, Core ML otherwise;
    /// `.coreML` always loads; `.coreAI` loads where it can and throws `backendUnavailable` where it cannot.
    func testAutomaticPicksCoreAIWhereTheOSAndTheBundleHaveIt() async throws {
        let info = try BundleInfo.packaged()
        XCTAssertEqual(CarClassifier.isCoreAIAvailable, osHasCoreAI)
        let want: Backend = osHasCoreAI && info.coreAIModel != nil ? .coreAI : .coreML
        let automatic = try await CarClassifier.load()
        XCTAssertEqual(automatic.backend, want, "coreAIModel \(info.coreAIModel ?? "null"), Core AI here: \(osHasCoreAI)")
        let coreML = try await CarClassifier.load(backend: .coreML)
        XCTAssertEqual(coreML.backend, .coreML)
        if want == .coreAI {
            let coreAI = try await CarClassifier.load(backend: .coreAI)
            XCTAssertEqual(coreAI.backend, .coreAI)
        } else {
            do {
                _ = try await CarClassifier.load(backend: .coreAI)
                XCTFail("load(backend: .coreAI) loaded without Core AI or a Core AI model")
            } catch CarSpotterError.backendUnavailable(_) {
                // expected
            }
        }
    }

    /// Both backends on the same exact input: C probabilities summing to 1, each within 0.1 of Core ML's (twice fp16's
    /// max |dp| against the reference; the golden tests hold each backend to the reference itself).
    func testCoreAIAndCoreMLAgreeOnOneInput() async throws {
        let info = try coreAIBundle()
        let s = info.size
        var state: UInt32 = 11
        let input = (0..<(s * s * 3)).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
        let coreML = try await CarClassifier.load(backend: .coreML).probabilities(input: input)
        let coreAI = try await CarClassifier.load(backend: .coreAI).probabilities(input: input)
        XCTAssertEqual(coreAI.count, info.labels.count)
        XCTAssertEqual(coreAI.reduce(0, +), 1, accuracy: 0.02)
        let r = ParityRule.top3(reference: coreML, candidate: coreAI, tau: 1e-2)
        XCTAssertLessThan(r.maxAbsDiff, 0.1)
    }
}
