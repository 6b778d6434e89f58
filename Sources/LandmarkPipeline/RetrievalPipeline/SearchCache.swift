import Foundation
import LandmarkStorage

/// Where search pipelines keep what they derive from an index (augmented descriptors, diffusion graphs,
/// predicted labels), and how much of it they keep.
///
/// Each setting a user tries writes a file that can be as large as the descriptor store, so the files
/// live in the index's `search-cache/` folder under a byte budget: after each write the least recently
/// used files beyond it are removed. A hit refreshes its file's time. Only files in that folder are
/// ever removed, and the folder is the tool's own; a read-only index just recomputes every time.
struct SearchCache {
    static let folderName = "search-cache"
    /// Room for a few derived copies of the store, and never less than 64 MB.
    static let minimumBudget = 64 << 20

    let folder: URL
    let budget: Int

    init(indexDirectory: URL, storeBytes: Int) {
        folder = indexDirectory.appendingPathComponent(Self.folderName, isDirectory: true)
        budget = max(Self.minimumBudget, 3 * storeBytes)
    }

    /// The file for `name`, its time refreshed if it exists (a hit keeps it from being trimmed).
    func url(_ name: String) -> URL {
        let url = folder.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: url.path) {
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: url.path)
        }
        return url
    }

    /// Writes `bytes` as `name`, then trims the folder to the budget; failures only mean a recompute.
    func store(_ bytes: [UInt8], as name: String) {
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard (try? DurableFile.write(bytes, to: folder.appendingPathComponent(name))) != nil else { return }
        trim(keeping: name)
    }

    /// Removes the least recently used files until the folder fits the budget (never `keeping`).
    func trim(keeping: String? = nil) {
        let fileManager = FileManager.default
        let names = (try? fileManager.contentsOfDirectory(atPath: folder.path)) ?? []
        var files: [(name: String, bytes: Int, used: Date)] = names.compactMap { name in
            guard !DurableFile.isTemporaryName(name),
                  let attributes = try? fileManager.attributesOfItem(atPath: folder.appendingPathComponent(name).path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { return nil }
            return (name, (attributes[.size] as? Int) ?? 0, (attributes[.modificationDate] as? Date) ?? .distantPast)
        }
        var total = files.reduce(0) { $0 + $1.bytes }
        files.sort { $0.used < $1.used }
        for file in files where total > budget && file.name != keeping {
            if (try? fileManager.removeItem(at: folder.appendingPathComponent(file.name))) != nil { total -= file.bytes }
        }
    }
}
