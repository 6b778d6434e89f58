import Foundation

/// A private folder for the photographs requests carry, so that they reach the pipeline through the
/// same path as the command line's (and give the same results).
///
/// The folder has a unique name and a marker file; each upload is written under a fresh name, read by
/// the job, and removed when the job ends. Closing the spool removes the folder, and only if the marker
/// shows it is the spool's own: nothing the service did not create is ever deleted.
public final class UploadSpool: Sendable {
    public let directory: URL
    static let markerName = ".landmark-serve-spool"

    /// Creates the folder under `parent` (the system's temporary folder by default), readable only by us.
    public init(parent: URL = FileManager.default.temporaryDirectory) throws(ServiceError) {
        let name = "landmark-serve-\(getpid())-\(UUID().uuidString.prefix(8))"
        directory = parent.appendingPathComponent(name, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            try Data().write(to: directory.appendingPathComponent(Self.markerName))
        } catch {
            throw ServiceError(.internalServerError, "cannot create the upload folder \(directory.path): \(error.localizedDescription)")
        }
    }

    /// Writes `bytes` to a fresh file, runs `body` on it, then removes the file.
    public func withFile<Value>(_ bytes: [UInt8], body: (URL) throws -> Value) throws -> Value {
        let url = directory.appendingPathComponent(UUID().uuidString + ".upload")
        do {
            try Data(bytes).write(to: url)
        } catch {
            throw ServiceError(.internalServerError, "cannot store the upload: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: url) }
        return try body(url)
    }

    /// Removes the folder, if it is still ours.
    public func close() {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(Self.markerName).path) else { return }
        try? FileManager.default.removeItem(at: directory)
    }
}
