// The model from a Background Assets managed asset pack (iOS 26+ / macOS 26+), loaded through the same verified path
// as any model delivered apart from the app (`CarClassifier.load(modelURL:)`: its SHA-256 checked against
// carspotter.json before Core ML or Core AI sees it). The asset pack is described by Delivery/BackgroundAssets/
// Manifest.json beside this package (see README.md, "Shipping the model").
//
// API: https://developer.apple.com/documentation/backgroundassets/assetpackmanager (shared, assetPack(withID:),
// ensureLocalAvailability(of:), url(for:)). The app must also adopt the managed downloader extension Apple names on
// that page (ManagedDownloaderExtension, or StoreKit's StoreDownloaderExtension for Apple-hosted packs).
// Background Assets API: `assetPack(withID:)` (deprecated from iOS 27) and `ensureLocalAvailability(of:)` (deprecated
// from iOS 26.4 for `ensureLocalAvailability(of:requireLatestVersion:)`) are the calls every iOS 26 SDK has; they
// still compile, with a deprecation warning on newer SDKs.
#if canImport(BackgroundAssets) && !os(watchOS)
import BackgroundAssets
import CoreML
import Foundation
import System

extension CarClassifier {
    /// Download (if need be) the managed asset pack `assetPackID` and load the model in it, verified.
    /// - Parameters:
    ///   - assetPackID: the pack's ID, Manifest.json's `assetPackID`
    ///   - path: the model's path inside the packs' shared namespace (default: carspotter.json's `model`, where the
    ///     manifest's file selector puts it); `info.coreAIModel` for the Core AI model
    ///   - backend, configuration: as `load(modelURL:backend:configuration:)`
    /// - Throws: Background Assets' errors (`ManagedBackgroundAssetsError.assetPackNotFound(withID:)`, a failed
    ///   download); then as `load(modelURL:)`: `CarSpotterError.modelDigestMismatch` for a pack whose model is not
    ///   this package's.
    @available(iOS 26.0, macOS 26.0, tvOS 26.0, visionOS 26.0, *)
    public static func load(assetPackID: String, path: String? = nil, backend: Backend = .automatic,
                            configuration: MLModelConfiguration = MLModelConfiguration()) async throws -> CarClassifier {
        let manager = AssetPackManager.shared
        let pack = try await manager.assetPack(withID: assetPackID)
        try await manager.ensureLocalAvailability(of: pack)  // returns at once when the pack is already on the device
        let name = try path ?? BundleInfo.packaged().model
        let url = try manager.url(for: FilePath(name))       // a URL for this process only: not stored
        return try await load(modelURL: url, backend: backend, configuration: configuration)
    }
}
#endif
