import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure to write a file durably: the file it concerns and why, in words a user can act on.
public struct StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the operation was writing (its final name, not the temporary one).
    public var file: String
    public var reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}

/// Whole-file writes that a crash, a kill or a full disk cannot leave half done.
///
/// The bytes go to a temporary file beside the destination (same directory, so the rename cannot cross
/// file systems), are flushed to the disk, renamed over the destination, and the directory is flushed
/// so that the rename itself survives a power cut. Readers therefore see the old file or the complete
/// new one, never a mix; on failure the temporary file is removed and the destination is untouched.
public enum DurableFile {
    /// The prefix of the temporary files this writer creates, so that a cleanup can recognise its own
    /// leftovers (and nothing else) after a kill: `.<name>.tmp-<pid>-<random>`.
    public static func temporaryName(for url: URL) -> String {
        ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
    }

    /// Replaces (or creates) `url` with `data`, durably and atomically.
    /// - Throws: `StorageError` naming `url` when the directory is missing or not writable, the disk is
    ///   full, or the rename fails.
    public static func write(_ data: Data, to url: URL) throws(StorageError) {
        let result: Result<Void, StorageError> = data.withUnsafeBytes { bytes in
            Result { () throws(StorageError) in try write(bytes, to: url) }
        }
        try result.get()
    }

    /// Replaces (or creates) `url` with `bytes`, durably and atomically.
    public static func write(_ bytes: [UInt8], to url: URL) throws(StorageError) {
        let result: Result<Void, StorageError> = bytes.withUnsafeBytes { raw in
            Result { () throws(StorageError) in try write(raw, to: url) }
        }
        try result.get()
    }

    /// Replaces (or creates) `url` with `bytes`, durably and atomically.
    public static func write(_ bytes: UnsafeRawBufferPointer, to url: URL) throws(StorageError) {
        let directory = url.deletingLastPathComponent().path
        let temporaryPath = directory + "/" + temporaryName(for: url)
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StorageError(file: url.path, reason: "cannot create a file in \(directory): \(lastErrorText())")
        }
        var failure = writeAll(bytes, to: descriptor, file: url)
        if failure == nil, fsync(descriptor) != 0 {
            failure = StorageError(file: url.path, reason: "cannot flush the file to disk: \(lastErrorText())")
        }
        if close(descriptor) != 0, failure == nil {
            failure = StorageError(file: url.path, reason: "cannot close the written file: \(lastErrorText())")
        }
        if let failure {
            unlink(temporaryPath)
            throw failure
        }
        try commit(temporaryPath, to: url)
    }

    /// Moves a complete, flushed temporary file (named by `temporaryName(for:)`, in `url`'s directory)
    /// over `url` and flushes the directory: the last step of every durable write, including those of
    /// writers that stream their file (the descriptor and local-feature stores). On failure the
    /// temporary file is removed and `url` is untouched.
    public static func commit(_ temporaryPath: String, to url: URL) throws(StorageError) {
        guard rename(temporaryPath, url.path) == 0 else {
            let reason = "cannot move the written file into place: \(lastErrorText())"
            unlink(temporaryPath)
            throw StorageError(file: url.path, reason: reason)
        }
        synchronizeDirectory(url.deletingLastPathComponent().path)
    }

    /// Whether `name` is one of this writer's temporary files: `.<name>.tmp-<pid>-<random>`.
    public static func isTemporaryName(_ name: String) -> Bool {
        temporaryFileProcess(name) != nil
    }

    /// Removes the temporary files that writers killed earlier (a crash, kill -9, a full disk) left in
    /// `directory`, which can be as large as the files they were replacing. Only files of this writer's
    /// naming whose process is gone are touched: a running writer's file and anything else stay.
    /// - Returns: the names removed.
    @discardableResult
    public static func removeLeftovers(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var removed: [String] = []
        for name in names {
            guard let process = temporaryFileProcess(name), process != getpid(), !isRunning(process) else { continue }
            if unlink(directory.appendingPathComponent(name).path) == 0 { removed.append(name) }
        }
        return removed
    }

    /// The process id in a temporary file's name, nil for other names.
    static func temporaryFileProcess(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), let marker = name.range(of: ".tmp-", options: .backwards) else { return nil }
        let parts = name[marker.upperBound...].split(separator: "-")
        guard parts.count == 2, let process = pid_t(parts[0]), process > 0, UInt32(parts[1]) != nil else { return nil }
        return process
    }

    static func isRunning(_ process: pid_t) -> Bool {
        kill(process, 0) == 0 || errno != ESRCH
    }

    /// Appends `data` to `url` (created if missing) and flushes it to disk before returning, for logs that
    /// grow by records, such as verified pairs, where rewriting the whole file per batch would cost
    /// O(file) each time. A crash can leave at most a partial last record, so readers of such a log must
    /// ignore a final line without its terminator; everything appended before it is intact.
    public static func append(_ data: Data, to url: URL) throws(StorageError) {
        let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw StorageError(file: url.path, reason: "cannot open for appending: \(lastErrorText())")
        }
        var failure = data.withUnsafeBytes { writeAll($0, to: descriptor, file: url) }
        if failure == nil, fsync(descriptor) != 0 {
            failure = StorageError(file: url.path, reason: "cannot flush the file to disk: \(lastErrorText())")
        }
        close(descriptor)
        if let failure { throw failure }
    }

    /// Writes every byte (retrying short writes and interrupted calls); the failure, if any.
    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, file url: URL) -> StorageError? {
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if !(written < 0 && errno == EINTR) {
                return StorageError(file: url.path, reason: "cannot write \(bytes.count) bytes: \(lastErrorText())")
            }
        }
        return nil
    }

    /// Flushes a directory's entries (a rename or a new file in it) to disk; best effort, as some file
    /// systems refuse to open directories for this.
    public static func synchronizeDirectory(_ path: String) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    static func lastErrorText() -> String { String(cString: strerror(errno)) }
}
