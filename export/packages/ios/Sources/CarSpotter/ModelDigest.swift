// The model digest every carspotter package recomputes before it loads a model delivered apart from the app
// (carspotter.json's `modelSha256` / `coreAIModelSha256`; Python: carspotter.contracts.bundle_facts.model_digest).
// A file: the SHA-256 of its bytes (`sha256sum FILE`). A folder (.mlpackage, .aimodel): the SHA-256 of the text
// `sha256sum` prints for its files, one line `<hex>  <path relative to the folder>\n` per file, the lines sorted by
// the path's UTF-8 bytes. Files are read in 1 MiB chunks (CryptoKit's SHA256, streamed), never whole.
import CryptoKit
import Foundation

enum ModelDigest {
    /// Bytes read at a time: 1 MiB.
    static let chunk = 1 << 20

    /// The digest of the model file or folder at `url`: 64 lower-case hex digits.
    /// - Throws: `CarSpotterError.modelUnreadable` when it is missing, not a file or folder, or cannot be read.
    static func sha256(of url: URL) throws -> String {
        var folder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &folder) else {
            throw CarSpotterError.modelUnreadable(url: url, why: "nothing is there")
        }
        guard folder.boolValue else { return try fileSha256(url) }
        var listing = ""
        for relative in try files(in: url) {
            listing += "\(try fileSha256(url.appendingPathComponent(relative)))  \(relative)\n"
        }
        return hex(SHA256.hash(data: Data(listing.utf8)))
    }

    /// The regular files under `folder`, as paths relative to it ("/" between components), sorted by their UTF-8
    /// bytes (`LC_ALL=C sort`). Symbolic links and folders are left out, as `find -type f` does.
    static func files(in folder: URL) throws -> [String] {
        guard let walk = FileManager.default.enumerator(atPath: folder.path) else {
            throw CarSpotterError.modelUnreadable(url: folder, why: "its folder cannot be listed")
        }
        var found: [String] = []
        while let relative = walk.nextObject() as? String {
            if (walk.fileAttributes?[.type] as? FileAttributeType) == .typeRegular { found.append(relative) }
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The SHA-256 of one file's bytes, read `chunk` bytes at a time.
    static func fileSha256(_ url: URL) throws -> String {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw CarSpotterError.modelUnreadable(url: url, why: error.localizedDescription)
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        do {
            while let data = try handle.read(upToCount: chunk), !data.isEmpty { hasher.update(data: data) }
        } catch {
            throw CarSpotterError.modelUnreadable(url: url, why: error.localizedDescription)
        }
        return hex(hasher.finalize())
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Check the model at `url` against the digest carspotter.json gives it.
    /// - Returns: the digest (the compiled model's cache key).
    /// - Throws: `CarSpotterError.modelDigestMismatch` when they differ; `.modelUnreadable` as `sha256(of:)`.
    @discardableResult
    static func verify(_ url: URL, expected: String) throws -> String {
        let found = try sha256(of: url)
        guard found == expected.lowercased() else {
            throw CarSpotterError.modelDigestMismatch(expected: expected, found: found, url: url)
        }
        return found
    }
}
