// A model delivered apart from the app (`CarClassifier.load(modelURL:)`): the package's own .mlpackage copied out
// loads and answers as the packaged one; a copy with one byte changed, or with a file added, is refused with
// `CarSpotterError.modelDigestMismatch` before Core ML sees it. No golden set needed: these run for every bundle.
import CoreML
import Foundation
import XCTest
@testable import CarSpotter

final class DeliveredModelTests: XCTestCase {
    /// A fresh copy of the package's Core ML model in a temporary folder (removed after the test).
    private func copiedModel() throws -> (BundleInfo, URL) {
        let info = try BundleInfo.packaged()
        let source = try XCTUnwrap(CarClassifier.packagedModelURL(info.model), "the package lost \(info.model)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("carspotter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent(info.model)
        try FileManager.default.copyItem(at: source, to: copy)
        return (info, copy)
    }

    /// The largest file of a model folder (its weights), or the file itself.
    private func largestFile(_ model: URL) throws -> URL {
        var best = model
        var bestSize = -1
        for relative in try ModelDigest.files(in: model) {
            let file = model.appendingPathComponent(relative)
            let size = try file.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0
            if size > bestSize { best = file; bestSize = size }
        }
        return best
    }

    private func assertRefused(_ url: URL, expected: String, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await CarClassifier.load(modelURL: url, backend: .coreML)
            XCTFail("a changed model was loaded", file: file, line: line)
        } catch CarSpotterError.modelDigestMismatch(let wanted, let found, let at) {
            XCTAssertEqual(wanted, expected, file: file, line: line)
            XCTAssertNotEqual(found, expected, file: file, line: line)
            XCTAssertEqual(at, url, file: file, line: line)
            let text = String(describing: CarSpotterError.modelDigestMismatch(expected: wanted, found: found, url: at))
            XCTAssertTrue(text.contains(wanted) && text.contains(found) && !text.contains("\n"), text, file: file, line: line)
        } catch {
            XCTFail("refused with another error: \(error)", file: file, line: line)
        }
    }

    /// Swift computes the digest Python wrote (carspotter.contracts.bundle_facts.model_digest).
    func testThePackagedModelsDigestIsCarspotterJsons() throws {
        let info = try BundleInfo.packaged()
        let model = try XCTUnwrap(CarClassifier.packagedModelURL(info.model))
        XCTAssertEqual(try ModelDigest.sha256(of: model), info.modelSha256)
        if let name = info.coreAIModel, let expected = info.coreAIModelSha256 {
            XCTAssertEqual(try ModelDigest.sha256(of: try XCTUnwrap(CarClassifier.packagedModelURL(name))), expected)
        }
    }

    func testAnIntactCopyLoadsAndAnswersAsThePackagedModel() async throws {
        let (info, copy) = try copiedModel()
        let delivered = try await CarClassifier.load(modelURL: copy)
        XCTAssertEqual(delivered.backend, .coreML)
        let input = (0..<(info.size * info.size * 3)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 7)) }
        let packaged = try await CarClassifier.load(backend: .coreML).probabilities(input: input)
        let fromCopy = try await delivered.probabilities(input: input)
        // the same model (compiled once: the cache is keyed by the verified digest), so the same answer
        XCTAssertEqual(ParityRule.topk(fromCopy, 3), ParityRule.topk(packaged, 3))
        XCTAssertLessThanOrEqual(zip(fromCopy, packaged).map { abs($0 - $1) }.max() ?? 1, 1e-4)
    }

    func testACopyWithOneByteChangedIsRefused() async throws {
        let (info, copy) = try copiedModel()
        let target = try largestFile(copy)
        let handle = try FileHandle(forUpdating: target)
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        let byte = try XCTUnwrap(handle.read(upToCount: 1)).first ?? 0
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data([byte ^ 0x01]))
        try handle.close()
        await assertRefused(copy, expected: info.modelSha256)
    }

    func testACopyWithAFileAddedIsRefused() async throws {
        let (info, copy) = try copiedModel()
        try XCTSkipIf(try largestFile(copy) == copy, "the model is one file: nothing can be added inside it")
        try Data("x".utf8).write(to: copy.appendingPathComponent("extra.bin"))
        await assertRefused(copy, expected: info.modelSha256)
    }

    func testAModelOfAnotherKindIsRefusedInOneLine() async throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("model.mlmodelc")
        do {
            _ = try await CarClassifier.load(modelURL: url)
            XCTFail("an .mlmodelc was loaded unverified")
        } catch CarSpotterError.modelUnreadable(let at, let why) {
            XCTAssertEqual(at, url)
            XCTAssertTrue(why.contains(".mlpackage"), why)
        }
    }
}
