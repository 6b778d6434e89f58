import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The advisory lock a writer holds on an index directory (`flock` on its `IndexLayout.lockFileName` file), so
/// that two runs of `landmark index` — or an index run and a service adding images — never write the
/// same index at once. Readers do not take it: every file a writer replaces is renamed into place
/// whole, so searches keep working during an update.
///
/// The lock belongs to the open file, so the kernel releases it when the process ends however it
/// ends; a lock file left behind by a killed run locks nothing. The file holds the writer's process
/// number, for the message another writer prints.
package enum IndexLock {

    /// Runs `body` holding the write lock of `directory` (created when missing).
    /// - Throws: `.indexBusy` naming the directory and the process that holds the lock;
    ///   `.writeFailed` when the directory or its lock file cannot be created.
    package static func withLock<Result>(on directory: URL,
                                 _ body: () throws(PipelineError) -> Result) throws(PipelineError) -> Result {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(code: .writeFailed, file: directory.path, reason: "cannot create the directory: \(error.localizedDescription)")
        }
        let url = directory.appendingPathComponent(IndexLayout.lockFileName)
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw PipelineError(code: .writeFailed, file: url.path, reason: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let who = holder.flatMap { Int($0) }.map { "process \($0)" } ?? "another process"
            throw PipelineError(code: .indexBusy, file: directory.path,
                                reason: "is being written by \(who); wait for it to finish (readers are not blocked)")
        }
        let identity = Array("\(getpid())\n".utf8)
        if ftruncate(descriptor, 0) == 0 {
            _ = identity.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        }
        return try body()
    }
}
