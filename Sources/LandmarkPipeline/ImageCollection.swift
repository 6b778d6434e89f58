import Foundation

/// The photographs of a folder, as the indexer sees them.
public enum ImageCollection {
    /// File name extensions treated as images (case-insensitive). Other files are ignored silently;
    /// files with these extensions that cannot be decoded are reported as skipped.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Relative paths of every image below `directory` (recursively, hidden entries excluded), sorted
    /// so that every run — and every resumed run — sees the same order.
    public static func scan(_ directory: URL) throws(PipelineError) -> [String] {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PipelineError(code: .inputNotFound, file: directory.path, reason: "no such directory")
        }
        guard let enumerator = fileManager.enumerator(
            at: directory, includingPropertiesForKeys: [.isRegularFileKey],
            options: [.skipsHiddenFiles]) else {
            throw PipelineError(code: .inputNotFound, file: directory.path, reason: "cannot list the directory")
        }
        let basePath = directory.standardizedFileURL.resolvingSymlinksInPath().path
        var paths: [String] = []
        for case let url as URL in enumerator {
            guard imageExtensions.contains(url.pathExtension.lowercased()) else { continue }
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey])
            guard values?.isRegularFile == true else { continue }
            let fullPath = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard fullPath.hasPrefix(basePath + "/") else { continue }
            paths.append(String(fullPath.dropFirst(basePath.count + 1)))
        }
        return paths.sorted()
    }
}
