import Foundation
import LandmarkStorage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline

/// What an update in place costs on a large index: the bytes written against the index's size, the
/// time, and the search quality of the updated (not retrained) approximate index.
public struct IndexUpdateReport: Sendable, Codable {
    public var count: Int
    public var dimension: Int
    public var factory: String
    public var float16: Bool
    /// Size of the index directory before the update.
    public var indexBytes: Int
    public var buildSeconds: Double
    public var added: Int
    public var removed: Int
    public var updateSeconds: Double
    /// Bytes of the files the update created or replaced, by file.
    public var writtenFiles: [String: Int]
    /// Their sum over `indexBytes`.
    public var writtenFraction: Double
    /// Recall@10 of the updated index against exact search over the updated rows (default parameters).
    public var recallAt10AfterUpdate: Double
    /// The same for an index trained afresh on the updated rows.
    public var recallAt10Rebuilt: Double
    public var compactSeconds: Double
    public var compactBytesWritten: Int

    public var table: String {
        let written = writtenFiles.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
        \(count) × \(dimension)\(float16 ? " float16" : "") \(factory): index \(indexBytes) bytes, built in \(String(format: "%.1f", buildSeconds)) s
        update (+\(added), −\(removed)): \(String(format: "%.2f", updateSeconds)) s, wrote \(writtenFiles.values.reduce(0, +)) bytes = \(String(format: "%.2f", writtenFraction * 100)) % of the index (\(written))
        recall@10 after the update \(String(format: "%.3f", recallAt10AfterUpdate)), rebuilt from scratch \(String(format: "%.3f", recallAt10Rebuilt))
        compaction: \(String(format: "%.2f", compactSeconds)) s, \(compactBytesWritten) bytes
        """
    }
}

public enum IndexUpdateBenchmark {
    /// Builds an index of `count` clustered vectors in `directory`, adds `addedFraction` more and removes
    /// `removedFraction` of them in place, then compacts.
    public static func run(count: Int, dimension: Int, float16: Bool, factory: IndexFactory, addedFraction: Double,
                           removedFraction: Double, queries queryCount: Int = 200, directory: URL,
                           log: (String) -> Void) throws -> IndexUpdateReport {
        let added = max(1, Int(Double(count) * addedFraction))
        let removedCount = Int(Double(count) * removedFraction)
        log("generating \(count + added + queryCount) vectors of \(dimension) components")
        let all = ClusteredVectors.generate(count: count + added + queryCount, dimension: dimension, clusters: max(16, count / 1000),
                                           seed: 5, sampleSeed: 6)
        let identifiers = (0 ..< count + added).map(syntheticIdentifier)
        try writeSyntheticIndex(Matrix(rows: count, columns: dimension, storage: Array(all.storage[0 ..< count * dimension])),
                                float16: float16, to: directory)
        var options = IndexBuildOptions(factory: factory)
        log("building \(factory)")
        let buildStart = Date()
        _ = try IndexUpdate().apply(to: directory, options: options)
        let buildSeconds = Date().timeIntervalSince(buildStart)

        let before = fileStates(directory)
        let indexBytes = before.values.reduce(0) { $0 + $1.size }
        var random = SplitMix64(seed: 17)
        var removals = Set<String>()
        while removals.count < removedCount { removals.insert(identifiers[Int(random.next() % UInt64(count))]) }
        let additions = (count ..< count + added).map { row in
            (identifier: identifiers[row], descriptor: Array(all.storage[row * dimension ..< (row + 1) * dimension]))
        }
        log("updating: +\(added), −\(removedCount)")
        let updateStart = Date()
        _ = try IndexUpdate(additions: additions, removals: removals).apply(to: directory, options: options)
        let updateSeconds = Date().timeIntervalSince(updateStart)
        let after = fileStates(directory)
        let written = after.filter { before[$0.key] != $0.value }.mapValues(\.size)

        // Search quality of the updated index, and of one trained afresh on the same rows.
        let queries = Matrix(rows: queryCount, columns: dimension,
                             storage: Array(all.storage[(count + added) * dimension ..< (count + added + queryCount) * dimension]))
        let updatedManifest = try JSONDecoder().decode(IndexManifest.self, from: Data(contentsOf: directory.appendingPathComponent(IndexManifest.fileName)))
        let store = try IndexSegments.open(directory, manifest: updatedManifest, checksumLimit: 0)
        let truth = FlatIndex(rows: store.rows).search(queries, k: 10)
        let updated = try store.vectorIndex(factory, savedAt: directory.appendingPathComponent(IndexLayout.vectorIndexFileName))
        log("training \(factory) afresh for comparison")
        let rebuilt = try VectorIndexBuilder.build(factory, rows: store.rows, progress: nil)

        log("compacting")
        options.compact = true
        let compactStart = Date()
        let compaction = try IndexUpdate().apply(to: directory, options: options)
        return IndexUpdateReport(
            count: count, dimension: dimension, factory: factory.description, float16: float16, indexBytes: indexBytes,
            buildSeconds: buildSeconds, added: added, removed: removedCount, updateSeconds: updateSeconds,
            writtenFiles: written, writtenFraction: Double(written.values.reduce(0, +)) / Double(max(1, indexBytes)),
            recallAt10AfterUpdate: ApproximateSearchBenchmark.recall(updated.search(queries, k: 10), truth, at: 10),
            recallAt10Rebuilt: ApproximateSearchBenchmark.recall(rebuilt.search(queries, k: 10), truth, at: 10),
            compactSeconds: Date().timeIntervalSince(compactStart), compactBytesWritten: compaction.descriptorBytesWritten)
    }

    static func syntheticIdentifier(_ row: Int) -> String { String(format: "images/%09d.jpg", row) }

    /// An index directory over `vectors` named `images/NNNNNNNNN.jpg` (no files exist for them), searched
    /// exactly: the input of update, kNN-graph and database benchmarks at scales no photo folder here has.
    public static func writeSyntheticIndex(_ vectors: Matrix, float16: Bool = false, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try DescriptorStoreWriter.write(vectors, identifiers: (0 ..< vectors.rows).map(syntheticIdentifier), metadata: ["descriptor": "synthetic"],
                                        elementType: float16 ? .float16 : .float32,
                                        to: directory.appendingPathComponent(IndexLayout.storeFileName))
        let manifest = IndexManifest(descriptor: "synthetic", dimension: vectors.columns, imageRoot: directory.path, count: vectors.rows)
        try DurableFile.write(try JSONEncoder().encode(manifest.sealed()), to: directory.appendingPathComponent(IndexManifest.fileName))
    }

    /// `writeSyntheticIndex` over `count` clustered unit vectors (`ClusteredVectors`, fixed seeds).
    public static func writeSyntheticIndex(count: Int, dimension: Int, to directory: URL) throws {
        let vectors = ClusteredVectors.generate(count: count, dimension: dimension, clusters: max(16, count / 1000), seed: 5, sampleSeed: 6)
        try writeSyntheticIndex(vectors, to: directory)
    }

    struct FileState: Equatable {
        var size: Int
        var inode: UInt64
        var modified: Double
    }

    /// Size, inode and modification time of each file: a file replaced by a rename has a new inode.
    static func fileStates(_ directory: URL) -> [String: FileState] {
        var states: [String: FileState] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path),
                  (attributes[.type] as? FileAttributeType) == .typeRegular else { continue }
            states[name] = FileState(size: (attributes[.size] as? Int) ?? 0,
                                     inode: (attributes[.systemFileNumber] as? UInt64) ?? 0,
                                     modified: (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        }
        return states
    }
}

extension IndexUpdateBenchmark {
    /// Adds `count` synthetic descriptors (unit vectors, clustered like real ones) to the index at
    /// `directory` as images `distractors/NNNNNNNNN.jpg` that have no files, so that a service or search
    /// benchmark runs real queries at that scale. The real images keep ranking first for their own
    /// photographs; the distractors only make the search as large as it would be.
    /// - Returns: the images in the index afterwards.
    public static func addDistractors(to directory: URL, count: Int, seed: UInt64 = 23,
                                      log: (String) -> Void) throws -> Int {
        let index = try RetrievalIndex.open(directory)
        let dimension = index.store.dimension
        log("generating \(count) distractors of \(dimension) components")
        let vectors = ClusteredVectors.generate(count: count, dimension: dimension, clusters: max(16, count / 1000),
                                                seed: seed, sampleSeed: seed + 1)
        let additions = (0 ..< count).map { row in
            (identifier: String(format: "distractors/%09d.jpg", row), descriptor: vectors.row(row))
        }
        log("adding them to \(directory.path)")
        _ = try IndexUpdate(additions: additions).apply(to: directory)
        return try RetrievalIndex.open(directory).store.count
    }
}
