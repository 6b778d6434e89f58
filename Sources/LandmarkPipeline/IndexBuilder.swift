import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures

/// What an index directory holds besides its descriptors: how it was made and what was left out.
///
/// Written as `index.json` next to `descriptors.lmd` once an index is complete.
public struct IndexManifest: Sendable, Codable, Equatable {
    public static let fileName = "index.json"
    public static let currentFormatVersion = 2

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

    /// The `descriptor` of an index without global descriptors (local features only).
    public static let noGlobalDescriptor = "none"
    /// Versions this build reads: 1 (global descriptors only) and 2 (optionally local features).
    public static let supportedFormatVersions = 1 ... 2
}

/// The layout of an index directory, stated once.
///
/// - `descriptors.lmd`: the descriptor store (one row per indexed image, in sorted path order);
/// - `index.json`: the `IndexManifest`;
/// - with local features: `local-features.lmf`, `asmk-vocabulary.lmv`, `asmk-index.lmi`;
/// - with an approximate index (`--index IVF…`/`HNSW…`): `vector-index.lmx`;
/// - `partial/`: only while indexing — finished shards `shard-NNNNNN.lmd` and `skipped.json`, which a
///   rerun after an interruption picks up instead of redoing the work.
public enum IndexLayout {
    public static let storeFileName = "descriptors.lmd"
    public static let partialDirectoryName = "partial"
    static let skippedFileName = "skipped.json"
    static let shardPrefix = "shard-"
    static let descriptorMetadataKey = "descriptor"
    /// SIFT features of every indexed image, in the store's image order (`LocalFeatureStore`).
    public static let localFeaturesFileName = "local-features.lmf"
    /// The ASMK visual vocabulary (`VisualVocabulary.write`).
    public static let vocabularyFileName = "asmk-vocabulary.lmv"
    /// The ASMK inverted file (`ASMKIndex.write`), image numbers = store order.
    public static let asmkFileName = "asmk-index.lmi"
    /// The approximate index over the store (`VectorIndexBuilder`), when the factory is not `Flat`.
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
}

/// Options of `IndexBuilder.build`.
public struct IndexBuildOptions: Sendable {
    /// Images described between two checkpoints; a kill loses at most this many images' work.
    public var shardSize: Int
    public var decoding: ImageDecodingOptions
    public var workerCount: Int
    /// How the global descriptors will be searched; nil keeps an existing index's choice (else `Flat`).
    public var factory: IndexFactory?

    public init(shardSize: Int = 128, decoding: ImageDecodingOptions = .init(),
                workerCount: Int = ProcessInfo.processInfo.activeProcessorCount, factory: IndexFactory? = nil) {
        precondition(shardSize > 0, "shardSize must be positive")
        self.shardSize = shardSize
        self.decoding = decoding
        self.workerCount = workerCount
        self.factory = factory
    }
}

/// Builds (or brings up to date) the index of a folder of photographs.
///
/// The work is checkpointed: every `shardSize` images a shard is written atomically, so killing the
/// process loses at most one shard of work, and running the same command again resumes. The final store
/// is assembled in sorted path order from all shards, so a resumed run writes exactly the same bytes as an
/// uninterrupted one. Rerunning on a complete index reuses its descriptors and only describes new images.
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
        let paths = try ImageCollection.scan(imagesDirectory)
        guard !paths.isEmpty else {
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "no JPEG or PNG images found (extensions: .jpg, .jpeg, .png)")
        }
        let fileManager = FileManager.default
        let localStoreURL = indexDirectory.appendingPathComponent(IndexLayout.localFeaturesFileName)
        if local == nil, fileManager.fileExists(atPath: localStoreURL.path) {
            throw PipelineError(code: .invalidRequest, file: localStoreURL.path,
                                reason: "this index has local features; pass --local \(LocalIndexConfiguration.rootSIFTASMK) to update it")
        }
        let previousManifest = (try? Data(contentsOf: indexDirectory.appendingPathComponent(IndexManifest.fileName)))
            .flatMap { try? JSONDecoder().decode(IndexManifest.self, from: $0) }
        let partialDirectory = indexDirectory.appendingPathComponent(IndexLayout.partialDirectoryName, isDirectory: true)
        do {
            try fileManager.createDirectory(at: partialDirectory, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(code: .writeFailed, file: indexDirectory.path, reason: "cannot create the index directory: \(error.localizedDescription)")
        }
        removeStaleTemporaryFiles(in: partialDirectory)

        // Work already done: a complete earlier index, then finished shards.
        var known: [String: [Float]] = [:]
        let storeURL = indexDirectory.appendingPathComponent(IndexLayout.storeFileName)
        if fileManager.fileExists(atPath: storeURL.path) {
            try absorb(storeURL, expecting: extractor, into: &known)
        }
        var shardNumbers: [Int] = []
        for shard in try shardFiles(in: partialDirectory, suffix: ".lmd") {
            try absorb(shard.url, expecting: extractor, into: &known)
            shardNumbers.append(shard.number)
        }
        var knownLocal: [String: (store: LocalFeatureStore, image: Int)] = [:]
        var localShardNumbers: [Int] = []
        if let local {
            if fileManager.fileExists(atPath: localStoreURL.path) {
                try absorbLocal(localStoreURL, expecting: local, into: &knownLocal)
            }
            for shard in try shardFiles(in: partialDirectory, suffix: ".lmf") {
                try absorbLocal(shard.url, expecting: local, into: &knownLocal)
                localShardNumbers.append(shard.number)
            }
        }
        func isComplete(_ name: String) -> Bool {
            (extractor == nil || known[name] != nil) && (local == nil || knownLocal[name] != nil)
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
                let names = chunk.filter { known[$0] == nil }
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
                                   descriptorName: extractor.name, to: shardURL)
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
                    try writeLocalStore(records, extractor: local.extractorName, to: shardURL)
                    try absorbLocal(shardURL, expecting: local, into: &knownLocal)
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

        // Assemble the final stores in path order, then the search index, the local index, the manifest,
        // and drop the checkpoints.
        let indexed = paths.filter(isComplete)
        let factory = options.factory ?? previousManifest?.vectorIndex ?? .defaultFactory
        if let extractor {
            do {
                try VectorIndexBuilder.validate(factory, count: indexed.count, dimension: extractor.dimension)
            } catch {
                throw PipelineError(code: .invalidRequest, file: indexDirectory.path,
                                    reason: "--index \(error.file): \(error.reason) (the described images are kept; rerun with another --index)")
            }
            let vectors = indexed.compactMap { known[$0] }
            try writeStore(Matrix(stacking: vectors, dimension: extractor.dimension), identifiers: indexed,
                           descriptorName: extractor.name, elementType: factory.storeElementType, to: storeURL)
            try buildVectorIndex(factory, store: storeURL, in: indexDirectory, progress: progress)
        } else {
            // No global descriptors: the store still lists the indexed images, with zero-length vectors.
            try writeStore(Matrix(rows: indexed.count, columns: 0), identifiers: indexed,
                           descriptorName: IndexManifest.noGlobalDescriptor, to: storeURL)
        }
        var localManifest: LocalIndexManifest?
        if let local {
            let selection = indexed.compactMap { knownLocal[$0] }
            do {
                try LocalFeatureStoreWriter.assemble(selection, metadata: localMetadata(local.extractorName), to: localStoreURL)
            } catch {
                throw PipelineError(code: .writeFailed, file: localStoreURL.path, reason: error.reason)
            }
            localManifest = try LocalIndexBuilder.buildASMK(features: localStoreURL, in: indexDirectory,
                                                           configuration: local)
        }
        skipped.sort { $0.image < $1.image }
        let manifest = IndexManifest(
            formatVersion: extractor == nil || local != nil ? IndexManifest.currentFormatVersion : 1,
            descriptor: extractor?.name ?? IndexManifest.noGlobalDescriptor,
            dimension: extractor?.dimension ?? 0,
            imageRoot: imagesDirectory.standardizedFileURL.resolvingSymlinksInPath().path,
            count: indexed.count, skipped: skipped, local: localManifest,
            vectorIndex: extractor == nil || factory == .defaultFactory ? nil : factory)
        try writeAtomically(manifest, to: indexDirectory.appendingPathComponent(IndexManifest.fileName))
        try? fileManager.removeItem(at: partialDirectory)
        return IndexBuildSummary(total: paths.count, described: described, reused: reused, skipped: skipped)
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
    private static func absorb(_ url: URL, expecting extractor: (any GlobalDescriptorExtractor)?,
                               into known: inout [String: [Float]]) throws(PipelineError) {
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
        for (row, identifier) in store.identifiers.enumerated() {
            known[identifier] = store.descriptor(at: row)
        }
    }

    /// Adds a local-feature store's images to `known`, refusing one made with other SIFT settings.
    private static func absorbLocal(_ url: URL, expecting local: LocalIndexConfiguration,
                                    into known: inout [String: (store: LocalFeatureStore, image: Int)]) throws(PipelineError) {
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
        for (image, identifier) in store.identifiers.enumerated() {
            known[identifier] = (store, image)
        }
    }

    static func writeStore(_ matrix: Matrix, identifiers: [String], descriptorName: String,
                           elementType: DescriptorElementType = .float32, to url: URL) throws(PipelineError) {
        do {
            try DescriptorStoreWriter.write(matrix, identifiers: identifiers,
                                            metadata: [IndexLayout.descriptorMetadataKey: descriptorName],
                                            elementType: elementType, to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
        }
    }

    /// Makes the approximate index `factory` names over the store just written, or keeps the one already
    /// in the directory when it was built from exactly these descriptors (same store checksum), so a
    /// rerun that changes nothing retrains nothing. An exact factory needs no file; one left by an
    /// earlier approximate choice is removed (the builder made it).
    static func buildVectorIndex(_ factory: IndexFactory, store storeURL: URL, in indexDirectory: URL,
                                 progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) {
        let url = indexDirectory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        guard !factory.isExact else {
            try? FileManager.default.removeItem(at: url)
            return
        }
        let store: DescriptorStore
        do {
            store = try DescriptorStore.open(storeURL, verifyChecksum: false)
        } catch {
            throw PipelineError(code: .invalidIndex, file: storeURL.path, reason: error.reason)
        }
        let rows = DatabaseRows(store)
        if (try? VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: rows, storeChecksum: store.storedChecksum)) != nil {
            return
        }
        let label = "building \(factory)"
        do {
            let index = try VectorIndexBuilder.build(factory, rows: rows) { done, total in
                progress?(PipelineProgress(completed: done, total: total, current: label))
            }
            try VectorIndexBuilder.write(index, storeChecksum: store.storedChecksum, to: url)
        } catch {
            throw PipelineError(code: error.code == .cannotTrain ? .invalidRequest : .writeFailed, file: error.file, reason: error.reason)
        }
    }

    static func localMetadata(_ extractorName: String) -> [String: String] {
        [IndexLayout.localExtractorMetadataKey: extractorName]
    }

    static func writeLocalStore(_ records: [LocalFeatureRecord], extractor: String, to url: URL) throws(PipelineError) {
        do {
            try LocalFeatureStoreWriter.write(records, metadata: localMetadata(extractor), to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.reason)
        }
    }

    private static func loadSkipped(_ url: URL) -> [SkippedImage] {
        guard let data = try? Data(contentsOf: url) else { return [] }
        return (try? JSONDecoder().decode([SkippedImage].self, from: data)) ?? []
    }

    /// Temporary files of a write that was interrupted before its rename.
    private static func removeStaleTemporaryFiles(in directory: URL) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".") || name.contains(".tmp") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}

/// Encodes a value as pretty JSON into a temporary file and renames it into place, so a reader never
/// sees half a file.
func writeAtomically<Value: Encodable>(_ value: Value, to url: URL) throws(PipelineError) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do {
        let data = try encoder.encode(value)
        try data.write(to: url, options: .atomic)
    } catch {
        throw PipelineError(code: .writeFailed, file: url.path, reason: error.localizedDescription)
    }
}
