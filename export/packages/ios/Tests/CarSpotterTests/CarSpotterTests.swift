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

final class ResizeVectorTests: XCTestCase {
    func testEveryResizeVectorIsBitExact() throws {
        let golden = try goldenSet()
        let index = golden.appendingPathComponent("resize/vectors.txt")
        let rows = try String(contentsOf: index, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t").map(String.init) }
        XCTAssertGreaterThanOrEqual(rows.count, 10)
        for row in rows {
            let photo = row[1].hasPrefix("gen:")
                ? generatedPhoto(width: Int(row[3])!, height: Int(row[4])!, seed: UInt32(row[1].dropFirst(4))!)
                : try parsePnm(Data(contentsOf: golden.appendingPathComponent("resize/" + row[1])))
            let want = try parsePnm(Data(contentsOf: golden.appendingPathComponent("resize/" + row[2])))
            let got = try ReferenceResize.resize(photo.pixels, width: photo.width, height: photo.height,
                                                 channels: photo.channels, size: Int(row[6])!)
            XCTAssertEqual(zip(got, want.pixels).filter { $0 != $1 }.count, 0, "\(row[0]): values differing from the reference")
            let sha = SHA256.hash(data: Data(got)).map { String(format: "%02x", $0) }.joined()
            XCTAssertEqual(sha, row[7], row[0])
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
            }
        }
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
            }
        }
        XCTAssertEqual(BandReduce.bandRows(width: 8000), 32)
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
