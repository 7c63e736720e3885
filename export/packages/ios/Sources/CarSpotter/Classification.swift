// What the app gets back, and the bundle facts it needs (carspotter.json, a package resource: the same file the
// Android and npm packages read).
import Foundation

/// One class: its index in the model's output, its label, its probability 0...1.
public struct Guess: Sendable, Equatable {
    public let index: Int
    public let label: String
    public let probability: Float
}

/// The answer for one photo.
public struct Classification: Sendable {
    /// The 3 most probable classes, most probable first.
    public let top: [Guess]
    /// False when the top-1's probability is below the bundle's threshold or it is the "not a car" class: ask for a
    /// closer photo instead of naming a car.
    public let show: Bool
    public let notACar: Bool
    /// Every class's probability 0...1, in label order.
    public let probabilities: [Float]
    public var best: Guess { top[0] }
}

/// The bundle facts (carspotter.json): name, input side, labels in the model's output order, threshold, "not a car"
/// class, model resource name and the SHA-256 of its files, and the Core AI model's (null when the bundle has none).
public struct BundleInfo: Sendable, Decodable {
    public let name: String
    public let size: Int
    public let labels: [String]
    public let threshold: Float?
    public let notACar: String?
    public let model: String
    /// SHA-256 of the model's files (the compiled model's cache key).
    public let modelSha256: String
    /// The Core AI model's resource name (a `.aimodel` beside the Core ML model, run on iOS 27+ / macOS 27+), or nil
    /// when the bundle has none.
    public let coreAIModel: String?
    /// SHA-256 of the Core AI model's files, or nil.
    public let coreAIModelSha256: String?

    /// This package's own bundle facts (its carspotter.json resource).
    /// - Throws: as `load(from:)`.
    public static func packaged() throws -> BundleInfo { try load(from: .module) }

    /// Read from the package's resources.
    /// - Throws: `CarSpotterError.missingResource` or a decoding error naming the key.
    public static func load(from bundle: Bundle) throws -> BundleInfo {
        guard let json = bundle.url(forResource: "carspotter", withExtension: "json") else {
            throw CarSpotterError.missingResource("carspotter.json")
        }
        return try JSONDecoder().decode(BundleInfo.self, from: Data(contentsOf: json))
    }

    /// The answer for a probability vector: top 3, threshold and "not a car" applied.
    public func classification(_ probs: [Float]) -> Classification {
        let top = ParityRule.topk(probs, min(3, probs.count)).map { Guess(index: $0, label: labels[$0], probability: probs[$0]) }
        let notCar = notACar != nil && top[0].label == notACar
        let show = !notCar && (threshold.map { top[0].probability >= $0 } ?? true)
        return Classification(top: top, show: show, notACar: notCar, probabilities: probs)
    }
}

public enum CarSpotterError: Error, CustomStringConvertible {
    case missingResource(String)
    case badImage(String)
    case badOutput(String)
    /// The backend asked for (`CarClassifier.load(backend:)`) cannot run here or has no model in this bundle.
    case backendUnavailable(String)
    /// A model delivered apart from the app (`CarClassifier.load(modelURL:)`) is not the one this package was built
    /// for: its SHA-256 (`found`) is not carspotter.json's (`expected`). Damaged, truncated or replaced: do not load it.
    case modelDigestMismatch(expected: String, found: String, url: URL)
    /// A model delivered apart from the app cannot be checked: missing, unreadable, or not a .mlpackage / .aimodel.
    case modelUnreadable(url: URL, why: String)

    public var description: String {
        switch self {
        case .missingResource(let name): return "carspotter: \(name) is not in the package's resources; re-add the bundle's ios/ package"
        case .badImage(let why): return "carspotter: cannot read the image (\(why))"
        case .badOutput(let why): return "carspotter: unexpected model output (\(why)); is this the bundle's model?"
        case .backendUnavailable(let why): return "carspotter: the Core AI backend cannot be used: \(why); load with .automatic or .coreML"
        case .modelDigestMismatch(let expected, let found, let url):
            return "carspotter: refused \(url.lastPathComponent): its sha256 is \(found), carspotter.json expects \(expected) "
                + "(damaged, incomplete or another model); download it again"
        case .modelUnreadable(let url, let why): return "carspotter: cannot check the model at \(url.path): \(why)"
        }
    }
}
