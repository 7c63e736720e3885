// The bundle's car classifier for iOS 16+ / macOS 13+ (`CarClassifier`; the module is `CarSpotter`): the photo
// resized with the reference resize (ported exactly) into the Core ML model's exact input, then Core ML directly; all
// of it off the main thread (an actor).
import CoreGraphics
import CoreML
import CoreVideo
import Foundation
import ImageIO

public actor CarClassifier {
    /// Labels, input side, threshold and "not a car" class of this bundle.
    public nonisolated let info: BundleInfo
    private let model: MLModel
    private let inputName: String
    private let probabilitiesName: String

    private init(info: BundleInfo, model: MLModel) throws {
        self.info = info
        self.model = model
        guard let input = model.modelDescription.inputDescriptionsByName.keys.first else {
            throw CarSpotterError.badOutput("the model has no input")
        }
        guard let probs = model.modelDescription.predictedProbabilitiesName else {
            throw CarSpotterError.badOutput("the model is not a classifier")
        }
        inputName = input
        probabilitiesName = probs
    }

    /// Load the package's model. The .mlpackage is compiled on first use (`MLModel.compileModel(at:)`, seconds)
    /// and the compiled model kept in the app's Caches folder, keyed by the model's digest.
    /// - Parameter configuration: compute units etc. (default `.all`: CPU, GPU and Neural Engine).
    /// - Throws: `CarSpotterError.missingResource` when the package lost a resource; Core ML's compile or load errors.
    public static func load(configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> CarClassifier {
        let info = try BundleInfo.load(from: .module)
        guard let source = Bundle.module.url(forResource: info.model, withExtension: nil) else {
            throw CarSpotterError.missingResource(info.model)
        }
        let compiled = try await compiledModel(source, key: info.modelSha256)
        let model: MLModel
        do {
            model = try await MLModel.load(contentsOf: compiled, configuration: configuration)
        } catch {  // a damaged cache entry: compile once more
            try? FileManager.default.removeItem(at: compiled)
            model = try await MLModel.load(contentsOf: try await compiledModel(source, key: info.modelSha256), configuration: configuration)
        }
        return try CarClassifier(info: info, model: model)
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

    /// Classify one photo.
    /// - Parameters:
    ///   - image: the photo as decoded (any size); pixels are read in its own RGB colour space, without colour
    ///     matching, as the reference decoder does
    ///   - orientation: its EXIF orientation (`CGImagePropertyOrientation`, from `kCGImagePropertyOrientation` of
    ///     `CGImageSourceCopyPropertiesAtIndex`; convert a `UIImage.Orientation` first, its numbering differs); all 8
    ///     values, mirrored ones included. Pass `.up` for an image a decoder already drew upright. The photo is read
    ///     whole and box-reduced here (`ReferenceResize.prepare`): do not downsample it first (e.g. with
    ///     `kCGImageSourceSubsampleFactor` or a thumbnail), which the reference does not do
    /// - Returns: the top 3, with `show` false below the bundle's threshold or for "not a car"
    /// - Throws: `CarSpotterError.badImage` when the image cannot be drawn into an 8-bit bitmap; Core ML errors.
    public func classify(_ image: CGImage, orientation: CGImagePropertyOrientation = .up) async throws -> Classification {
        let stored = try CarClassifier.packedPixels(of: image)
        let prepared = try ReferenceResize.prepare(stored.pixels, width: stored.width, height: stored.height,
                                                   channels: stored.channels, orientation: orientation.rawValue, size: info.size)
        let input = ReferenceResize.bilinear(prepared.pixels, width: prepared.width, height: prepared.height, size: info.size)
        return info.classification(try probabilities(input: input))
    }

    /// The model on one exact input: `size * size * 3` RGB bytes (row-major) -> probabilities 0...1 in label order.
    public func probabilities(input: [UInt8]) throws -> [Float] {
        let s = info.size
        guard input.count == s * s * 3 else { throw CarSpotterError.badImage("\(input.count) bytes is not \(s) x \(s) x 3") }
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
        return try info.labels.map { label in
            guard let p = byLabel[label] else { throw CarSpotterError.badOutput("no probability for \(label)") }
            return p
        }
    }

    /// The image's pixels as packed RGB bytes, drawn 1:1 into an 8-bit bitmap in the image's own RGB colour space (no
    /// colour matching; grey copied to the three channels; sRGB for CMYK) over opaque white. Core Graphics blends
    /// partly transparent pixels with its own rounding (within a level of the reference's Pillow formula); photos are opaque.
    /// - Throws: `CarSpotterError.badImage` when no bitmap context can be made for it.
    public static func packedPixels(of image: CGImage) throws -> PackedImage {
        let w = image.width, h = image.height
        if let grey = image.colorSpace, grey.model == .monochrome {  // grey copied to R, G and B, as Pillow converts it
            var g = [UInt8](repeating: 255, count: w * h)
            let drawn: Bool = g.withUnsafeMutableBytes { raw in
                guard let context = CGContext(data: raw.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w,
                                              space: grey, bitmapInfo: CGImageAlphaInfo.none.rawValue) else { return false }
                context.interpolationQuality = .none
                context.draw(image, in: CGRect(x: 0, y: 0, width: w, height: h))
                return true
            }
            if drawn {
                var rgb = [UInt8](repeating: 0, count: w * h * 3)
                for p in 0..<(w * h) { rgb[3 * p] = g[p]; rgb[3 * p + 1] = g[p]; rgb[3 * p + 2] = g[p] }
                return PackedImage(pixels: rgb, width: w, height: h, channels: 3)
            }
        }
        let own = image.colorSpace.flatMap { $0.model == .rgb ? $0 : nil }
        var rgba = [UInt8](repeating: 255, count: w * h * 4)  // opaque white
        let drawn: Bool = rgba.withUnsafeMutableBytes { raw in
            for space in [own, CGColorSpace(name: CGColorSpace.sRGB)].compactMap({ $0 }) {
                if let context = CGContext(data: raw.baseAddress, width: w, height: h, bitsPerComponent: 8, bytesPerRow: w * 4,
                                           space: space, bitmapInfo: CGImageAlphaInfo.premultipliedLast.rawValue) {
                    context.interpolationQuality = .none
                    context.draw(image, in: CGRect(x: 0, y: 0, width: w, height: h))
                    return true
                }
            }
            return false
        }
        guard drawn else { throw CarSpotterError.badImage("no 8-bit RGBA bitmap context for a \(w) x \(h) image") }
        // drawn over opaque white, so every alpha is 255: RGBA as it is (no second full-size copy; prepare's
        // compositing leaves opaque pixels unchanged)
        return PackedImage(pixels: rgba, width: w, height: h, channels: 4)
    }
}
