// carspotter self-test for iOS: runs the bundle's golden set through Core ML with Vision, on the device.
//
// Add this file to your app's XCTest target, and the bundle's `golden/` folder to that target as a
// folder reference (blue folder, "Copy Bundle Resources"). CarSpotter.mlpackage must be in the app
// target (Xcode generates the `CarSpotter` class). Run with Cmd-U on a device: the Neural Engine and
// GPU compute in fp16, so the top-3 rule uses the fp16 tolerances from golden/expected.json.
//
// Two paths per photo:
//  1. exact: golden/NNN.png (the exact 299x299 model input) through Vision with .scaleFill (no scaling at
//     that size) -> the top-3 rule against the reference's probabilities. A failure means Core ML on this
//     device computes something else than the reference (wrong model, compute-unit problem).
//  2. app: golden/NNN.jpg with its EXIF orientation, scaled by Vision (.scaleFill) as your app does it.
//     Photos whose reference margin is at least app_path.min_margin must keep their top-1. A failure
//     means Vision's scaling of your photos moves the answer (see the bundle README).
//
// Not compiled on the project's machines (they run Linux); written against the Vision, Core ML and
// XCTest APIs of iOS 15+.

import CoreML
import ImageIO
import Vision
import XCTest

private struct Expected: Decodable {
    struct Tolerance: Decodable { let tau: Double; let max_abs_diff: Double }
    struct Format: Decodable { let path: String; let precision: String; let device_precision: String }
    struct AppPath: Decodable { let min_margin: Double }
    struct Photo: Decodable { let photo: String; let input: String; let probabilities: [Double]; let margin: Double }
    let labels: [String]
    let tolerances: [String: Tolerance]
    let formats: [String: Format]
    let app_path: AppPath
    let photos: [Photo]
}

final class CarSpotterSelfTest: XCTestCase {
    private func resource(_ relative: String) throws -> URL {
        let name = (relative as NSString).lastPathComponent
        let url = Bundle(for: CarSpotterSelfTest.self).url(forResource: (name as NSString).deletingPathExtension,
                                                             withExtension: (name as NSString).pathExtension,
                                                             subdirectory: "golden")
        return try XCTUnwrap(url, "\(relative) is not in the test bundle: add the golden/ folder to the test target")
    }

    /// Probabilities in labels.txt order for one image, through Vision with .scaleFill.
    private func probabilities(_ model: VNCoreMLModel, _ url: URL, labels: [String], applyOrientation: Bool) throws -> [Double] {
        let source = try XCTUnwrap(CGImageSourceCreateWithURL(url as CFURL, nil))
        let image = try XCTUnwrap(CGImageSourceCreateImageAtIndex(source, 0, nil))
        var orientation = CGImagePropertyOrientation.up
        if applyOrientation,
           let props = CGImageSourceCopyPropertiesAtIndex(source, 0, nil) as? [CFString: Any],
           let raw = props[kCGImagePropertyOrientation] as? UInt32,
           let value = CGImagePropertyOrientation(rawValue: raw) {
            orientation = value
        }
        let request = VNCoreMLRequest(model: model)
        request.imageCropAndScaleOption = .scaleFill
        try VNImageRequestHandler(cgImage: image, orientation: orientation).perform([request])
        let observations = try XCTUnwrap(request.results as? [VNClassificationObservation])
        var byLabel = [String: Double]()
        for o in observations { byLabel[o.identifier] = Double(o.confidence) }
        return labels.map { byLabel[$0] ?? 0 }
    }

    private func top(_ p: [Double], _ k: Int) -> [Int] {
        Array(p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }.prefix(k))
    }

    func testGoldenSetKeepsTheReferenceAnswers() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: try resource("golden/expected.json")))
        let coreml = try XCTUnwrap(expected.formats["coreml"])
        let tolerance = try XCTUnwrap(expected.tolerances[coreml.device_precision])
        let configuration = MLModelConfiguration()
        configuration.computeUnits = .all  // what apps use: CPU, GPU and Neural Engine
        let model = try VNCoreMLModel(for: CarSpotter(configuration: configuration).model)

        var appFlips = [String]()
        var appAgree = 0
        for photo in expected.photos {
            let reference = photo.probabilities
            let exact = try probabilities(model, try resource(photo.input), labels: expected.labels, applyOrientation: false)
            let maxDiff = zip(reference, exact).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(maxDiff, tolerance.max_abs_diff, "\(photo.input): max |dp| \(maxDiff)")
            let (r, q) = (top(reference, 3), top(exact, 3))
            for rank in 0..<min(3, r.count) where r[rank] != q[rank] {
                let nearTie = abs(reference[r[rank]] - reference[q[rank]]) < tolerance.tau
                XCTAssertTrue(nearTie, "\(photo.input): rank \(rank + 1) is \(expected.labels[q[rank]]), the reference's is \(expected.labels[r[rank]])")
                if !nearTie { break }
            }
            let app = try probabilities(model, try resource(photo.photo), labels: expected.labels, applyOrientation: true)
            let same = top(app, 1)[0] == r[0]
            appAgree += same ? 1 : 0
            if !same && photo.margin >= expected.app_path.min_margin {
                appFlips.append("\(photo.photo): \(expected.labels[top(app, 1)[0]]) instead of \(expected.labels[r[0]])")
            }
        }
        print("carspotter self-test: app path top-1 agreement \(appAgree)/\(expected.photos.count)")
        XCTAssertTrue(appFlips.isEmpty, "decisive photos flipped on the app path:\n" + appFlips.joined(separator: "\n"))
    }
}
