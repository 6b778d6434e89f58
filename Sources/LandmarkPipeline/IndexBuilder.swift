import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkStorage

/// What an index directory holds besides its descriptors: how it was made and what was left out.
///
/// Written as `index.json` next to `descriptors.lmd` once an index is complete.
public struct IndexManifest: Sendable, Codable, Equatable {
    public static let fileName = "index.json"
    public static let currentFormatVersion = 2
    /// The version of manifests that list `segments` (an index updated in place).
    public static let segmentedFormatVersion = 3

    public var formatVersion: Int
    /// Name of the global descriptor (see `GlobalDescriptorRegistry`); queries are described the same way.
    public var descriptor: String
    public var dimension: Int
    /// Absolute path of the indexed folder; store identifiers are paths relative to it.
    public var imageRoot: String
    public var count: Int
    public var skipped: [SkippedImage]
    /// Local features and ASMK, when the index was built with `--local` (format version 2; absent in
    /// version 1 manifests, which still open).
    public var local: LocalIndexManifest? = nil
    /// How the global descriptors are searched (`IndexFactory`); absent in indexes made before
    /// approximate search existed, which are searched exactly.
    public var vectorIndex: IndexFactory? = nil
    /// The descriptor files of an index updated in place, in row order, each with its removed rows
    /// (format version 3); absent when the index is the single `descriptors.lmd` with nothing removed.
    public var segments: [IndexSegment]? = nil
    /// The file holding the fingerprints of the indexed images when their descriptors were made
    /// (`ImageFingerprintTable`); absent in indexes made before fingerprints were recorded, whose
    /// descriptors a rerun reuses by name once and then fingerprints.
    public var fingerprints: String? = nil
    /// CRC-32 (hex) of the manifest's canonical JSON without this field, set by the tool when it writes
    /// the manifest (`sealed()`): a manifest edited by hand or damaged no longer matches and the index is
    /// refused instead of searched with wrong settings. Absent in manifests written before it existed.
    public var checksum: String? = nil

    /// The manifest with its checksum set, as the tool writes it.
    public func sealed() -> IndexManifest {
        var sealed = self
        sealed.checksum = nil
        sealed.checksum = sealed.canonicalChecksum()
        return sealed
    }

    /// Decodes a manifest and checks its checksum (when it has one).
    /// - Throws: `.invalidIndex` naming `file` for a damaged manifest or one that does not match its checksum.
    public static func decode(_ data: Data, file: String) throws(PipelineError) -> IndexManifest {
        let manifest: IndexManifest
        do {
            manifest = try JSONDecoder().decode(IndexManifest.self, from: data)
        } catch {
            throw PipelineError(code: .invalidIndex, file: file, reason: "damaged manifest: \(error)")
        }
        if let recorded = manifest.checksum {
            var unsealed = manifest
            unsealed.checksum = nil
            guard unsealed.canonicalChecksum() == recorded else {
                throw PipelineError(code: .invalidIndex, file: file,
                                    reason: "does not match its checksum: it was edited or damaged; run `landmark index` on the folder again to rewrite it")
            }
        }
        return manifest
    }

    private func canonicalChecksum() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var crc = CRC32()
        let data = (try? encoder.encode(self)) ?? Data()
        data.withUnsafeBytes { crc.update($0) }
        return String(format: "%08x", crc.value)
    }

    /// A manifest for descriptors written by other means than `IndexBuilder` (a benchmark, a merge);
    /// `IndexUpdate` and `RetrievalIndex` then treat the directory as any index.
    public init(descriptor: String, dimension: Int, imageRoot: String, count: Int, skipped: [SkippedImage] = [],
                vectorIndex: IndexFactory? = nil) {
        self.formatVersion = 1
        self.descriptor = descriptor
        self.dimension = dimension
        self.imageRoot = imageRoot
        self.count = count
        self.skipped = skipped
        self.vectorIndex = vectorIndex
    }

    init(formatVersion: Int, descriptor: String, dimension: Int, imageRoot: String, count: Int, skipped: [SkippedImage],
         local: LocalIndexManifest?, vectorIndex: IndexFactory?, segments: [IndexSegment]?, fingerprints: String?) {
        self.formatVersion = formatVersion
        self.descriptor = descriptor
        self.dimension = dimension
        self.imageRoot = imageRoot
        self.count = count
        self.skipped = skipped
        self.local = local
        self.vectorIndex = vectorIndex
        self.segments = segments
        self.fingerprints = fingerprints
    }

    /// The `descriptor` of an index without global descriptors (local features only).
    public static let noGlobalDescriptor = "none"
    /// Versions this build reads: 1 (global descriptors only), 2 (optionally local features) and 3
    /// (descriptors in segments).
    public static let supportedFormatVersions = 1 ... 3
}

/// The layout of an index directory, stated once.
///
/// - `descriptors.lmd`: the descriptor store (one row per indexed image, in sorted path order);
/// - `index.json`: the `IndexManifest`;
/// - with local features: `local-features.lmf`, `asmk-vocabulary.lmv`, `asmk-index.lmi`;
/// - with an approximate index (`--index IVF…`/`HNSW…`): `vector-index.lmx`;
/// - `.landmark-work/`: only while indexing — finished checkpoints `shard-NNNNNN.lmd` (and
///   `local-NNNNNN.lmf`) and `skipped.json`, which a rerun after an interruption picks up instead of
///   redoing the work. It holds the marker file `created-by-landmark`; a folder of that name without
///   it is not the tool's and is never written to or deleted.
public enum IndexLayout {
    public static let storeFileName = "descriptors.lmd"
    /// Segments added by updates in place and compactions: `descriptors-NNNNNN.lmd`.
    static let segmentPrefix = "descriptors-"
    /// The work folder of an unfinished `landmark index` run.
    public static let workDirectoryName = ".landmark-work"
    /// The file that marks `workDirectoryName` as the tool's own.
    public static let workMarkerFileName = "created-by-landmark"
    /// The folder of a distributed build (`landmark index --spark-master`): one index per shard, kept
    /// after the merge so that the next distributed run resumes and reuses them. Marked like the work folder.
    public static let distributedWorkDirectoryName = ".landmark-shards"
    /// The file writers lock (`flock`) while they change the index; kept between runs.
    public static let lockFileName = ".landmark-lock"
    static let skippedFileName = "skipped.json"
    static let shardPrefix = "shard-"
    static let descriptorMetadataKey = "descriptor"
    /// SIFT features of every indexed image, in the store's image order (`LocalFeatureStore`).
    public static let localFeaturesFileName = "local-features.lmf"
    /// The ASMK visual vocabulary (`VisualVocabulary.write`).
    public static let vocabularyFileName = "asmk-vocabulary.lmv"
    /// The ASMK inverted file (`ASMKIndex.write`), image numbers = store order.
    public static let asmkFileName = "asmk-index.lmi"
    /// The approximate index over the store (`VectorIndexBuilder`), when the factory is not `Flat`;
    /// an inverted file updated in place also has `vector-index+<checksum>.lmx`, the rows added since.
    public static let vectorIndexFileName = "vector-index.lmx"

    /// A name the manifest may give a file: inside the index directory, no path components, so an
    /// edited manifest cannot make the index open files elsewhere.
    public static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
    }
    static let localShardPrefix = "local-"
    static let localExtractorMetadataKey = "extractor"
}

/// Summary of one `IndexBuilder.build` run.
public struct IndexBuildSummary: Sendable, Codable, Equatable {
    /// Images found in the folder.
    public var total: Int
    /// Images described in this run.
    public var described: Int
    /// Images whose descriptors came from an earlier, interrupted or complete, run.
    public var reused: Int
    /// Images that could not be described, with the reason.
    public var skipped: [SkippedImage]
    /// Images of the previous index no longer in the folder, now removed from it.
    public var removed: Int = 0
    /// Bytes of descriptor files written: the new segment of an update in place, or every
    /// descriptor of a first build or a compaction.
    public var descriptorBytesWritten: Int = 0
    /// The descriptors were rewritten into one file (a first build or a compaction).
    public var rewritten: Bool = false

    public init(total: Int, described: Int, reused: Int, skipped: [SkippedImage], removed: Int = 0,
                descriptorBytesWritten: Int = 0, rewritten: Bool = false) {
        self.total = total
        self.described = described
        self.reused = reused
        self.skipped = skipped
        self.removed = removed
        self.descriptorBytesWritten = descriptorBytesWritten
        self.rewritten = rewritten
    }

    /// Adds the counts of another part of the same index (a shard) to these.
    public mutating func include(_ part: IndexBuildSummary) {
        total += part.total
        described += part.described
        reused += part.reused
        skipped += part.skipped
        removed += part.removed
        descriptorBytesWritten += part.descriptorBytesWritten
        rewritten = rewritten || part.rewritten
    }
}

/// Options of `IndexBuilder.build`.
public struct IndexBuildOptions: Sendable {
    /// Images described between two checkpoints; a kill loses at most this many images' work.
    public var shardSize: Int
    public var decoding: ImageDecodingOptions
    public var workerCount: Int
    /// How the global descriptors will be searched; nil keeps an existing index's choice (else `Flat`).
    public var factory: IndexFactory?
    /// Rewrite an updated index's descriptors into one file even when its segments and removed rows
    /// are within `IndexSegments`' limits.
    public var compact: Bool
    /// Index only the images of this shard (`ShardAssignment`); `ShardedIndexBuilder` sets it.
    public var shard: ShardSelection?
    /// Accept a folder other than the one the index was built from (it becomes the index's folder;
    /// images are matched by relative path and reused only when their fingerprints agree). Without it
    /// such a run is refused, since it would silently drop every image the new folder lacks.
    public var changeFolder: Bool
    /// Decide reuse by a CRC-32 of each photo's bytes (and its size) instead of its time and inode:
    /// reads every photo on every run, but reuses moved or touched photos and catches in-place edits.
    public var verifyContent = false

    public init(shardSize: Int = 128, decoding: ImageDecodingOptions = .init(),
                workerCount: Int = ProcessInfo.processInfo.activeProcessorCount, factory: IndexFactory? = nil,
                compact: Bool = false, shard: ShardSelection? = nil, changeFolder: Bool = false) {
        precondition(shardSize > 0, "shardSize must be positive")
        self.shardSize = shardSize
        self.decoding = decoding
        self.workerCount = workerCount
        self.factory = factory
        self.compact = compact
        self.shard = shard
        self.changeFolder = changeFolder
    }
}

/// Builds (or brings up to date) the index of a folder of photographs.
///
/// The work is checkpointed: every `shardSize` images a shard is written atomically, so killing the
/// process loses at most one shard of work, and running the same command again resumes. A first build
/// assembles the store in sorted path order from all shards, so a resumed run writes exactly the same
/// bytes as an uninterrupted one. Rerunning on a complete index updates it in place (`IndexSegments`):
/// only new images are described, written as one new segment, and deleted ones are tombstoned.
public enum IndexBuilder {
    /// Builds a global-descriptor index (no local features).
    public static func build(images imagesDirectory: URL, index indexDirectory: URL,
                             extractor: any GlobalDescriptorExtractor,
                             options: IndexBuildOptions = .init(),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> IndexBuildSummary {
        try build(images: imagesDirectory, index: indexDirectory, extractor: extractor, local: nil, options: options,
                  progress: progress)
    }

    /// Builds an index with global descriptors (`extractor`), local features and ASMK (`local`), or both.
    ///
    /// Local features are checkpointed exactly like global descriptors (shards `local-NNNNNN.lmf` in
    /// `partial/`); the vocabulary and the ASMK inverted file are made at the end from the complete
    /// feature store (deterministically, so a resumed run gives the same files).
    /// - Throws: `.invalidRequest` when neither part is asked for, or the index directory holds local
    ///   features but `local` is nil; `.invalidIndex` for checkpoints made with other settings.
    public static func build(images imagesDirectory: URL, index indexDirectory: URL,
                             extractor: (any GlobalDescriptorExtractor)?, local: LocalIndexConfiguration?,
                             options: IndexBuildOptions = .init(),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> IndexBuildSummary {
        guard extractor != nil || local != nil else {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                reason: "an index needs a global descriptor, local features, or both")
        }
        let scan = try ImageCollection.scanReporting(imagesDirectory)
        var paths = scan.images, leftOut = scan.leftOut
        if let shard = options.shard {
            paths = paths.filter(shard.contains)
            leftOut = leftOut.filter { shard.contains($0.image) }
        }
        if let shard = options.shard, paths.isEmpty, !scan.images.isEmpty {
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "none of its \(scan.images.count) images falls in shard \(shard.number)/\(shard.count); use fewer shards")
        }
        guard !paths.isEmpty else {
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "no JPEG or PNG images found (extensions: .jpg, .jpeg, .png)"
                                    + (leftOut.first.map { "; \(leftOut.count) left out, e.g. \($0.image): \($0.reason)" } ?? ""))
        }
        try IndexWorkDirectory.checkIndexDirectory(indexDirectory)
        return try IndexLock.withLock(on: indexDirectory) { () throws(PipelineError) -> IndexBuildSummary in
            try buildHoldingLock(images: imagesDirectory, paths: paths, leftOut: leftOut, index: indexDirectory, extractor: extractor, local: local,
                                 options: options, progress: progress)
        }
    }

    private static func buildHoldingLock(images imagesDirectory: URL, paths: [String], leftOut: [SkippedImage], index indexDirectory: URL,
                                         extractor: (any GlobalDescriptorExtractor)?, local: LocalIndexConfiguration?,
                                         options: IndexBuildOptions,
                                         progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> IndexBuildSummary {
        // A store or file a killed run was writing stays behind as a temporary file as large as the store.
        DurableFile.removeLeftovers(in: indexDirectory)
        let fileManager = FileManager.default
        let localStoreURL = indexDirectory.appendingPathComponent(IndexLayout.localFeaturesFileName)
        if local == nil, fileManager.fileExists(atPath: localStoreURL.path) {
            throw PipelineError(code: .invalidRequest, file: localStoreURL.path,
                                reason: "this index has local features; pass --local \(LocalIndexConfiguration.rootSIFTASMK) to update it")
        }
        // A damaged or edited manifest counts as none: the run rebuilds the index from the photographs.
        let previousManifest = (try? Data(contentsOf: indexDirectory.appendingPathComponent(IndexManifest.fileName)))
            .flatMap { try? IndexManifest.decode($0, file: IndexManifest.fileName) }
        let imageRoot = imagesDirectory.standardizedFileURL.resolvingSymlinksInPath().path
        if let previousManifest, previousManifest.imageRoot != imageRoot, !options.changeFolder {
            throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                reason: "was built from \(previousManifest.imageRoot), not \(imageRoot); indexing another folder into it would remove "
                                    + "every image that folder lacks. Pass --change-folder to make \(imageRoot) the index's folder, or use a new --out")
        }
        let partialDirectory = try IndexWorkDirectory.open(in: indexDirectory)
        // Descriptors are reused only for files unchanged since they were made (`ImageFingerprint`).
        let current = ImageFingerprintTable.current(of: paths, in: imagesDirectory, hashingContent: options.verifyContent)
        var indexFingerprints: ImageFingerprintTable?
        if let previousManifest {
            indexFingerprints = try ImageFingerprintTable.load(named: previousManifest.fingerprints, in: indexDirectory)
        }

        // Work already done: a complete earlier index, then finished shards.
        var known: [String: [Float]] = [:]
        let storeURL = indexDirectory.appendingPathComponent(IndexLayout.storeFileName)
        var previous: (segments: [IndexSegment], store: SegmentedDescriptorStore)?
        if let previousManifest {
            let store = try IndexSegments.open(indexDirectory, manifest: previousManifest)
            let expectedName = extractor?.name ?? IndexManifest.noGlobalDescriptor
            guard previousManifest.descriptor == expectedName, store.dimension == extractor?.dimension ?? 0 else {
                throw PipelineError(code: .invalidIndex, file: indexDirectory.appendingPathComponent(IndexManifest.fileName).path,
                                    reason: "built with descriptor '\(previousManifest.descriptor)' (\(store.dimension)-D), not '\(expectedName)'; "
                                        + "use --descriptor \(previousManifest.descriptor) or a new index directory")
            }
            previous = (previousManifest.descriptorSegments, store)
            // Segments of an update killed before its manifest was written.
            IndexSegments.removeUnreferenced(in: indexDirectory, keeping: previousManifest.descriptorSegments,
                                             storedFingerprint: store.storedFingerprint)
        } else if fileManager.fileExists(atPath: storeURL.path) {
            // A first build killed between its store and its manifest.
            try absorb(storeURL, expecting: extractor, into: &known, current: current)
        }
        // Images of the index whose files changed since they were described: described again, their
        // old rows replaced. An index without a table (made before fingerprints) is trusted by name.
        let stored = Set(previous?.store.identifiers ?? [])
        let changed: Set<String> = indexFingerprints.map { table in stored.filter { !table.recordsUnchanged($0, in: current) } } ?? []
        let live = stored.subtracting(changed)
        var shardNumbers: [Int] = []
        for shard in try shardFiles(in: partialDirectory, suffix: ".lmd") {
            try absorb(shard.url, expecting: extractor, into: &known, current: current)
            shardNumbers.append(shard.number)
        }
        var knownLocal: [String: (store: LocalFeatureStore, image: Int)] = [:]
        var localShardNumbers: [Int] = []
        if let local {
            if fileManager.fileExists(atPath: localStoreURL.path) {
                try absorbLocal(localStoreURL, expecting: local, into: &knownLocal)
                knownLocal = knownLocal.filter { !changed.contains($0.key) }
            }
            for shard in try shardFiles(in: partialDirectory, suffix: ".lmf") {
                try absorbLocal(shard.url, expecting: local, into: &knownLocal, current: current)
                localShardNumbers.append(shard.number)
            }
        }
        func isComplete(_ name: String) -> Bool {
            (extractor == nil || live.contains(name) || known[name] != nil) && (local == nil || knownLocal[name] != nil)
        }

        let skippedURL = partialDirectory.appendingPathComponent(IndexLayout.skippedFileName)
        var skipped = loadSkipped(skippedURL)
        let pathSet = Set(paths)
        skipped.removeAll { !pathSet.contains($0.image) || isComplete($0.image) }
        let skippedNames = Set(skipped.map(\.image))

        let reused = paths.filter(isComplete).count
        let todo = paths.filter { !isComplete($0) && !skippedNames.contains($0) }
        let alreadyDone = paths.count - todo.count
        var nextShard = (shardNumbers.max() ?? -1) + 1
        var nextLocalShard = (localShardNumbers.max() ?? -1) + 1
        var described = 0
        var start = 0
        while start < todo.count {
            let chunk = Array(todo[start..<min(start + options.shardSize, todo.count)])
            let offset = alreadyDone + start
            let total = paths.count
            var failed: [String: String] = [:]
            if let extractor {
                let names = chunk.filter { known[$0] == nil && !live.contains($0) }
                let extraction = DescriptorExtraction(extractor: extractor, decoding: options.decoding,
                                                      workerCount: options.workerCount)
                let items = names.map { ExtractionItem(url: imagesDirectory.appendingPathComponent($0), name: $0) }
                let results = extraction.describeAll(items) { step in
                    progress?(PipelineProgress(completed: offset + step.completed, total: total, current: step.current))
                }
                var identifiers: [String] = []
                var vectors: [[Float]] = []
                for (name, result) in zip(names, results) {
                    switch result {
                    case .success(let vector):
                        identifiers.append(name)
                        vectors.append(vector)
                        known[name] = vector
                    case .failure(let failure):
                        failed[name] = failure.reason
                    }
                }
                if !identifiers.isEmpty {
                    let shardURL = partialDirectory.appendingPathComponent(
                        IndexLayout.shardPrefix + String(format: "%06d", nextShard) + ".lmd")
                    try writeStore(Matrix(stacking: vectors, dimension: extractor.dimension), identifiers: identifiers,
                                   descriptorName: extractor.name, fingerprints: current.restricted(to: identifiers), to: shardURL)
                    nextShard += 1
                }
            }
            if let local {
                // An image the global extractor could not read is not tried again.
                let names = chunk.filter { knownLocal[$0] == nil && failed[$0] == nil }
                let results = LocalFeatureExtraction(sift: local.sift, rootSIFT: false, decoding: options.decoding,
                                                     workerCount: options.workerCount)
                    .extractAll(names.map { imagesDirectory.appendingPathComponent($0) }, names: names) { step in
                        progress?(PipelineProgress(completed: offset + step.completed, total: total, current: step.current))
                    }
                var records: [LocalFeatureRecord] = []
                for (name, result) in zip(names, results) {
                    switch result {
                    case .success(let features):
                        records.append(LocalFeatureStorage.record(identifier: name, sift: features))
                    case .failure(let failure):
                        failed[name] = failure.reason
                    }
                }
                if !records.isEmpty {
                    let shardURL = partialDirectory.appendingPathComponent(
                        IndexLayout.localShardPrefix + String(format: "%06d", nextLocalShard) + ".lmf")
                    try writeLocalStore(records, extractor: local.extractorName,
                                        fingerprints: current.restricted(to: records.map(\.identifier)), to: shardURL)
                    try absorbLocal(shardURL, expecting: local, into: &knownLocal, current: current)
                    nextLocalShard += 1
                }
            }
            for name in chunk {
                if let reason = failed[name] {
                    skipped.append(SkippedImage(image: name, reason: reason))
                } else {
                    described += 1
                }
            }
            try writeAtomically(skipped, to: skippedURL)
            start += chunk.count
        }

        // Bring the descriptors up to date (a new segment and tombstones, or one file in path order),
        // then the search index, the local part in the same row order, and last the manifest, which
        // commits the update; files it no longer names and the checkpoints go after it.
        let indexed = paths.filter(isComplete)
        // A first run that could describe nothing writes no index: an empty one would only look like success.
        if indexed.isEmpty, previousManifest == nil, !paths.isEmpty {
            IndexWorkDirectory.remove(partialDirectory)
            let examples = skipped.prefix(3).map { "\($0.image): \($0.reason)" }.joined(separator: "; ")
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "none of its \(paths.count) images could be read, so no index was written (\(examples)\(skipped.count > 3 ? "; …" : ""))")
        }
        let factory = options.factory ?? previousManifest?.vectorIndex ?? .defaultFactory
        if let extractor {
            do {
                try VectorIndexBuilder.validate(factory, count: indexed.count, dimension: extractor.dimension)
            } catch {
                throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                    reason: "--index \(error.file): \(error.reason) (the described images are kept; rerun with another --index)")
            }
        }
        let outcome = try writeDescriptors(
            indexed: indexed, previous: previous, previousFactory: previousManifest?.vectorIndex, known: known,
            replacing: changed.intersection(known.keys),
            descriptor: extractor.map { ($0.name, $0.dimension) }, factory: factory,
            // A retrained vocabulary samples the features in row order; path order makes it the vocabulary of
            // a fresh build of the folder.
            compact: options.compact || local?.retrainVocabulary == true, in: indexDirectory, progress: progress)
        var localManifest: LocalIndexManifest?
        if let local {
            let selection = outcome.store.identifiers.compactMap { knownLocal[$0] }
            do {
                try LocalFeatureStoreWriter.assemble(selection, metadata: localMetadata(local.extractorName), to: localStoreURL)
            } catch {
                throw PipelineError(code: .writeFailed, file: localStoreURL.path, reason: error.reason)
            }
            localManifest = try LocalIndexBuilder.buildASMK(features: localStoreURL, in: indexDirectory,
                                                           configuration: local)
        }
        // Entries the scan could not take (links, hidden or undecodable names, unreadable folders) are
        // reported with the images that failed, never dropped without a word.
        skipped.append(contentsOf: leftOut)
        skipped.sort { $0.image < $1.image }
        // Every indexed descriptor was made from (or checked against) the file as fingerprinted at the
        // start of this run: taken before any file was read, a change while it was described shows next run.
        let fingerprintsFile = try current.restricted(to: indexed).writeForManifest(in: indexDirectory)
        let manifest = IndexManifest(
            formatVersion: outcome.segments != nil ? IndexManifest.segmentedFormatVersion
                : extractor == nil || local != nil ? IndexManifest.currentFormatVersion : 1,
            descriptor: extractor?.name ?? IndexManifest.noGlobalDescriptor,
            dimension: extractor?.dimension ?? 0,
            imageRoot: imageRoot,
            count: outcome.store.count, skipped: skipped, local: localManifest,
            vectorIndex: extractor == nil || factory == .defaultFactory ? nil : factory, segments: outcome.segments,
            fingerprints: fingerprintsFile)
        try writeAtomically(manifest.sealed(), to: indexDirectory.appendingPathComponent(IndexManifest.fileName))
        IndexSegments.removeUnreferenced(in: indexDirectory, keeping: manifest.descriptorSegments,
                                         storedFingerprint: outcome.store.storedFingerprint)
        ImageFingerprintTable.removeUnreferenced(in: indexDirectory, keeping: fingerprintsFile)
        IndexWorkDirectory.remove(partialDirectory)
        let indexedSet = Set(indexed)
        let removed = previous.map { $0.store.identifiers.filter { !indexedSet.contains($0) }.count } ?? 0
        return IndexBuildSummary(total: paths.count + leftOut.count, described: described, reused: reused, skipped: skipped, removed: removed,
                                 descriptorBytesWritten: outcome.bytesWritten, rewritten: outcome.previousStored == nil && outcome.bytesWritten > 0)
    }

    // MARK: - Checkpoints

    private static func shardFiles(in directory: URL, suffix: String) throws(PipelineError) -> [(number: Int, url: URL)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PipelineError(code: .invalidIndex, file: directory.path, reason: "cannot list: \(error.localizedDescription)")
        }
        return names.compactMap { name -> (Int, URL)? in
            let prefix = suffix == ".lmd" ? IndexLayout.shardPrefix : IndexLayout.localShardPrefix
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            guard let number = Int(digits) else { return nil }
            return (number, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Adds a store's descriptors to `known`, refusing one made with another descriptor. Without an
    /// extractor (a local-only index) the store must be one without global descriptors.
    /// Only images whose fingerprint recorded in the store equals the current one are taken (a
    /// checkpoint of a photo replaced since is described again).
    private static func absorb(_ url: URL, expecting extractor: (any GlobalDescriptorExtractor)?,
                               into known: inout [String: [Float]], current: ImageFingerprintTable) throws(PipelineError) {
        let store: DescriptorStore
        do {
            store = try DescriptorStore.open(url)
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "\(error.reason); delete this file to recompute its descriptors")
        }
        let name = store.metadata[IndexLayout.descriptorMetadataKey] ?? "?"
        let expectedName = extractor?.name ?? IndexManifest.noGlobalDescriptor
        guard name == expectedName, store.dimension == extractor?.dimension ?? 0 else {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "built with descriptor '\(name)' (\(store.dimension)-D), not '\(expectedName)'; "
                                    + "use --descriptor \(name) or a new index directory")
        }
        guard extractor != nil else { return }
        let recorded = ImageFingerprintTable(metadata: store.metadata)
        for (row, identifier) in store.identifiers.enumerated() {
            known[identifier] = recorded?.recordsUnchanged(identifier, in: current) == true ? store.descriptor(at: row) : nil
        }
    }

    /// Adds a local-feature store's images to `known`, refusing one made with other SIFT settings.
    private static func absorbLocal(_ url: URL, expecting local: LocalIndexConfiguration,
                                    into known: inout [String: (store: LocalFeatureStore, image: Int)],
                                    current: ImageFingerprintTable? = nil) throws(PipelineError) {
        let store: LocalFeatureStore
        do {
            store = try LocalFeatureStore.open(url)
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "\(error.reason); delete this file to recompute its local features")
        }
        let name = store.metadata[IndexLayout.localExtractorMetadataKey] ?? "?"
        guard name == local.extractorName, store.dimension == 128 else {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "local features made with '\(name)', not '\(local.extractorName)'; use a new index directory")
        }
        let recorded = ImageFingerprintTable(metadata: store.metadata)
        for (image, identifier) in store.identifiers.enumerated() {
            // Without `current` (the index's own store, already checked against its table) all are taken.
            let unchanged = current.map { recorded?.recordsUnchanged(identifier, in: $0) == true } ?? true
            known[identifier] = unchanged ? (store, image) : nil
        }
    }

    static func writeStore(_ matrix: Matrix, identifiers: [String], descriptorName: String,
                           elementType: DescriptorElementType = .float32, fingerprints: ImageFingerprintTable? = nil,
                           to url: URL) throws(PipelineError) {
        var metadata = [IndexLayout.descriptorMetadataKey: descriptorName]
        if let fingerprints { metadata[ImageFingerprintTable.metadataKey] = try fingerprints.metadataValue(file: url.path) }
        do {
            try DescriptorStoreWriter.write(matrix, identifiers: identifiers, metadata: metadata,
                                            elementType: elementType, to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
        }
    }

    /// Writes the descriptors of `indexed` (`IndexSegments.write`), then brings the search index up
    /// to date with them; `descriptor` is nil for an index without global descriptors.
    static func writeDescriptors(indexed: [String], previous: (segments: [IndexSegment], store: SegmentedDescriptorStore)?,
                                 previousFactory: IndexFactory?, known: [String: [Float]], replacing: Set<String> = [],
                                 descriptor: (name: String, dimension: Int)?, factory: IndexFactory, compact: Bool,
                                 in indexDirectory: URL,
                                 progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> IndexSegments.Outcome {
        let outcome = try IndexSegments.write(
            indexed: indexed, previous: previous, known: known, replacing: replacing, dimension: descriptor?.dimension ?? 0,
            descriptorName: descriptor?.name ?? IndexManifest.noGlobalDescriptor,
            elementType: descriptor == nil ? .float32 : factory.storeElementType, compact: compact, in: indexDirectory)
        if descriptor != nil {
            let previousFactory = previousFactory ?? .defaultFactory
            try updateVectorIndex(factory, store: outcome.store, in: indexDirectory,
                                  previous: previousFactory == factory ? outcome.previousStored : nil, progress: progress)
        }
        return outcome
    }

    /// Makes the approximate index `factory` names over the descriptors just written (all stored rows,
    /// `SegmentedDescriptorStore.storedRows`), or keeps the one already in the directory when it was
    /// built from exactly these rows (same stored fingerprint) — so a rerun that only removes images,
    /// or changes nothing, writes nothing. After an update in place (`previous`: the earlier stored
    /// rows, which the new ones extend) the saved index is extended without retraining. An exact
    /// factory needs no file; one left by an earlier approximate choice is removed (the builder made it).
    static func updateVectorIndex(_ factory: IndexFactory, store: SegmentedDescriptorStore, in indexDirectory: URL,
                                  previous: (count: Int, fingerprint: UInt32)?,
                                  progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) {
        let url = indexDirectory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        guard !factory.isExact else {
            try? FileManager.default.removeItem(at: url)
            VectorIndexBuilder.removeAdditions(of: url, keeping: nil)
            return
        }
        let fingerprint = store.storedFingerprint
        if (try? VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: store.storedRows, storeChecksum: fingerprint)) != nil {
            return
        }
        let label = "\(previous == nil ? "building" : "updating") \(factory)"
        let report: (Int, Int) -> Void = { done, total in
            progress?(PipelineProgress(completed: done, total: total, current: label))
        }
        do {
            if let previous,
               let extended = VectorIndexBuilder.extend(contentsOf: url, factory: factory, rows: store.storedRows,
                                                        previousCount: previous.count, previousChecksum: previous.fingerprint,
                                                        progress: report) {
                try VectorIndexBuilder.writeExtension(extended, storeChecksum: fingerprint, to: url)
            } else {
                let index = try VectorIndexBuilder.build(factory, rows: store.storedRows, progress: report)
                try VectorIndexBuilder.write(index, storeChecksum: fingerprint, to: url)
            }
        } catch {
            throw PipelineError(code: error.code == .cannotTrain ? .invalidRequest : .writeFailed, file: error.file, reason: error.reason)
        }
    }

    static func localMetadata(_ extractorName: String) -> [String: String] {
        [IndexLayout.localExtractorMetadataKey: extractorName]
    }

    static func writeLocalStore(_ records: [LocalFeatureRecord], extractor: String, fingerprints: ImageFingerprintTable,
                                to url: URL) throws(PipelineError) {
        var metadata = localMetadata(extractor)
        metadata[ImageFingerprintTable.metadataKey] = try fingerprints.metadataValue(file: url.path)
        do {
            try LocalFeatureStoreWriter.write(records, metadata: metadata, to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
        }
    }

    private static func loadSkipped(_ url: URL) -> [SkippedImage] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode([SkippedImage].self, from: data)) ?? []
    }

    /// Temporary files of a write that was interrupted before its rename.
}

/// Encodes a value as pretty JSON and writes it durably (`DurableFile`: temporary file, flush,
/// rename, directory flush), so a reader never sees half a file and a manifest that commits an update
/// survives a power cut.
func writeAtomically<Value: Encodable>(_ value: Value, to url: URL) throws(PipelineError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data: Data
    do {
        data = try encoder.encode(value)
    } catch {
        throw PipelineError(code: .writeFailed, file: url.path, reason: error.localizedDescription)
    }
    do {
        try DurableFile.write(data, to: url)
    } catch {
        throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
    }
}
