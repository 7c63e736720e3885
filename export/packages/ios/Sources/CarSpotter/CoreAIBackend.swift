// The Core AI backend (iOS 27+ / macOS 27+): the bundle's .aimodel (carspotter.json's `coreAIModel`) run through
// Apple's Core AI framework on the same S x S RGB bytes the Core ML backend gets from the package's reference resize.
// The Core AI code is compiled only with an SDK that has the framework (Xcode 27) and where Swift has Float16 (not
// on Intel Macs), and is called only behind `#available`, so the package still builds with older Xcodes and runs on
// iOS 16 / macOS 13 with Core ML as before.
//
// The model: one function `main`, input `image` [1, S, S, 3] (NHWC, RGB, raw 0...255; float32, or float16 in the fp16
// variant: read from the input's descriptor at load), output `probabilities` [1, C] (float32 or float16, label order),
// and, in a file exported from a run with a localizer, `box` [1, 4] (x0, y0, x1, y1 in 0...1 of the input).
// API: https://developer.apple.com/documentation/coreai (AIModel, InferenceFunction, NDArray). Where Apple's pages do
// not settle a detail, the line says so in a `// Core AI API:` comment.
// Core AI API: the symbol pages list iOS, iPadOS, tvOS, visionOS and watchOS 27; the framework page adds macOS 27,
// so macOS 27 is assumed for every symbol used here.
#if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
import CoreAI
#endif
import Foundation

/// A backend that runs the model on one exact input, off the classifier's actor.
protocol ProbabilityRunner: Sendable {
    /// `size * size * 3` RGB bytes, row-major -> probabilities 0...1 in label order.
    func probabilities(_ input: [UInt8]) async throws -> [Float]
    /// Whether the model has the localizer's "box" output (a file exported from a run with `carspotter localize`).
    var hasBox: Bool { get }
    /// One run: probabilities in label order and, with `box`, the "box" output's values (nil without one).
    func outputs(_ input: [UInt8], box: Bool) async throws -> (probabilities: [Float], box: [Float]?)
}

extension ProbabilityRunner {
    var hasBox: Bool { false }

    func outputs(_ input: [UInt8], box: Bool) async throws -> (probabilities: [Float], box: [Float]?) {
        (try await probabilities(input), nil)
    }
}

/// Whether Core AI can run here, and its runner; usable on every OS (the Core AI types themselves are not).
enum CoreAISupport {
    /// True on iOS 27+ / macOS 27+ when the package was built with an SDK that has Core AI.
    static var isAvailable: Bool {
        #if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        if #available(iOS 27.0, macOS 27.0, tvOS 27.0, watchOS 27.0, visionOS 27.0, *) { return true }
        #endif
        return false
    }

    /// Why Core AI cannot run here (when `isAvailable` is false).
    static var unavailableReason: String {
        #if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        return "Core AI needs iOS 27 / macOS 27 or later; this is \(ProcessInfo.processInfo.operatingSystemVersionString)"
        #else
        return "this build has no Core AI (it needs an Xcode whose SDK has Core AI, Xcode 27, and an Apple silicon or iOS target)"
        #endif
    }

    /// Load the `.aimodel` at `url` for a `size` x `size` input and `classes` outputs.
    /// - Throws: `CarSpotterError.backendUnavailable` where Core AI cannot run; Core AI's specialisation or load
    ///   errors; `CarSpotterError.badOutput` for a model without the `main` / `image` / `probabilities` signature.
    static func load(_ url: URL, size: Int, classes: Int) async throws -> any ProbabilityRunner {
        #if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
        if #available(iOS 27.0, macOS 27.0, tvOS 27.0, watchOS 27.0, visionOS 27.0, *) {
            return try await CoreAIBackend.load(url, size: size, classes: classes)
        }
        #endif
        throw CarSpotterError.backendUnavailable(unavailableReason)
    }
}

#if canImport(CoreAI) && !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
@available(iOS 27.0, macOS 27.0, tvOS 27.0, watchOS 27.0, visionOS 27.0, *)
struct CoreAIBackend: ProbabilityRunner {
    static let functionName = "main"
    static let inputName = "image"
    static let outputName = "probabilities"
    static let boxName = "box"

    /// Owns the weights and buffers; `Sendable`, and runs concurrently from several tasks.
    let function: InferenceFunction
    let size: Int
    let classes: Int
    /// The input's element type: float16 (the fp16 variant) or float32.
    let halfInput: Bool
    /// The model has the localizer's "box" output [1, 4].
    let hasBox: Bool

    /// `AIModel(contentsOf:)` specialises the model for this device on first use and caches the result (Core AI's
    /// default cache), then `main` is loaded and its signature checked against the bundle's size and labels.
    static func load(_ url: URL, size: Int, classes: Int) async throws -> CoreAIBackend {
        let model = try await AIModel(contentsOf: url)
        guard let function = try model.loadFunction(named: functionName) else {
            throw CarSpotterError.badOutput("the Core AI model has no function \"\(functionName)\" (it has \(model.functionNames))")
        }
        let signature = function.descriptor
        guard case .ndArray(let input)? = signature.inputDescriptor(of: inputName) else {
            throw CarSpotterError.badOutput("the Core AI model has no array input \"\(inputName)\" (inputs \(signature.inputNames))")
        }
        guard fits(input.shape, [1, size, size, 3]) else {
            throw CarSpotterError.badOutput("Core AI input \"\(inputName)\" is \(input.shape), not [1, \(size), \(size), 3]")
        }
        let halfInput: Bool
        switch input.scalarType {
        case .float32: halfInput = false
        case .float16: halfInput = true  // Core AI API: `.float16` assumed (Apple's pages show `.float32` and `.bfloat16`)
        default: throw CarSpotterError.badOutput("Core AI input \"\(inputName)\" holds \(input.scalarType), not float32 or float16")
        }
        guard case .ndArray(let output)? = signature.outputDescriptor(of: outputName) else {
            throw CarSpotterError.badOutput("the Core AI model has no array output \"\(outputName)\" (outputs \(signature.outputNames))")
        }
        guard fits(output.shape, [1, classes]) else {
            throw CarSpotterError.badOutput("Core AI output \"\(outputName)\" is \(output.shape), not [1, \(classes)]")
        }
        var hasBox = false
        if case .ndArray(let box)? = signature.outputDescriptor(of: boxName) {
            guard fits(box.shape, [1, 4]) else {
                throw CarSpotterError.badOutput("Core AI output \"\(boxName)\" is \(box.shape), not [1, 4]")
            }
            hasBox = true
        }
        return CoreAIBackend(function: function, size: size, classes: classes, halfInput: halfInput, hasBox: hasBox)
    }

    /// A descriptor's shape against the wanted one; -1 (a dynamic size) fits any length.
    private static func fits(_ shape: [Int], _ wanted: [Int]) -> Bool {
        shape.count == wanted.count && zip(shape, wanted).allSatisfy { $0 == $1 || $0 == -1 }
    }

    func probabilities(_ input: [UInt8]) async throws -> [Float] {
        try await outputs(input, box: false).probabilities
    }

    func outputs(_ input: [UInt8], box: Bool) async throws -> (probabilities: [Float], box: [Float]?) {
        let shape = [1, size, size, 3]
        // The bytes as they are, in the input's element type: the model rescales inside, and 0...255 is exact in
        // float16. A contiguous row-major array; Core AI copies it to the specialised layout if that prefers another.
        let image: NDArray
        if halfInput {
            // Core AI API: Swift's Float16 assumed to be the scalar that init(scalars:shape:) maps to `.float16`
            image = NDArray(scalars: input.map { Float16($0) }, shape: shape)
        } else {
            image = NDArray(scalars: input.map { Float($0) }, shape: shape)
        }
        // Core AI API: Outputs.remove(_:) ("removes and returns") assumed mutating, hence `var`
        var outputs = try await function.run(inputs: [Self.inputName: image])
        guard let probs = outputs.remove(Self.outputName)?.ndArray else {
            throw CarSpotterError.badOutput("Core AI returned no \"\(Self.outputName)\" array (outputs \(Array(outputs.names)))")
        }
        guard probs.shape.reduce(1, *) == classes, probs.shape.last == classes else {
            throw CarSpotterError.badOutput("Core AI output \"\(Self.outputName)\" is \(probs.shape), not [1, \(classes)]")
        }
        let values = try Self.floats(probs, name: Self.outputName)
        guard box, hasBox else { return (values, nil) }
        guard let boxArray = outputs.remove(Self.boxName)?.ndArray else {
            throw CarSpotterError.badOutput("Core AI returned no \"\(Self.boxName)\" array (outputs \(Array(outputs.names)))")
        }
        return (values, try Self.floats(boxArray, name: Self.boxName))
    }

    /// The values along the last axis of a [1, N] float32 or float16 array, as Float.
    private static func floats(_ array: NDArray, name: String) throws -> [Float] {
        switch array.scalarType {
        case .float32: return try read(array, as: Float.self) { $0 }
        case .float16: return try read(array, as: Float16.self) { Float($0) }
        default: throw CarSpotterError.badOutput("Core AI output \"\(name)\" holds \(array.scalarType), not float32 or float16")
        }
    }

    /// The values along the last axis of a [1, C] array, whatever its strides (in elements).
    private static func read<T: BitwiseCopyable>(_ array: NDArray, as type: T.Type, _ float: (T) -> Float) throws -> [Float] {
        let count = array.shape.last ?? 0
        let step = array.strides.last ?? 1
        return try array.view(as: type).withUnsafePointer { first, _, _ in
            (0..<count).map { float(first[$0 * step]) }
        }
    }
}
#endif
