import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkStorage

/// Changes to an index given as descriptors rather than a folder: what a service adding an uploaded
/// photo, or a job merging descriptors made elsewhere, applies. The update is made in place like a
/// folder rerun (`IndexSegments`): additions become one new segment, removals tombstones, and the
/// search index follows without retraining.
public struct IndexUpdate: Sendable {
    /// Images to add, or to replace when already indexed, with their descriptors (of the index's
    /// descriptor and dimension).
    public var additions: [(identifier: String, descriptor: [Float])]
    /// Images to remove; unknown ones are ignored.
    public var removals: Set<String>

    public init(additions: [(identifier: String, descriptor: [Float])] = [], removals: Set<String> = []) {
        self.additions = additions
        self.removals = removals
    }

    /// Applies the update to the index at `directory` (each change to its shard when the index is
    /// sharded); `options.factory` switches the search index, `options.compact` forces a compaction.
    /// - Throws: `.invalidRequest` for a descriptor of the wrong length or a non-finite one, an image
    ///   both added and removed, or an index with local features (whose features only a folder run can
    ///   extract); `.invalidIndex` when the directory is not a complete index.
    public func apply(to directory: URL, options: IndexBuildOptions = .init(),
                      progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> IndexBuildSummary {
        if let sharded = try ShardedIndexManifest.load(in: directory) {
            var total = IndexBuildSummary(total: 0, described: 0, reused: 0, skipped: [])
            for (number, name) in sharded.shards.enumerated() {
                let shard = ShardSelection(number: number, count: sharded.shards.count)
                let part = IndexUpdate(additions: additions.filter { shard.contains($0.identifier) },
                                       removals: removals.filter(shard.contains))
                let summary = try part.apply(to: directory.appendingPathComponent(name), options: options, progress: progress)
                total.include(summary)
            }
            return total
        }
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(IndexManifest.fileName).path) else {
            throw PipelineError(code: .invalidIndex, file: directory.path,
                                reason: "not a complete index (no \(IndexManifest.fileName)); build it with `landmark index` first")
        }
        return try IndexLock.withLock(on: directory) { () throws(PipelineError) -> IndexBuildSummary in
            try applyHoldingLock(to: directory, options: options, progress: progress)
        }
    }

    private func applyHoldingLock(to directory: URL, options: IndexBuildOptions,
                                  progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> IndexBuildSummary {
        DurableFile.removeLeftovers(in: directory)
        let manifestURL = directory.appendingPathComponent(IndexManifest.fileName)
        let manifest: IndexManifest
        do {
            manifest = try IndexManifest.decode(try Data(contentsOf: manifestURL), file: manifestURL.path)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(code: .invalidIndex, file: manifestURL.path,
                                reason: "not a complete index (\(error.localizedDescription)); build it with `landmark index` first")
        }
        guard manifest.local == nil, manifest.descriptor != IndexManifest.noGlobalDescriptor else {
            throw PipelineError(code: .invalidRequest, file: directory.path,
                                reason: "the index has local features, which only `landmark index` on the folder can extract")
        }
        var known: [String: [Float]] = [:]
        for (identifier, descriptor) in additions {
            guard descriptor.count == manifest.dimension, descriptor.allSatisfy(\.isFinite) else {
                throw PipelineError(code: .invalidRequest, file: identifier,
                                    reason: "descriptor has \(descriptor.count) components or a non-finite one; the index needs \(manifest.dimension) finite components")
            }
            guard !removals.contains(identifier) else {
                throw PipelineError(code: .invalidRequest, file: identifier, reason: "is both added and removed")
            }
            known[identifier] = descriptor
        }
        let store = try IndexSegments.open(directory, manifest: manifest)
        let live = Set(store.identifiers)
        let indexed = live.subtracting(removals).union(known.keys).sorted()
        let factory = options.factory ?? manifest.vectorIndex ?? .defaultFactory
        do {
            try VectorIndexBuilder.validate(factory, count: indexed.count, dimension: manifest.dimension)
        } catch {
            throw PipelineError(code: .invalidRequest, file: directory.path, reason: "\(error.file): \(error.reason)")
        }
        let outcome = try IndexBuilder.writeDescriptors(
            indexed: indexed, previous: (manifest.descriptorSegments, store), previousFactory: manifest.vectorIndex,
            known: known, replacing: live.intersection(known.keys), descriptor: (manifest.descriptor, manifest.dimension),
            factory: factory, compact: options.compact, in: directory, progress: progress)
        // Descriptors given here were not made from the folder's files: their fingerprints are dropped,
        // so a later folder run describes those files rather than trusting these vectors for them.
        var updated = manifest
        if var table = try ImageFingerprintTable.load(named: manifest.fingerprints, in: directory) {
            for name in removals.union(known.keys) { table.images[name] = nil }
            updated.fingerprints = try table.writeForManifest(in: directory)
        }
        updated.count = outcome.store.count
        updated.segments = outcome.segments
        updated.vectorIndex = factory == .defaultFactory ? nil : factory
        if outcome.segments != nil { updated.formatVersion = IndexManifest.segmentedFormatVersion }
        try writeAtomically(updated.sealed(), to: manifestURL)
        IndexSegments.removeUnreferenced(in: directory, keeping: updated.descriptorSegments,
                                         storedFingerprint: outcome.store.storedFingerprint)
        ImageFingerprintTable.removeUnreferenced(in: directory, keeping: updated.fingerprints)
        let removed = store.identifiers.filter { removals.contains($0) }.count
        return IndexBuildSummary(total: indexed.count, described: known.count, reused: indexed.count - known.count, skipped: [],
                                 removed: removed, descriptorBytesWritten: outcome.bytesWritten,
                                 rewritten: outcome.previousStored == nil && outcome.bytesWritten > 0)
    }
}
