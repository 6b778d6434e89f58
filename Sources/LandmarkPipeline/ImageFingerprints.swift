import Foundation
import LandmarkStorage

#if canImport(Glibc)
import Glibc
#endif

/// What decides whether an image file is the one a stored descriptor was made from: its size, its
/// modification time (to the nanosecond) and its inode.
///
/// A rerun of `landmark index` reuses a descriptor only when the file's fingerprint is the one
/// recorded when the descriptor was made: a photo replaced under the same name, touched, or copied in
/// from another folder is described again instead of keeping a stale vector. Reading three fields of
/// `stat` costs nothing beside decoding. With `landmark index --verify-content` the fingerprint also
/// holds a CRC-32 of the bytes, and then size and content decide: a touched or moved photo is reused,
/// one edited in place under its old time is not.
public struct ImageFingerprint: Sendable, Equatable, Hashable {
    /// File size in bytes.
    public var size: Int64
    /// Modification time, nanoseconds since 1970.
    public var modified: Int64
    /// The file's inode number (a photo replaced by another file gets a new one).
    public var inode: UInt64
    /// CRC-32 of the file's bytes, when content verification asked for it.
    public var content: UInt32?

    public init(size: Int64, modified: Int64, inode: UInt64, content: UInt32? = nil) {
        self.size = size
        self.modified = modified
        self.inode = inode
        self.content = content
    }

    /// The fingerprint of the file at `path` (symbolic links followed), with the CRC-32 of its bytes
    /// when `hashingContent`; nil when it cannot be read.
    public static func of(path: String, hashingContent: Bool = false) -> ImageFingerprint? {
        var information = stat()
        guard stat(path, &information) == 0 else { return nil }
        let modified = Int64(information.st_mtim.tv_sec) * 1_000_000_000 + Int64(information.st_mtim.tv_nsec)
        var content: UInt32?
        if hashingContent {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return nil }
            var crc = CRC32()
            data.withUnsafeBytes { crc.update($0) }
            content = crc.value
        }
        return ImageFingerprint(size: Int64(information.st_size), modified: modified, inode: UInt64(information.st_ino), content: content)
    }

    /// Whether a file with the `current` fingerprint is the one this fingerprint was recorded from: by
    /// size and content when both carry a content hash, else by size, time and inode.
    public func matches(_ current: ImageFingerprint) -> Bool {
        if let content, let currentContent = current.content {
            return size == current.size && content == currentContent
        }
        return size == current.size && modified == current.modified && inode == current.inode
    }
}

extension ImageFingerprint: Codable {
    // Three numbers in an array (four with the content hash): a table of a million images stays a few
    // tens of megabytes, and tables written before the hash existed still read.
    public init(from decoder: any Decoder) throws {
        var fields = try decoder.unkeyedContainer()
        size = try fields.decode(Int64.self)
        modified = try fields.decode(Int64.self)
        inode = try fields.decode(UInt64.self)
        content = fields.isAtEnd ? nil : try fields.decode(UInt32.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var fields = encoder.unkeyedContainer()
        try fields.encode(size)
        try fields.encode(modified)
        try fields.encode(inode)
        if let content { try fields.encode(content) }
    }
}

/// The fingerprints of an index's images (relative path → fingerprint), kept in a file the manifest
/// names, `image-fingerprints+<crc>.json` beside the descriptors, and in each checkpoint of an
/// unfinished run (its metadata, `metadataKey`).
///
/// The index's table is written under a new name before the manifest that names it, and the previous
/// one is removed after, so a kill between the two leaves the old manifest with its own table.
public struct ImageFingerprintTable: Sendable, Equatable, Codable {
    public static let formatVersion = 1
    static let filePrefix = "image-fingerprints+"
    static let fileSuffix = ".json"
    /// The metadata key under which a checkpoint records the fingerprints of its images: written in
    /// the same atomic file as their descriptors, so a checkpoint never lacks them or has another's.
    public static let metadataKey = "fingerprints"

    public var formatVersion = Self.formatVersion
    public var images: [String: ImageFingerprint]

    public init(images: [String: ImageFingerprint] = [:]) { self.images = images }

    /// The current fingerprints of `paths` below `root`; files that cannot be read are left out (they
    /// are then never reused, and decoding reports why they fail).
    public static func current(of paths: [String], in root: URL, hashingContent: Bool = false) -> ImageFingerprintTable {
        var images: [String: ImageFingerprint] = [:]
        images.reserveCapacity(paths.count)
        for path in paths {
            if let fingerprint = ImageFingerprint.of(path: root.appendingPathComponent(path).path, hashingContent: hashingContent) {
                images[path] = fingerprint
            }
        }
        return ImageFingerprintTable(images: images)
    }

    /// True when this table records a fingerprint for `name` and it is the one `current` has: the
    /// one test every reuse of a stored descriptor or feature set goes through.
    public func recordsUnchanged(_ name: String, in current: ImageFingerprintTable) -> Bool {
        guard let recorded = images[name], let now = current.images[name] else { return false }
        return recorded.matches(now)
    }

    /// The entries of `names` only.
    public func restricted(to names: [String]) -> ImageFingerprintTable {
        var images: [String: ImageFingerprint] = [:]
        images.reserveCapacity(names.count)
        for name in names { images[name] = self.images[name] }
        return ImageFingerprintTable(images: images)
    }

    /// The table a checkpoint's metadata records, nil when it records none or an unreadable one.
    public init?(metadata: [String: String]) {
        guard let text = metadata[Self.metadataKey],
              let table = try? JSONDecoder().decode(ImageFingerprintTable.self, from: Data(text.utf8)),
              table.formatVersion == Self.formatVersion else { return nil }
        self = table
    }

    /// The table as a checkpoint's metadata value.
    public func metadataValue(file: String) throws(PipelineError) -> String {
        String(decoding: try encoded(file: file), as: UTF8.self)
    }

    /// Reads a table.
    /// - Throws: `.invalidIndex` naming the file when it is missing or not a table of this format.
    static func load(_ url: URL) throws(PipelineError) -> ImageFingerprintTable {
        let table: ImageFingerprintTable
        do {
            table = try JSONDecoder().decode(ImageFingerprintTable.self, from: Data(contentsOf: url))
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "not a readable fingerprint table (\(error.localizedDescription)); rebuild the index, or remove "
                                    + "\"fingerprints\" from its index.json to have the table made again")
        }
        guard table.formatVersion == Self.formatVersion else {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "fingerprint table format \(table.formatVersion); this build reads \(Self.formatVersion)")
        }
        return table
    }

    /// The index's table named by a manifest's `fingerprints`, nil when it names none (an index made
    /// before fingerprints were recorded).
    /// - Throws: `.invalidIndex` for a name outside the directory, or a missing or damaged table.
    static func load(named name: String?, in directory: URL) throws(PipelineError) -> ImageFingerprintTable? {
        guard let name else { return nil }
        guard IndexLayout.isPlainFileName(name), name.hasPrefix(filePrefix) else {
            throw PipelineError(code: .invalidIndex, file: directory.appendingPathComponent(IndexManifest.fileName).path,
                                reason: "names fingerprint table '\(name)', which is not a file of the index directory — rebuild the index")
        }
        return try load(directory.appendingPathComponent(name))
    }

    private func encoded(file: String) throws(PipelineError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(self)
        } catch {
            throw PipelineError(code: .writeFailed, file: file, reason: error.localizedDescription)
        }
    }

    /// Writes the table durably under a name made from its checksum, and returns the name for the
    /// manifest; an identical table already there is not written again.
    func writeForManifest(in directory: URL) throws(PipelineError) -> String {
        let data = try encoded(file: directory.path)
        var checksum = CRC32()
        checksum.update([UInt8](data))
        let name = Self.filePrefix + String(format: "%08x", checksum.value) + Self.fileSuffix
        let url = directory.appendingPathComponent(name)
        if (try? Data(contentsOf: url)) == data { return name }
        do {
            try DurableFile.write(data, to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
        }
        return name
    }

    /// Removes the index's fingerprint tables other than `kept` (only files named as this type names them).
    static func removeUnreferenced(in directory: URL, keeping kept: String?) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name != kept && name.hasPrefix(filePrefix) && name.hasSuffix(fileSuffix) {
            let digits = name.dropFirst(filePrefix.count).dropLast(fileSuffix.count)
            guard digits.count == 8, digits.allSatisfy(\.isHexDigit) else { continue }
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
