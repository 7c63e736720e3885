// The bundle's car classifier for iOS 16+ / macOS 13+ (`CarClassifier`; the module is named after the bundle,
// `CarSpotter<Name>`, e.g. `CarSpotterCars10`, so two bundles' packages live in one app): the photo
// resized with the reference resize (ported exactly) into the model's exact input, then the model run directly; all
// of it off the main thread (an actor). The model runs in Core AI (the bundle's .aimodel) on iOS 27+ / macOS 27+ where
// the bundle has one (CoreAIBackend.swift), and in Core ML (the .mlpackage) otherwise (CoreMLBackend.swift).
// `twoPass` runs the same path twice, the model's "box" output (a bundle exported from a run with a localizer)
// choosing the region of the second pass (TwoPass.swift).
import CoreGraphics
import CoreML
import Foundation
import ImageIO

/// Which framework runs the model.
public enum Backend: String, Sendable, CaseIterable {
    /// Core AI where it can run (iOS 27+ / macOS 27+, built with Xcode 27) and the bundle has a Core AI model;
    /// Core ML otherwise.
    case automatic
    /// Core ML and the bundle's .mlpackage (iOS 16+ / macOS 13+).
    case coreML
    /// Core AI and the bundle's .aimodel (iOS 27+ / macOS 27+).
    case coreAI
}

public actor CarClassifier {
    /// Labels, input side, threshold and "not a car" class of this bundle.
    public nonisolated let info: BundleInfo
    /// The backend in use: `.coreAI` or `.coreML` (never `.automatic`).
    public nonisolated let backend: Backend
    /// Whether `twoPass` can run: the model has the localizer's "box" output (a Core ML or Core AI model exported from a
    /// run with `carspotter localize`).
    public nonisolated let hasBox: Bool
    private let runner: Runner

    private enum Runner {
        case coreML(CoreMLBackend)
        case coreAI(any ProbabilityRunner)
    }

    private init(info: BundleInfo, runner: Runner) {
        self.info = info
        self.runner = runner
        switch runner {
        case .coreML(let model):
            backend = .coreML
            hasBox = model.boxName != nil
        case .coreAI(let model):
            backend = .coreAI
            hasBox = model.hasBox
        }
    }

    /// True where Core AI can run this package: iOS 27+ / macOS 27+, built with an SDK that has Core AI (Xcode 27).
    public static var isCoreAIAvailable: Bool { CoreAISupport.isAvailable }

    /// Load the package's model.
    /// - Parameters:
    ///   - backend: `.automatic` (default): Core AI when `isCoreAIAvailable` and the bundle has a Core AI model
    ///     (`info.coreAIModel`), Core ML otherwise; `.coreML` or `.coreAI` force one.
    ///   - configuration: Core ML's compute units etc. (default `.all`: CPU, GPU and Neural Engine); Core ML only.
    ///     Core ML compiles the .mlpackage on first use (seconds) and keeps it in the app's Caches folder, keyed by
    ///     the model's digest; Core AI specialises the .aimodel on first use and caches it itself.
    /// - Throws: `CarSpotterError.backendUnavailable` for `.coreAI` where Core AI cannot run or the bundle has no
    ///   Core AI model; `CarSpotterError.missingResource` when the package lost a resource; the framework's compile,
    ///   specialisation or load errors.
    public static func load(backend: Backend = .automatic,
                            configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> CarClassifier {
        let info = try BundleInfo.packaged()
        if backend == .coreAI {
            guard CoreAISupport.isAvailable else { throw CarSpotterError.backendUnavailable(CoreAISupport.unavailableReason) }
            guard info.coreAIModel != nil else {
                throw CarSpotterError.backendUnavailable("this bundle has no Core AI model (carspotter.json's coreAIModel is null)")
            }
        }
        if backend != .coreML, CoreAISupport.isAvailable, let name = info.coreAIModel {
            guard let url = Bundle.module.url(forResource: name, withExtension: nil) else { throw CarSpotterError.missingResource(name) }
            let runner = try await CoreAISupport.load(url, size: info.size, classes: info.labels.count)
            return CarClassifier(info: info, runner: .coreAI(runner))
        }
        return CarClassifier(info: info, runner: .coreML(try await CoreMLBackend.load(info: info, configuration: configuration)))
    }

    /// Load a model delivered apart from the app (a Background Assets asset pack, the app's own download) after
    /// checking it is this package's: its SHA-256 (files streamed, `ModelDigest`) must be carspotter.json's
    /// `modelSha256` (a `.mlpackage`, run in Core ML) or `coreAIModelSha256` (an `.aimodel`, Core AI, iOS 27+ / macOS
    /// 27+). carspotter.json and the labels stay in the package (a few KB); the model may leave it.
    /// - Parameters:
    ///   - modelURL: the `.mlpackage` or `.aimodel` folder (or file) on this device; its extension picks the backend
    ///   - backend: `.automatic` (default) follows the file; `.coreML` or `.coreAI` must match it
    ///   - configuration: Core ML's compute units etc.; the compiled model is cached under the verified digest
    /// - Throws: `CarSpotterError.modelDigestMismatch(expected:found:url:)` for a damaged, incomplete or other model
    ///   (nothing of it is loaded); `.modelUnreadable` when it is missing, unreadable, of another kind or not the
    ///   backend asked for; `.backendUnavailable` for an `.aimodel` where Core AI cannot run or the bundle has none;
    ///   the framework's compile or load errors.
    /// Cost: one full read of the model's files (its size in MiB, 1 MiB at a time) before `load(backend:)`'s work.
    public static func load(modelURL: URL, backend: Backend = .automatic,
                            configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> CarClassifier {
        let info = try BundleInfo.packaged()
        switch modelURL.pathExtension.lowercased() {
        case "mlpackage":
            guard backend != .coreAI else {
                throw CarSpotterError.modelUnreadable(url: modelURL, why: "a Core ML model cannot run with backend .coreAI; pass the .aimodel")
            }
            let key = try ModelDigest.verify(modelURL, expected: info.modelSha256)
            let model = try await CoreMLBackend.load(source: modelURL, key: key, configuration: configuration)
            return CarClassifier(info: info, runner: .coreML(model))
        case "aimodel":
            guard backend != .coreML else {
                throw CarSpotterError.modelUnreadable(url: modelURL, why: "a Core AI model cannot run with backend .coreML; pass the .mlpackage")
            }
            guard let expected = info.coreAIModelSha256 else {
                throw CarSpotterError.backendUnavailable("this bundle has no Core AI model (carspotter.json's coreAIModelSha256 is null)")
            }
            guard CoreAISupport.isAvailable else { throw CarSpotterError.backendUnavailable(CoreAISupport.unavailableReason) }
            try ModelDigest.verify(modelURL, expected: expected)
            let runner = try await CoreAISupport.load(modelURL, size: info.size, classes: info.labels.count)
            return CarClassifier(info: info, runner: .coreAI(runner))
        default:
            throw CarSpotterError.modelUnreadable(url: modelURL, why: "not a .mlpackage or .aimodel, the models carspotter.json gives a digest for")
        }
    }

    /// The package's own model resource (`info.model` or `info.coreAIModel`), or nil when the package lacks it.
    static func packagedModelURL(_ name: String) -> URL? { Bundle.module.url(forResource: name, withExtension: nil) }

    /// Classify one photo, or the region of interest `roi` of it.
    /// - Parameters:
    ///   - image: the photo as decoded (any size), as stored: not rotated. Pixels are read in its own RGB colour space,
    ///     without colour matching, as the reference decoder does
    ///   - orientation: its EXIF orientation (`CGImagePropertyOrientation`, from `kCGImagePropertyOrientation` of
    ///     `CGImageSourceCopyPropertiesAtIndex`); all 8 values, mirrored ones included. There is no default: a camera
    ///     photo's `UIImage.cgImage` is stored sideways (`.right` for a portrait shot), so pass the `UIImage` itself
    ///     (`classify(_ image: UIImage)`) or its orientation converted (`CarClassifier.exifOrientation(_:)`: the
    ///     numbering differs); `.up` only for an image a decoder already drew upright. The photo is read whole, a band
    ///     of rows at a time, and box-reduced here (`BandReduce.prepare`): do not downsample it first (e.g. with
    ///     `kCGImageSourceSubsampleFactor` or a thumbnail), which the reference does not do
    ///   - roi: the pixels to classify (nil: the whole photo), in pixels of the UPRIGHT photo (after `orientation`: a
    ///     portrait shot's ROI is in portrait coordinates, its upright size is `Roi.uprightSize(of:orientation:)`),
    ///     half-open, checked against it (`Roi.rule`: whole pixels, inside, nothing clipped). Its pixels are cut at full
    ///     resolution before the box pre-reduction, as the reference does (`carspotter predict --roi`), and only the
    ///     stored rows and columns that hold it are read. From the app's crop UI: `Roi(checking:_:_:_:width:height:)`
    ///     with whole pixels, or `Roi(pixelRect:uprightWidth:uprightHeight:)` for a fractional rect (top-left origin,
    ///     rounded outward, clamped); from Vision (normalized, bottom-left origin, e.g. an objectness saliency
    ///     request's `salientObjects[i].boundingBox` run with this image and orientation):
    ///     `Roi(visionRect:image:orientation:)`
    /// - Returns: the top 3, with `show` false below the bundle's threshold or for "not a car"
    /// - Throws: `RoiError` for a ROI that does not lie inside the upright photo (one line naming the ROI, the photo's
    ///   size and the rule); `CarSpotterError.badImage` when the image cannot be drawn into an 8-bit bitmap; Core ML or
    ///   Core AI errors.
    ///
    /// Memory: one band of rows (1 MiB as RGBA), the box sums and the reduced image: about 4 MB for a 48 MP photo at a
    /// 299 px input (computed from the sizes: BandReduce.swift), besides the decoded image the caller holds. Calls on one classifier run one at a time, in
    /// the order they came (a FIFO turn, held across the model's `await`): concurrent calls wait, they never add a second band.
    public func classify(_ image: CGImage, orientation: CGImagePropertyOrientation, roi: Roi? = nil) async throws -> Classification {
        await takeTurn()
        defer { endTurn() }
        let prepared = try BandReduce.prepare(try CGImageRows(image), orientation: orientation.rawValue, size: info.size,
                                              roi: roi)
        let input = ReferenceResize.bilinear(prepared.pixels, width: prepared.width, height: prepared.height, size: info.size)
        return info.classification(try await run(input))
    }

    /// Two-pass recognition of one photo, as carspotter's reference (carspotter.model.localizer.two_pass,
    /// `TwoPass.run(region:pass1:pass2:)`): pass 1 classifies the region (the whole upright photo, or `roi`) and reads
    /// the model's "box" output; `TwoPass.boxToRoi` makes a ROI of upright-photo pixels of the box; when
    /// `TwoPass.needsSecondPass` says the car is small, pass 2 classifies that ROI exactly as `classify` with that ROI
    /// would (its pixels cut at full resolution, then the reference resize), else the answer is pass 1's. Needs the
    /// "box" output (`hasBox`: a model exported from a run with `carspotter localize`; Core ML or Core AI).
    /// - Parameters:
    ///   - image: the photo as decoded, as stored (as `classify(_:orientation:roi:)`: do not downsample it)
    ///   - orientation: its EXIF orientation, as `classify(_:orientation:roi:)` (no default)
    ///   - roi: what pass 1 sees, in pixels of the UPRIGHT photo (`Roi.rule`, as `classify`'s); nil: the whole photo.
    ///     The box, and pass 2's ROI, stay inside it
    /// - Returns: `TwoPassClassification`: `classification` (pass 2's answer when it ran, else pass 1's), `box` (pass
    ///   1's "box" output, 4 values x0, y0, x1, y1 in 0...1 of the region), `roi` (the ROI pass 2 classified, upright
    ///   pixels, or nil), `found` (the ROI made of the box, or nil: no usable box), `passes` (1 or 2), `first` (pass 1's
    ///   answer). Costs one `classify`, two when the car is small
    /// - Throws: `TwoPassError.noBoxOutput` before the photo is read when the model has no "box" output (one line: export
    ///   from a run with a localizer); `TwoPassError.badBox`
    ///   for a "box" output of other than 4 values; as `classify(_:orientation:roi:)` otherwise.
    ///
    /// Memory as `classify` (each pass reads the photo a band of rows at a time, pass 2 only the ROI's rows and
    /// columns). Takes one turn for both passes, as `classify` does: concurrent calls wait.
    public func twoPass(_ image: CGImage, orientation: CGImagePropertyOrientation, roi: Roi? = nil) async throws
        -> TwoPassClassification {
        await takeTurn()
        defer { endTurn() }
        guard hasBox else {
            throw TwoPassError.noBoxOutput("this model has none")
        }
        let upright = Roi.uprightSize(of: image, orientation: orientation)
        let region: Roi
        if let roi = roi {
            region = try roi.checked(width: upright.width, height: upright.height)
        } else {
            region = try Roi.whole(width: upright.width, height: upright.height)
        }
        let rows = try CGImageRows(image)  // both passes read it
        let result = try await TwoPass.run(
            region: region,
            pass1: { r in try await self.run(self.input(rows, orientation: orientation, roi: r), box: true) },
            pass2: { r in try await self.run(self.input(rows, orientation: orientation, roi: r), box: false).probabilities })
        return TwoPassClassification(result, info: info)
    }

    /// The model's exact input for a region of the photo: the band path of `classify` (BandReduce.prepare with `roi`,
    /// then the reference's bilinear step).
    private nonisolated func input(_ rows: CGImageRows, orientation: CGImagePropertyOrientation, roi: Roi) throws -> [UInt8] {
        let prepared = try BandReduce.prepare(rows, orientation: orientation.rawValue, size: info.size, roi: roi)
        return ReferenceResize.bilinear(prepared.pixels, width: prepared.width, height: prepared.height, size: info.size)
    }

    /// The model on one exact input: `size * size * 3` RGB bytes (row-major) -> probabilities 0...1 in label order,
    /// from the backend in use (`backend`). Takes its turn as `classify` does.
    public func probabilities(input: [UInt8]) async throws -> [Float] {
        await takeTurn()
        defer { endTurn() }
        return try await run(input)
    }

    private func run(_ input: [UInt8]) async throws -> [Float] {
        try await run(input, box: false).probabilities
    }

    /// The model once on one exact input: probabilities in label order and, with `box`, the "box" output's values (nil
    /// when the model or the backend has none).
    private func run(_ input: [UInt8], box: Bool) async throws -> (probabilities: [Float], box: [Float]?) {
        let s = info.size
        guard input.count == s * s * 3 else { throw CarSpotterError.badImage("\(input.count) bytes is not \(s) x \(s) x 3") }
        switch runner {
        case .coreML(let model): return try model.outputs(input, size: s, labels: info.labels, box: box)
        case .coreAI(let model):
            let out = try await model.outputs(input, box: box)
            guard out.probabilities.count == info.labels.count else {
                throw CarSpotterError.badOutput("\(out.probabilities.count) probabilities for \(info.labels.count) labels")
            }
            return out
        }
    }

    // An actor runs one piece of a method at a time, but another call may start while one waits at an `await` (actor
    // reentrancy: the Core AI model call is one). The turn makes whole calls take turns, first come first served.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func takeTurn() async {
        if !busy {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }  // busy stays true: endTurn hands the turn over
    }

    private func endTurn() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    /// The image's pixels as packed RGB bytes, the whole image at once (for small images such as the golden set's
    /// exact inputs; `classify` reads bands instead: `CGImageRows`), drawn 1:1 into an 8-bit bitmap in the image's own RGB colour space (no
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
