import Foundation
import LandmarkDescriptors
import LandmarkIndex

/// Which shard an image belongs to: a stable hash of its path relative to the indexed folder
/// (64-bit FNV-1a of the UTF-8 bytes) modulo the shard count. It depends on nothing but the path, so
/// every machine, run and engine (a Spark task, a rerun) puts an image in the same shard.
public enum ShardAssignment {
    public static func shard(of path: String, count: Int) -> Int {
        precondition(count > 0, "shard count must be positive")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }
}

/// Shard `number` of `count`: the images an `IndexBuilder` run takes from the folder.
public struct ShardSelection: Sendable, Equatable {
    public var number: Int
    public var count: Int

    public init(number: Int, count: Int) {
        precondition(count > 0 && number >= 0 && number < count, "shard \(number) of \(count) does not exist")
        self.number = number
        self.count = count
    }

    public func contains(_ path: String) -> Bool { ShardAssignment.shard(of: path, count: count) == number }
}

/// `shards.json`, the top of a sharded index: the shard directories, each a normal index directory
/// that can also be opened, searched and checked on its own.
public struct ShardedIndexManifest: Sendable, Codable, Equatable {
    public static let fileName = "shards.json"
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// Directory names inside the sharded index, in row order.
    public var shards: [String]
    /// How images were assigned (`ShardAssignment`), so that a later build can refuse another rule.
    public var assignment: String

    public static let pathHashAssignment = "fnv1a64(relative path) mod shards"

    /// The name of shard `number`.
    public static func directoryName(_ number: Int) -> String { String(format: "shard-%02d", number) }

    /// The manifest in `directory`, nil when the directory is not a sharded index.
    /// - Throws: `.invalidIndex` for a manifest that is damaged, of an unknown version or rule, or that
    ///   names directories outside the index.
    public static func load(in directory: URL) throws(PipelineError) -> ShardedIndexManifest? {
        let url = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let manifest: ShardedIndexManifest
        do {
            manifest = try JSONDecoder().decode(ShardedIndexManifest.self, from: Data(contentsOf: url))
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path, reason: "damaged shard list: \(error)")
        }
        guard manifest.formatVersion == currentFormatVersion, manifest.assignment == pathHashAssignment else {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "format \(manifest.formatVersion) with assignment '\(manifest.assignment)' is not supported by this build")
        }
        guard !manifest.shards.isEmpty, manifest.shards.allSatisfy(IndexLayout.isPlainFileName) else {
            throw PipelineError(code: .invalidIndex, file: url.path, reason: "names no shards, or a directory outside the index")
        }
        return manifest
    }
}

/// Builds or updates an index split into shards by `ShardAssignment`: shard `s` is an ordinary index
/// directory `shard-NN` built from the images that hash to it. Each shard is checkpointed, updated in
/// place and committed on its own (`IndexBuilder`), so a kill leaves every shard either before or
/// after its update, and the rerun finishes the rest; `shards.json` is written last on a first build.
public enum ShardedIndexBuilder {
    /// - Parameter shardCount: the number of shards for a new index; nil (or the same number) for an
    ///   existing sharded index.
    /// - Throws: `.invalidRequest` when the count differs from the existing index's, the directory is
    ///   an unsharded index, local features are asked for, or a shard would receive no image.
    public static func build(images imagesDirectory: URL, index indexDirectory: URL, shardCount: Int?,
                             extractor: any GlobalDescriptorExtractor, options: IndexBuildOptions = .init(),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> IndexBuildSummary {
        try IndexWorkDirectory.checkIndexDirectory(indexDirectory)
        return try IndexLock.withLock(on: indexDirectory) { () throws(PipelineError) -> IndexBuildSummary in
            try buildHoldingLock(images: imagesDirectory, index: indexDirectory, shardCount: shardCount, extractor: extractor,
                                 options: options, progress: progress)
        }
    }

    private static func buildHoldingLock(images imagesDirectory: URL, index indexDirectory: URL, shardCount: Int?,
                                         extractor: any GlobalDescriptorExtractor, options: IndexBuildOptions,
                                         progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> IndexBuildSummary {
        let existing = try ShardedIndexManifest.load(in: indexDirectory)
        if existing == nil, FileManager.default.fileExists(atPath: indexDirectory.appendingPathComponent(IndexManifest.fileName).path) {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                reason: "is an index without shards; build the sharded index in a new directory")
        }
        let count = shardCount ?? existing?.shards.count ?? 1
        guard count >= 1 else {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path, reason: "--shards must be at least 1")
        }
        if let existing, existing.shards.count != count {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                reason: "has \(existing.shards.count) shards, not \(count); images are assigned by shard count, so build \(count) shards in a new directory")
        }
        let paths = try ImageCollection.scan(imagesDirectory)
        var sizes = Array(repeating: 0, count: count)
        for path in paths { sizes[ShardAssignment.shard(of: path, count: count)] += 1 }
        if let empty = sizes.firstIndex(of: 0) {
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "\(paths.count) images leave shard \(empty) of \(count) empty; use fewer shards")
        }
        var total = IndexBuildSummary(total: 0, described: 0, reused: 0, skipped: [])
        var done = 0
        for number in 0 ..< count {
            var shardOptions = options
            shardOptions.shard = ShardSelection(number: number, count: count)
            let offset = done
            let summary = try IndexBuilder.build(
                images: imagesDirectory, index: indexDirectory.appendingPathComponent(ShardedIndexManifest.directoryName(number)),
                extractor: extractor, options: shardOptions) { step in
                    progress?(PipelineProgress(completed: offset + min(step.completed, step.total), total: paths.count,
                                               current: "shard \(number + 1)/\(count): \(step.current)"))
                }
            done += summary.total
            total.include(summary)
        }
        total.skipped.sort { $0.image < $1.image }
        let manifest = ShardedIndexManifest(formatVersion: ShardedIndexManifest.currentFormatVersion,
                                            shards: (0 ..< count).map(ShardedIndexManifest.directoryName),
                                            assignment: ShardedIndexManifest.pathHashAssignment)
        if manifest != existing {
            try writeAtomically(manifest, to: indexDirectory.appendingPathComponent(ShardedIndexManifest.fileName))
        }
        return total
    }
}

extension RetrievalIndex {
    /// Opens a sharded index as one: the shards' segments in shard order form the store, and their
    /// search indexes one `ShardedIndex`, so every command and pipeline works on it unchanged.
    /// - Throws: `.invalidIndex` when a shard is missing or damaged, or the shards disagree on the
    ///   descriptor, the search index or the image folder; local features are not supported.
    static func openSharded(_ directory: URL, manifest sharded: ShardedIndexManifest) throws(PipelineError) -> RetrievalIndex {
        let listPath = directory.appendingPathComponent(ShardedIndexManifest.fileName).path
        var shards: [RetrievalIndex] = []
        for name in sharded.shards {
            let shardDirectory = directory.appendingPathComponent(name)
            guard (try ShardedIndexManifest.load(in: shardDirectory)) == nil else {
                throw PipelineError(code: .invalidIndex, file: shardDirectory.path, reason: "a shard cannot itself be sharded")
            }
            let shard = try RetrievalIndex.open(shardDirectory)
            if let first = shards.first {
                let (a, b) = (first.manifest, shard.manifest)
                guard a.descriptor == b.descriptor, a.dimension == b.dimension, a.imageRoot == b.imageRoot,
                      a.vectorIndex == b.vectorIndex, first.store.elementType == shard.store.elementType else {
                    throw PipelineError(code: .invalidIndex, file: shardDirectory.path,
                                        reason: "its descriptor, search index or image folder differs from \(sharded.shards[0])'s — rebuild the index")
                }
            }
            guard shard.manifest.local == nil else {
                throw PipelineError(code: .invalidIndex, file: shardDirectory.path,
                                    reason: "sharded indexes hold global descriptors only; this shard has local features")
            }
            shards.append(shard)
        }
        let store: SegmentedDescriptorStore
        do {
            store = try SegmentedDescriptorStore(segments: shards.flatMap(\.store.segments),
                                                 removedRows: shards.flatMap(\.store.removedRows))
        } catch {
            throw PipelineError(code: .invalidIndex, file: listPath, reason: error.reason)
        }
        var manifest = shards[0].manifest
        manifest.count = store.count
        manifest.skipped = shards.flatMap(\.manifest.skipped).sorted { $0.image < $1.image }
        manifest.segments = nil
        return RetrievalIndex(directory: directory, manifest: manifest, store: store, extractor: shards[0].extractor,
                              vectorIndex: ShardedIndex(shards: shards.map(\.vectorIndex)),
                              localFeatureStore: nil, asmk: nil, localExtractor: nil)
    }
}
