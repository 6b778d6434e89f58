import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra

/// Joins index directories built from disjoint parts of one folder (`landmark index --shard k/N`, one
/// per Spark task or per machine) into one ordinary index.
///
/// The result is the index a single `landmark index` run over the whole folder writes: the same rows
/// in the same (path) order, the same vectors bit for bit, the same fingerprints and skipped list, and
/// the search index built afresh over them. So a distributed build is checked by comparing stores,
/// and nothing downstream knows how the index was made.
public enum IndexMerge {
    /// What a merge did.
    public struct Summary: Sendable, Codable, Equatable {
        /// Shard directories read.
        public var shards: Int
        /// Images in the merged index.
        public var images: Int
        /// Images the shards could not describe, carried into the merged manifest.
        public var skipped: Int
        /// Bytes of descriptors written.
        public var descriptorBytesWritten: Int
    }

    /// Merges `shards` into `output` (new, empty, or an index this merge may replace).
    ///
    /// The shards must agree on descriptor, dimension, stored element type and image folder, hold global
    /// descriptors only, and share no image: the same image in two shards means two runs were given
    /// overlapping parts, and guessing which copy is right would hide that. The merged manifest is
    /// written last, so an interrupted merge leaves an earlier index at `output` as it was.
    /// - Parameter factory: the search index to build; nil keeps the shards' (which must agree).
    /// - Throws: `.invalidRequest` for shards that cannot be merged, naming the shard and the reason;
    ///   `.invalidIndex` for a damaged shard; `.writeFailed` when `output` cannot be written.
    public static func merge(shards: [URL], into output: URL, factory: IndexFactory? = nil,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> Summary {
        try IndexWorkDirectory.checkIndexDirectory(output)
        return try IndexLock.withLock(on: output) { () throws(PipelineError) -> Summary in
            try mergeHoldingLock(shards: shards, into: output, factory: factory, progress: progress)
        }
    }

    /// `merge` for a caller that already holds `output`'s `IndexLock` (a distributed build holds it from
    /// the first task to the merge).
    package static func mergeHoldingLock(shards: [URL], into output: URL, factory: IndexFactory?,
                                         progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> Summary {
        guard !shards.isEmpty else {
            throw PipelineError(code: .invalidRequest, file: output.path, reason: "no shard directories to merge")
        }
        let outputPath = output.standardizedFileURL.resolvingSymlinksInPath().path
        for shard in shards where shard.standardizedFileURL.resolvingSymlinksInPath().path == outputPath {
            throw PipelineError(code: .invalidRequest, file: shard.path, reason: "is also --out; merge into another directory")
        }
        var opened: [RetrievalIndex] = []
        for shard in shards {
            if try ShardedIndexManifest.load(in: shard) != nil {
                throw PipelineError(code: .invalidRequest, file: shard.path,
                                    reason: "is a sharded index; give its shard directories (shard-NN) instead")
            }
            let index = try RetrievalIndex.open(shard)
            guard index.manifest.descriptor != IndexManifest.noGlobalDescriptor, index.manifest.local == nil else {
                throw PipelineError(code: .invalidRequest, file: shard.path,
                                    reason: "has local features; merging holds global descriptors only")
            }
            if let first = opened.first {
                let (a, b) = (first.manifest, index.manifest)
                guard a.descriptor == b.descriptor, a.dimension == b.dimension else {
                    throw PipelineError(code: .invalidRequest, file: shard.path,
                                        reason: "holds '\(b.descriptor)' descriptors, \(shards[0].path) '\(a.descriptor)'; describe every shard alike")
                }
                guard a.imageRoot == b.imageRoot else {
                    throw PipelineError(code: .invalidRequest, file: shard.path,
                                        reason: "indexes \(b.imageRoot), \(shards[0].path) indexes \(a.imageRoot); shards must come from one folder")
                }
                guard first.store.elementType == index.store.elementType else {
                    throw PipelineError(code: .invalidRequest, file: shard.path,
                                        reason: "stores \(index.store.elementType) vectors, \(shards[0].path) \(first.store.elementType)")
                }
                if factory == nil, (a.vectorIndex ?? .defaultFactory) != (b.vectorIndex ?? .defaultFactory) {
                    throw PipelineError(code: .invalidRequest, file: shard.path,
                                        reason: "is searched with \(b.vectorIndex ?? .defaultFactory), \(shards[0].path) with \(a.vectorIndex ?? .defaultFactory); give --index")
                }
            }
            opened.append(index)
        }

        // Every image once: its vector and fingerprint from the one shard that holds it.
        var known: [String: [Float]] = [:]
        var owner: [String: Int] = [:]
        var fingerprints = ImageFingerprintTable()
        var skipped: [SkippedImage] = []
        var everyShardFingerprinted = true
        for (number, index) in opened.enumerated() {
            for (row, identifier) in index.store.identifiers.enumerated() {
                if let earlier = owner[identifier] {
                    throw PipelineError(code: .invalidRequest, file: shards[number].path,
                                        reason: "holds \(identifier), which \(shards[earlier].path) holds too; shards must not overlap")
                }
                owner[identifier] = number
                known[identifier] = index.store.descriptor(at: row)
            }
            if let table = try ImageFingerprintTable.load(named: index.manifest.fingerprints, in: index.directory) {
                fingerprints.images.merge(table.images) { first, _ in first }
            } else {
                everyShardFingerprinted = false
            }
            skipped.append(contentsOf: index.manifest.skipped)
        }
        skipped.sort { $0.image < $1.image }
        let indexed = known.keys.sorted()
        let first = opened[0]
        let chosenFactory = factory ?? first.manifest.vectorIndex ?? .defaultFactory
        do {
            try VectorIndexBuilder.validate(chosenFactory, count: indexed.count, dimension: first.manifest.dimension)
        } catch {
            throw PipelineError(code: .invalidRequest, file: output.path, reason: "--index \(error.file): \(error.reason)")
        }
        if chosenFactory.storeElementType != first.store.elementType {
            throw PipelineError(code: .invalidRequest, file: output.path,
                                reason: "\(chosenFactory) stores \(chosenFactory.storeElementType) vectors, the shards \(first.store.elementType); "
                                    + "build the shards with the same --index")
        }

        if try ShardedIndexManifest.load(in: output) != nil {
            throw PipelineError(code: .invalidRequest, file: output.path, reason: "is a sharded index; merge into a new directory")
        }
        progress?(PipelineProgress(completed: 0, total: indexed.count, current: "writing \(indexed.count) descriptors"))
        let outcome = try IndexBuilder.writeDescriptors(
            indexed: indexed, previous: nil, previousFactory: nil, known: known,
            descriptor: (first.manifest.descriptor, first.manifest.dimension), factory: chosenFactory, compact: true,
            in: output, progress: progress)
        let fingerprintsFile = everyShardFingerprinted ? try fingerprints.restricted(to: indexed).writeForManifest(in: output) : nil
        let manifest = IndexManifest(
            formatVersion: outcome.segments != nil ? IndexManifest.segmentedFormatVersion : 1,
            descriptor: first.manifest.descriptor, dimension: first.manifest.dimension,
            imageRoot: first.manifest.imageRoot, count: outcome.store.count, skipped: skipped, local: nil,
            vectorIndex: chosenFactory == .defaultFactory ? nil : chosenFactory, segments: outcome.segments,
            fingerprints: fingerprintsFile)
        try writeAtomically(manifest.sealed(), to: output.appendingPathComponent(IndexManifest.fileName))
        IndexSegments.removeUnreferenced(in: output, keeping: manifest.descriptorSegments,
                                         storedFingerprint: outcome.store.storedFingerprint)
        ImageFingerprintTable.removeUnreferenced(in: output, keeping: fingerprintsFile)
        progress?(PipelineProgress(completed: indexed.count, total: indexed.count, current: "merged"))
        return Summary(shards: shards.count, images: outcome.store.count, skipped: skipped.count,
                       descriptorBytesWritten: outcome.bytesWritten)
    }
}
