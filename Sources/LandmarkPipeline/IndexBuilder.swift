import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra

/// What an index directory holds besides its descriptors: how it was made and what was left out.
///
/// Written as `index.json` next to `descriptors.lmd` once an index is complete.
public struct IndexManifest: Sendable, Codable, Equatable {
    public static let fileName = "index.json"
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    /// Name of the global descriptor (see `GlobalDescriptorRegistry`); queries are described the same way.
    public var descriptor: String
    public var dimension: Int
    /// Absolute path of the indexed folder; store identifiers are paths relative to it.
    public var imageRoot: String
    public var count: Int
    public var skipped: [SkippedImage]
}

/// The layout of an index directory, stated once.
///
/// - `descriptors.lmd`: the descriptor store (one row per indexed image, in sorted path order);
/// - `index.json`: the `IndexManifest`;
/// - `partial/`: only while indexing — finished shards `shard-NNNNNN.lmd` and `skipped.json`, which a
///   rerun after an interruption picks up instead of redoing the work.
public enum IndexLayout {
    public static let storeFileName = "descriptors.lmd"
    public static let partialDirectoryName = "partial"
    static let skippedFileName = "skipped.json"
    static let shardPrefix = "shard-"
    static let descriptorMetadataKey = "descriptor"
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

    public init(shardSize: Int = 128, decoding: ImageDecodingOptions = .init(),
                workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(shardSize > 0, "shardSize must be positive")
        self.shardSize = shardSize
        self.decoding = decoding
        self.workerCount = workerCount
    }
}

/// Builds (or brings up to date) the index of a folder of photographs.
///
/// The work is checkpointed: every `shardSize` images a shard is written atomically, so killing the
/// process loses at most one shard of work, and running the same command again resumes. The final store
/// is assembled in sorted path order from all shards, so a resumed run writes exactly the same bytes as an
/// uninterrupted one. Rerunning on a complete index reuses its descriptors and only describes new images.
public enum IndexBuilder {
    public static func build(images imagesDirectory: URL, index indexDirectory: URL,
                             extractor: any GlobalDescriptorExtractor,
                             options: IndexBuildOptions = .init(),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> IndexBuildSummary {
        let paths = try ImageCollection.scan(imagesDirectory)
        guard !paths.isEmpty else {
            throw PipelineError(code: .invalidRequest, file: imagesDirectory.path,
                                reason: "no JPEG or PNG images found (extensions: .jpg, .jpeg, .png)")
        }
        let fileManager = FileManager.default
        let partialDirectory = indexDirectory.appendingPathComponent(IndexLayout.partialDirectoryName, isDirectory: true)
        do {
            try fileManager.createDirectory(at: partialDirectory, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(code: .writeFailed, file: indexDirectory.path, reason: "cannot create the index directory: \(error.localizedDescription)")
        }
        removeStaleTemporaryFiles(in: partialDirectory)

        // Descriptors already computed: a complete earlier index, then finished shards.
        var known: [String: [Float]] = [:]
        let storeURL = indexDirectory.appendingPathComponent(IndexLayout.storeFileName)
        if fileManager.fileExists(atPath: storeURL.path) {
            try absorb(storeURL, expecting: extractor, into: &known)
        }
        var shardNumbers: [Int] = []
        for shard in try shardFiles(in: partialDirectory) {
            try absorb(shard.url, expecting: extractor, into: &known)
            shardNumbers.append(shard.number)
        }
        let skippedURL = partialDirectory.appendingPathComponent(IndexLayout.skippedFileName)
        var skipped = loadSkipped(skippedURL)
        let pathSet = Set(paths)
        skipped.removeAll { !pathSet.contains($0.image) || known[$0.image] != nil }
        let skippedNames = Set(skipped.map(\.image))

        let reused = paths.filter { known[$0] != nil }.count
        let todo = paths.filter { known[$0] == nil && !skippedNames.contains($0) }
        let extraction = DescriptorExtraction(extractor: extractor, decoding: options.decoding,
                                              workerCount: options.workerCount)
        let alreadyDone = paths.count - todo.count
        var nextShard = (shardNumbers.max() ?? -1) + 1
        var described = 0
        var start = 0
        while start < todo.count {
            let chunk = Array(todo[start..<min(start + options.shardSize, todo.count)])
            let items = chunk.map { ExtractionItem(url: imagesDirectory.appendingPathComponent($0), name: $0) }
            let offset = alreadyDone + start
            let total = paths.count
            let results = extraction.describeAll(items) { step in
                progress?(PipelineProgress(completed: offset + step.completed, total: total, current: step.current))
            }
            var identifiers: [String] = []
            var vectors: [[Float]] = []
            for (name, result) in zip(chunk, results) {
                switch result {
                case .success(let vector):
                    identifiers.append(name)
                    vectors.append(vector)
                    known[name] = vector
                case .failure(let failure):
                    skipped.append(SkippedImage(image: name, reason: failure.reason))
                }
            }
            described += identifiers.count
            if !identifiers.isEmpty {
                let shardURL = partialDirectory.appendingPathComponent(
                    IndexLayout.shardPrefix + String(format: "%06d", nextShard) + ".lmd")
                try writeStore(Matrix(stacking: vectors, dimension: extractor.dimension), identifiers: identifiers,
                               extractor: extractor, to: shardURL)
                nextShard += 1
            }
            try writeAtomically(skipped, to: skippedURL)
            start += chunk.count
        }

        // Assemble the final store in path order, then the manifest, then drop the checkpoints.
        let indexed = paths.filter { known[$0] != nil }
        let vectors = indexed.compactMap { known[$0] }
        try writeStore(Matrix(stacking: vectors, dimension: extractor.dimension), identifiers: indexed,
                       extractor: extractor, to: storeURL)
        skipped.sort { $0.image < $1.image }
        let manifest = IndexManifest(
            formatVersion: IndexManifest.currentFormatVersion, descriptor: extractor.name,
            dimension: extractor.dimension,
            imageRoot: imagesDirectory.standardizedFileURL.resolvingSymlinksInPath().path,
            count: indexed.count, skipped: skipped)
        try writeAtomically(manifest, to: indexDirectory.appendingPathComponent(IndexManifest.fileName))
        try? fileManager.removeItem(at: partialDirectory)
        return IndexBuildSummary(total: paths.count, described: described, reused: reused, skipped: skipped)
    }

    // MARK: - Checkpoints

    private static func shardFiles(in directory: URL) throws(PipelineError) -> [(number: Int, url: URL)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw PipelineError(code: .invalidIndex, file: directory.path, reason: "cannot list: \(error.localizedDescription)")
        }
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix(IndexLayout.shardPrefix), name.hasSuffix(".lmd") else { return nil }
            let digits = name.dropFirst(IndexLayout.shardPrefix.count).dropLast(4)
            guard let number = Int(digits) else { return nil }
            return (number, directory.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Adds a store's descriptors to `known`, refusing one made with another descriptor.
    private static func absorb(_ url: URL, expecting extractor: any GlobalDescriptorExtractor,
                               into known: inout [String: [Float]]) throws(PipelineError) {
        let store: DescriptorStore
        do {
            store = try DescriptorStore.open(url)
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "\(error.reason); delete this file to recompute its descriptors")
        }
        let name = store.metadata[IndexLayout.descriptorMetadataKey] ?? "?"
        guard name == extractor.name, store.dimension == extractor.dimension else {
            throw PipelineError(code: .invalidIndex, file: url.path,
                                reason: "built with descriptor '\(name)' (\(store.dimension)-D), not '\(extractor.name)'; "
                                    + "use --descriptor \(name) or a new index directory")
        }
        for (row, identifier) in store.identifiers.enumerated() {
            known[identifier] = store.descriptor(at: row)
        }
    }

    static func writeStore(_ matrix: Matrix, identifiers: [String], extractor: any GlobalDescriptorExtractor,
                           to url: URL) throws(PipelineError) {
        do {
            try DescriptorStoreWriter.write(matrix, identifiers: identifiers,
                                            metadata: [IndexLayout.descriptorMetadataKey: extractor.name],
                                            to: url)
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
