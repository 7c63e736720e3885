// The Core ML backend (iOS 16+ / macOS 13+): the bundle's .mlpackage, compiled once and cached, fed the package's
// S x S RGB bytes as a BGRA pixel buffer of exactly the model's input size, so Core ML does not scale it. A model
// exported from a run with a localizer has a second output, "box" (4 values x0, y0, x1, y1 in 0...1 of the input),
// beside classLabel / classLabel_probs: two-pass recognition reads it.
import CoreML
import CoreVideo
import Foundation

struct CoreMLBackend {
    let model: MLModel
    let inputName: String
    let probabilitiesName: String
    /// The localizer's box output's name ("box"), or nil when the model has none (a run without a localizer).
    let boxName: String?

    /// The name of the localizer's box output in a model exported from a run with one.
    static let boxOutput = "box"

    /// Load the package's .mlpackage (`info.model`). It is compiled on first use (`MLModel.compileModel(at:)`,
    /// seconds) and the compiled model kept in the app's Caches folder, keyed by the model's digest.
    /// - Throws: `CarSpotterError.missingResource` when the package lost the model; Core ML's compile or load errors;
    ///   `CarSpotterError.badOutput` for a model that is not the bundle's classifier.
    static func load(info: BundleInfo, configuration: MLModelConfiguration) async throws -> CoreMLBackend {
        guard let source = Bundle.module.url(forResource: info.model, withExtension: nil) else {
            throw CarSpotterError.missingResource(info.model)
        }
        return try await load(source: source, key: info.modelSha256, configuration: configuration)
    }

    /// Load the .mlpackage at `source` (the package's, or one delivered apart from the app and verified by
    /// `CarClassifier.load(modelURL:)`), its compiled form cached under `key` (the model's digest).
    static func load(source: URL, key: String, configuration: MLModelConfiguration) async throws -> CoreMLBackend {
        let compiled = try await compiledModel(source, key: key)
        let model: MLModel
        do {
            model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        } catch {  // a damaged cache entry: compile once more
            try? FileManager.default.removeItem(at: compiled)
            model = try await MLModel.load(contentsOf: try await compiledModel(source, key: key), configuration: configuration)
        }
        guard let input = model.modelDescription.inputDescriptionsByName.keys.first else {
            throw CarSpotterError.badOutput("the model has no input")
        }
        guard let probs = model.modelDescription.predictedProbabilitiesName else {
            throw CarSpotterError.badOutput("the model is not a classifier")
        }
        let box = model.modelDescription.outputDescriptionsByName[boxOutput] == nil ? nil : boxOutput
        return CoreMLBackend(model: model, inputName: input, probabilitiesName: probs, boxName: box)
    }

    /// The compiled model in Caches/, moved into place whole (compileModel(at:) writes a temporary folder), so a
    /// killed app never leaves half a cache entry; two loads at once keep whichever landed first.
    private static func compiledModel(_ source: URL, key: String) async throws -> URL {
        let files = FileManager.default
        let caches = try files.url(for: .cachesDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let folder = caches.appendingPathComponent("CarSpotter", isDirectory: true)  // apart from the app's own caches
        try files.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appendingPathComponent("carspotter-\(key.prefix(16)).mlmodelc")
        if files.fileExists(atPath: target.path) { return target }
        let compiled = try await MLModel.compileModel(at: source)
        let staging = folder.appendingPathComponent("carspotter-\(UUID().uuidString).tmp")
        try files.moveItem(at: compiled, to: staging)
        do {
            try files.moveItem(at: staging, to: target)
        } catch {
            try? files.removeItem(at: staging)
            guard files.fileExists(atPath: target.path) else { throw error }
        }
        return target
    }

    /// The model on one exact input: `size * size * 3` RGB bytes (row-major) -> probabilities 0...1 in `labels` order.
    func probabilities(_ input: [UInt8], size s: Int, labels: [String]) throws -> [Float] {
        try outputs(input, size: s, labels: labels, box: false).probabilities
    }

    /// The model once on one exact input: probabilities 0...1 in `labels` order and, with `box`, the "box" output's
    /// values (4 for a localizer's; nil when the model has no "box" output), both from one prediction.
    /// - Throws: `CarSpotterError.badOutput` for a missing probability, or a "box" output that is not a multi-array.
    func outputs(_ input: [UInt8], size s: Int, labels: [String], box: Bool) throws -> (probabilities: [Float], box: [Float]?) {
        var made: CVPixelBuffer?
        let attributes = [kCVPixelBufferCGImageCompatibilityKey: true, kCVPixelBufferCGBitmapContextCompatibilityKey: true] as CFDictionary
        guard CVPixelBufferCreate(kCFAllocatorDefault, s, s, kCVPixelFormatType_32BGRA, attributes, &made) == kCVReturnSuccess,
              let buffer = made else { throw CarSpotterError.badImage("no \(s) x \(s) pixel buffer") }
        CVPixelBufferLockBaseAddress(buffer, [])
        let base = CVPixelBufferGetBaseAddress(buffer)!.assumingMemoryBound(to: UInt8.self)
        let stride = CVPixelBufferGetBytesPerRow(buffer)
        for y in 0..<s {
            for x in 0..<s {
                let o = y * stride + x * 4, i = (y * s + x) * 3
                base[o] = input[i + 2]; base[o + 1] = input[i + 1]; base[o + 2] = input[i]; base[o + 3] = 255
            }
        }
        CVPixelBufferUnlockBaseAddress(buffer, [])
        // The buffer is exactly the model's input size: Core ML only reorders BGRA to the model's RGB, no scaling.
        let features = try MLDictionaryFeatureProvider(dictionary: [inputName: MLFeatureValue(pixelBuffer: buffer)])
        let output = try model.prediction(from: features)
        guard let dict = output.featureValue(for: probabilitiesName)?.dictionaryValue else {
            throw CarSpotterError.badOutput("no \(probabilitiesName) dictionary")
        }
        var byLabel: [String: Float] = [:]
        for (key, value) in dict { if let label = key as? String { byLabel[label] = value.floatValue } }
        let probs: [Float] = try labels.map { label in
            guard let p = byLabel[label] else { throw CarSpotterError.badOutput("no probability for \(label)") }
            return p
        }
        guard box, let name = boxName else { return (probs, nil) }
        guard let values = output.featureValue(for: name)?.multiArrayValue else {
            throw CarSpotterError.badOutput("the \(name) output is not a multi-array")
        }
        return (probs, (0..<values.count).map { values[$0].floatValue })
    }
}
