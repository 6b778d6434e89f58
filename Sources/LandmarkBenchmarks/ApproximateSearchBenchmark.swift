#if canImport(Glibc)
import Glibc
#endif
import Foundation
@_spi(Benchmarks) import LandmarkIndex
@_spi(Benchmarks) import LandmarkLinearAlgebra

/// Synthetic descriptors for search benchmarks: unit vectors near a 64-dimensional random subspace,
/// in clusters, plus a little isotropic noise. Real CNN descriptors are likewise concentrated on far
/// fewer directions than their dimension, which is what makes approximate search work at all;
/// isotropic random vectors would make every method look bad and say nothing.
public enum ClusteredVectors {
    public static let intrinsicDimension = 64

    /// `count` rows of `dimension` components; `seed` picks the subspace and clusters, `sampleSeed` the points
    /// (queries use the same `seed` with another `sampleSeed`, so they come from the same distribution).
    public static func generate(count: Int, dimension: Int, clusters: Int, seed: UInt64, sampleSeed: UInt64) -> Matrix {
        let latent = min(intrinsicDimension, dimension)
        var random = SplitMix64(seed: seed)
        let basis = gaussian(rows: dimension, columns: latent, scale: 1 / Float(latent).squareRoot(), random: &random)
        let centres = gaussian(rows: max(1, clusters), columns: latent, scale: 1, random: &random)
        var pointRandom = SplitMix64(seed: sampleSeed)
        var result = Matrix(rows: count, columns: dimension)
        let block = 65_536
        for start in stride(from: 0, to: count, by: block) {
            let rows = min(block, count - start)
            var codes = gaussian(rows: rows, columns: latent, scale: 0.6, random: &pointRandom)
            for row in 0 ..< rows {
                let cluster = Int(pointRandom.next() % UInt64(centres.rows))
                for component in 0 ..< latent { codes.storage[row * latent + component] += centres.storage[cluster * latent + component] }
            }
            var points = codes.multiplied(byTransposeOf: basis)
            let noise = gaussian(rows: rows, columns: dimension, scale: 0.15 / Float(dimension).squareRoot(), random: &pointRandom)
            for index in points.storage.indices { points.storage[index] += noise.storage[index] }
            points.normalizeRows()
            result.storage.replaceSubrange(start * dimension ..< (start + rows) * dimension, with: points.storage)
        }
        return result
    }

    static func gaussian(rows: Int, columns: Int, scale: Float, random: inout SplitMix64) -> Matrix {
        var storage = [Float](repeating: 0, count: rows * columns)
        var index = 0
        while index < storage.count {
            // Box–Muller: two normal deviates per pair of uniforms.
            let u1 = max(random.nextUnit(), 1e-300), u2 = random.nextUnit()
            let radius = (-2 * Foundation.log(u1)).squareRoot()
            storage[index] = Float(radius * Foundation.cos(2 * Double.pi * u2)) * scale
            if index + 1 < storage.count { storage[index + 1] = Float(radius * Foundation.sin(2 * Double.pi * u2)) * scale }
            index += 2
        }
        return Matrix(rows: rows, columns: columns, storage: storage)
    }
}

/// One index measured by `ApproximateSearchBenchmark`.
public struct ApproximateSearchMeasurement: Sendable, Codable {
    public var factory: String
    /// The search parameters of this row (`nprobe`, `efSearch`, re-ranking depth).
    public var parameters: SearchParameters
    public var buildSeconds: Double
    /// Growth of the resident set while building (MB); the store itself is mapped, not counted.
    public var buildMemoryMegabytes: Double
    public var queriesPerSecondOneThread: Double
    public var queriesPerSecondAllThreads: Double
    public var recallAt1: Double
    public var recallAt10: Double
    public var recallAt100: Double
}

/// What `landmark bench search` prints.
public struct ApproximateSearchReport: Sendable, Codable {
    public var count: Int
    public var dimension: Int
    public var float16: Bool
    public var queries: Int
    public var threads: Int
    public var storeBytes: Int
    public var openSeconds: Double
    /// Growth of private (non-file-backed) resident memory from opening the store and from the first
    /// exact query (MB): near zero when nothing is copied.
    public var openMemoryMegabytes: Double
    public var firstQueryMemoryMegabytes: Double
    public var peakResidentMegabytes: Double
    public var measurements: [ApproximateSearchMeasurement]

    public var table: String {
        var lines = [String(format: "%d × %d %@ vectors (store %.2f GB), %d queries; open %.3f s (private memory +%.0f MB), first exact query +%.0f MB; peak RSS %.0f MB",
                            count, dimension, float16 ? "float16" : "float32", Double(storeBytes) / 1e9, queries, openSeconds,
                            openMemoryMegabytes, firstQueryMemoryMegabytes, peakResidentMegabytes)]
        func padded(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        lines.append(padded("index", 14) + padded("parameters", 22) + "build s  build MB    QPS@1    QPS@\(threads)    R@1    R@10   R@100")
        for row in measurements {
            var parameters: [String] = []
            if let probes = row.parameters.probes { parameters.append("nprobe=\(probes)") }
            if let ef = row.parameters.efSearch { parameters.append("ef=\(ef)") }
            if let depth = row.parameters.rerankDepth { parameters.append("rerank=\(depth)") }
            lines.append(padded(row.factory, 14) + padded(parameters.joined(separator: ","), 22)
                + String(format: "%7.1f %9.0f %8.0f %8.0f  %.3f  %.3f  %.3f", row.buildSeconds, row.buildMemoryMegabytes,
                         row.queriesPerSecondOneThread, row.queriesPerSecondAllThreads,
                         row.recallAt1, row.recallAt10, row.recallAt100))
        }
        return lines.joined(separator: "\n")
    }
}

/// Build time, memory, queries per second at one and all threads, and recall against exact search,
/// for exact, inverted-file and graph indexes over one synthetic store read from its memory map.
public enum ApproximateSearchBenchmark {
    /// - Parameters:
    ///   - factories: indexes to measure besides exact search.
    ///   - sweeps: search parameters to measure per factory kind (nprobe for IVF, efSearch for HNSW).
    ///   - dataDirectory: where the store (and, for the FAISS script, raw `database.f32`/`queries.f32`) go.
    public static func run(count: Int, dimension: Int, queries queryCount: Int, float16: Bool,
                           factories: [IndexFactory], probes: [Int], efSearch: [Int], rerankDepth: Int?,
                           dataDirectory: URL, exportRaw: Bool,
                           log: (String) -> Void) throws -> ApproximateSearchReport {
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let clusters = max(1, count / 1000)
        let storeURL = dataDirectory.appendingPathComponent("descriptors.lmd")
        let databaseFile = dataDirectory.appendingPathComponent("database.f32")
        let queriesFile = dataDirectory.appendingPathComponent("queries.f32")
        // Raw vectors already in the directory (e.g. real descriptors) are measured instead of synthetic ones.
        let given = !exportRaw && FileManager.default.fileExists(atPath: databaseFile.path) && FileManager.default.fileExists(atPath: queriesFile.path)
        func readRaw(_ url: URL) throws -> Matrix {
            let data = try Data(contentsOf: url)
            let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            return Matrix(rows: values.count / dimension, columns: dimension, storage: Array(values.prefix(values.count / dimension * dimension)))
        }
        log(given ? "reading \(databaseFile.path) …" : "generating \(count) × \(dimension) clustered vectors …")
        do {
            let database = given ? try readRaw(databaseFile)
                : ClusteredVectors.generate(count: count, dimension: dimension, clusters: clusters, seed: 1, sampleSeed: 2)
            let count = database.rows
            let identifiers = (0 ..< count).map { "v\($0)" }
            try DescriptorStoreWriter.write(database, identifiers: identifiers, metadata: ["descriptor": "synthetic"],
                                            elementType: float16 ? .float16 : .float32, to: storeURL)
            if exportRaw {
                try Data(bytes: database.storage, count: database.storage.count * 4)
                    .write(to: dataDirectory.appendingPathComponent("database.f32"))
            }
        }
        let queries = given ? try readRaw(queriesFile)
            : ClusteredVectors.generate(count: queryCount, dimension: dimension, clusters: clusters, seed: 1, sampleSeed: 3)
        let queryCount = queries.rows
        if exportRaw {
            try Data(bytes: queries.storage, count: queries.storage.count * 4).write(to: dataDirectory.appendingPathComponent("queries.f32"))
        }

        // Open as a search would: mapped, header checks only.
        let beforeOpen = residentMegabytes()
        var store: DescriptorStore?
        let openSeconds = measure { store = try? DescriptorStore.open(storeURL, verifyChecksum: false) }
        guard let store else { throw DescriptorStoreError(code: .io, file: storeURL.path, reason: "cannot reopen the store just written") }
        let openMemory = residentMegabytes() - beforeOpen
        let rows = DatabaseRows(store)
        let flat = FlatIndex(rows: rows)
        let beforeQuery = residentMegabytes()
        _ = flat.search(Matrix(rows: 1, columns: dimension, storage: queries.row(0)), k: 100)
        let firstQueryMemory = residentMegabytes() - beforeQuery

        let previousThreads = BLAS.threadCount
        defer { BLAS.setThreadCount(previousThreads) }
        func timedSearch(_ index: any VectorIndex, _ parameters: SearchParameters, threads: Int) -> (Double, [[Neighbor]]) {
            // Approximate indexes spread queries over their own threads; BLAS threads left spinning
            // after their small products would compete with them for the cores.
            BLAS.setThreadCount(index.factory.isExact ? threads : 1)
            var parameters = parameters
            parameters.threads = threads
            var hits: [[Neighbor]] = []
            var best = Double.infinity
            for _ in 0 ..< 2 { best = min(best, measure { hits = index.search(queries, k: 100, parameters: parameters) }) }
            return (Double(queryCount) / best, hits)
        }
        log("exact search …")
        let (exactOne, truth) = timedSearch(flat, SearchParameters(), threads: 1)
        let (exactAll, _) = timedSearch(flat, SearchParameters(), threads: threads)
        var measurements = [ApproximateSearchMeasurement(
            factory: flat.factory.description, parameters: SearchParameters(), buildSeconds: 0, buildMemoryMegabytes: 0,
            queriesPerSecondOneThread: exactOne, queriesPerSecondAllThreads: exactAll,
            recallAt1: 1, recallAt10: 1, recallAt100: 1)]
        for factory in factories where !factory.isExact {
            log("building \(factory) …")
            BLAS.setThreadCount(threads)
            let beforeBuild = residentMegabytes()
            var index: (any VectorIndex)?
            var failure: VectorIndexError?
            let buildSeconds = measure {
                do throws(VectorIndexError) {
                    index = try VectorIndexBuilder.build(factory, rows: rows, progress: nil)
                } catch { failure = error }
            }
            if let failure { throw failure }
            guard let index else { continue }
            let buildMemory = residentMegabytes() - beforeBuild
            let sweep: [SearchParameters]
            switch factory {
            case .invertedFile(_, let bytes, _):
                sweep = probes.map { SearchParameters(probes: $0, rerankDepth: bytes == nil ? nil : rerankDepth) }
            case .hierarchicalGraph:
                sweep = efSearch.map { SearchParameters(efSearch: $0) }
            case .flat:
                sweep = []
            }
            for parameters in sweep {
                log("searching \(factory) (nprobe \(parameters.probes.map(String.init) ?? "-"), efSearch \(parameters.efSearch.map(String.init) ?? "-")) …")
                let (one, hits) = timedSearch(index, parameters, threads: 1)
                let (all, _) = timedSearch(index, parameters, threads: threads)
                measurements.append(ApproximateSearchMeasurement(
                    factory: factory.description, parameters: parameters, buildSeconds: buildSeconds,
                    buildMemoryMegabytes: buildMemory, queriesPerSecondOneThread: one, queriesPerSecondAllThreads: all,
                    recallAt1: recall(hits, truth, at: 1), recallAt10: recall(hits, truth, at: 10),
                    recallAt100: recall(hits, truth, at: 100)))
            }
        }
        return ApproximateSearchReport(count: store.count, dimension: dimension, float16: float16, queries: queryCount,
                                       threads: threads, storeBytes: store.fileSize, openSeconds: openSeconds,
                                       openMemoryMegabytes: openMemory, firstQueryMemoryMegabytes: firstQueryMemory,
                                       peakResidentMegabytes: CNNExtractionBenchmark.peakResidentMegabytes(), measurements: measurements)
    }

    /// |found top-k ∩ exact top-k| / k, averaged over queries.
    static func recall(_ found: [[Neighbor]], _ truth: [[Neighbor]], at k: Int) -> Double {
        var total = 0.0
        for (hits, exact) in zip(found, truth) {
            let expected = Set(exact.prefix(k).map(\.index))
            guard !expected.isEmpty else { continue }
            total += Double(hits.prefix(k).filter { expected.contains($0.index) }.count) / Double(expected.count)
        }
        return total / Double(max(1, truth.count))
    }

    /// Private (anonymous) resident memory in MB: resident minus file-backed pages (from
    /// /proc/self/statm). Pages of the mapped store that a search touches are file-backed and
    /// shared with the page cache, so they are not counted: a copy of the store would be.
    static func residentMegabytes() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 2, let resident = Double(fields[1]), let shared = Double(fields[2]) else { return 0 }
        return (resident - shared) * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }
}
