import Foundation
import LandmarkStorage

/// Where `landmark index` may write, and the work folder it keeps its checkpoints in.
///
/// The tool deletes only what it created. Its work folder has a name a photo folder is unlikely to
/// have (`.landmark-work`) and a marker file inside; a folder of that name without the marker is
/// refused, never emptied. On success only the files the tool writes there (checkpoints, the skipped
/// list, its own temporary files, the marker) are removed, and the folder only if that leaves it
/// empty. An `--out` directory that is not empty must already be a landmark index (or an unfinished
/// one), so that pointing `--out` at a folder of photos is refused instead of filled.
package enum IndexWorkDirectory {
    /// Refuses `indexDirectory` when it exists, is not empty and holds nothing an index build makes.
    /// - Throws: `.invalidRequest` naming the directory and what to do.
    package static func checkIndexDirectory(_ indexDirectory: URL) throws(PipelineError) {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: indexDirectory.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path, reason: "is a file, not a directory; give --out a new or index directory")
        }
        let names: [String]
        do {
            names = try fileManager.contentsOfDirectory(atPath: indexDirectory.path)
        } catch {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path, reason: "cannot list it: \(error.localizedDescription)")
        }
        guard !names.isEmpty else { return }
        if isIndexOrUnfinishedIndex(indexDirectory, names: names) { return }
        // A sharded build killed before its shards.json: its shard directories are indexes.
        if names.contains(where: { $0.hasPrefix("shard-") && isIndexOrUnfinishedIndex(indexDirectory.appendingPathComponent($0), names: nil) }) {
            return
        }
        throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                            reason: "is not empty and is not a landmark index (no \(IndexManifest.fileName)); give --out a new or empty directory, "
                                + "so that nothing in it is overwritten")
    }

    /// The work folder inside `indexDirectory`, created with its marker when absent. Temporary files
    /// an earlier, killed run left there are removed.
    /// - Throws: `.invalidRequest` when a folder of that name exists without the marker, `.writeFailed`
    ///   when it cannot be created.
    static func open(in indexDirectory: URL) throws(PipelineError) -> URL {
        let fileManager = FileManager.default
        let directory = indexDirectory.appendingPathComponent(IndexLayout.workDirectoryName, isDirectory: true)
        if fileManager.fileExists(atPath: directory.path) {
            guard isOwnWorkDirectory(directory) else {
                throw PipelineError(code: .invalidRequest, file: directory.path,
                                    reason: "exists but was not created by landmark (no \(IndexLayout.workMarkerFileName) in it); move it away and run again")
            }
            for name in (try? fileManager.contentsOfDirectory(atPath: directory.path)) ?? [] where isTemporaryFile(name) {
                try? fileManager.removeItem(at: directory.appendingPathComponent(name))
            }
            return directory
        }
        do {
            try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
            try DurableFile.write(Data("Checkpoints of an unfinished `landmark index` run; removed when it completes.\n".utf8),
                                  to: directory.appendingPathComponent(IndexLayout.workMarkerFileName))
        } catch {
            throw PipelineError(code: .writeFailed, file: directory.path, reason: "cannot create the work folder: \(error.localizedDescription)")
        }
        return directory
    }

    /// Removes the files the tool wrote in its work folder, then the folder and its marker if nothing
    /// else is left.
    static func remove(_ directory: URL) {
        let fileManager = FileManager.default
        guard isOwnWorkDirectory(directory) else { return }
        for name in (try? fileManager.contentsOfDirectory(atPath: directory.path)) ?? [] where isOwnFile(name) {
            try? fileManager.removeItem(at: directory.appendingPathComponent(name))
        }
        // Anything else in it is someone else's: the folder (with its marker) then stays.
        if (try? fileManager.contentsOfDirectory(atPath: directory.path)) == [IndexLayout.workMarkerFileName] {
            try? fileManager.removeItem(at: directory.appendingPathComponent(IndexLayout.workMarkerFileName))
            try? fileManager.removeItem(at: directory)
        }
    }

    /// A manifest, a store (a first build killed before its manifest) or the tool's work folder.
    static func isIndexOrUnfinishedIndex(_ directory: URL, names: [String]?) -> Bool {
        let listed = names ?? (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        // The lock file alone: a first build killed right after taking the lock.
        let indexFiles: Set<String> = [IndexManifest.fileName, IndexLayout.storeFileName, ShardedIndexManifest.fileName, IndexLayout.lockFileName]
        return listed.contains(where: indexFiles.contains) || isOwnWorkDirectory(directory.appendingPathComponent(IndexLayout.workDirectoryName))
            || isOwnWorkDirectory(directory.appendingPathComponent(IndexLayout.distributedWorkDirectoryName))
    }

    package static func isOwnWorkDirectory(_ directory: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.fileExists(atPath: directory.appendingPathComponent(IndexLayout.workMarkerFileName).path)
    }

    /// Checkpoints, the skipped list and temporary files: the names the builder writes in the folder.
    static func isOwnFile(_ name: String) -> Bool {
        if name == IndexLayout.skippedFileName || isTemporaryFile(name) { return true }
        for (prefix, suffix) in [(IndexLayout.shardPrefix, ".lmd"), (IndexLayout.localShardPrefix, ".lmf")]
        where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            return name.dropFirst(prefix.count).dropLast(suffix.count).allSatisfy(\.isNumber)
        }
        return false
    }

    /// `.<name>.tmp-<pid>-<random>`, as `DurableFile` names them for every writer.
    static func isTemporaryFile(_ name: String) -> Bool {
        DurableFile.isTemporaryName(name)
    }
}
