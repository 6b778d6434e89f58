import Foundation
import Hummingbird
import NIOCore

/// The web page and the OpenAPI document, read once at start-up from the module's resources.
///
/// A missing resource (a binary copied away from its build folder) makes only that route answer 500
/// with a message saying so; the API keeps working.
struct WebAssets: Sendable {
    static let names = ["index.html", "app.js", "style.css", "openapi.json"]
    private var files: [String: [UInt8]] = [:]

    static func load() -> WebAssets {
        var assets = WebAssets()
        guard let folder = resourceFolder() else { return assets }
        for name in names {
            if let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) {
                assets.files[name] = [UInt8](data)
            }
        }
        return assets
    }

    /// SwiftPM puts the resources beside the executable (or the test bundle) in
    /// `landmark_LandmarkService.resources`; `Bundle.module` would stop the process when they are absent.
    static func resourceFolder() -> URL? {
        let bundleName = "landmark_LandmarkService.resources"
        var candidates = [Bundle.main.bundleURL.appendingPathComponent(bundleName)]
        if let executable = Bundle.main.executableURL {
            candidates.append(executable.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(bundleName))
        }
        for candidate in candidates {
            let folder = candidate.appendingPathComponent("Web")
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("index.html").path) { return folder }
        }
        return nil
    }

    func bytes(_ name: String) -> [UInt8]? { files[name] }

    func response(_ name: String, type: String) throws(ServiceError) -> Response {
        guard let bytes = files[name] else {
            throw ServiceError(.internalServerError, "\(name) is missing: landmark_LandmarkService.resources must lie beside the landmark binary")
        }
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
