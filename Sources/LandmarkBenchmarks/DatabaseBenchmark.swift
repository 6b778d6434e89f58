import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import LandmarkVectorDatabase

/// Search through PostgreSQL + pgvector next to the same search in process, on one synthetic index:
/// queries per second, and how many of the in-process exact top 10 the database returns.
public enum DatabaseBenchmark {
    public struct Line: Sendable, Codable {
        /// `in-process Flat`, `pgvector exact`, `pgvector ivfflat:1000`, …
        public var backend: String
        public var queriesPerSecond: Double
        /// Share of the exact top 10 found (1 for exact search up to ties).
        public var recallAt10: Double
        /// Share of queries whose top 10 is the exact one, in the same order.
        public var identicalTop10: Double
        /// Seconds to copy the vectors into the table (and build its index).
        public var loadSeconds: Double?
    }

    public struct Report: Sendable, Codable {
        public var vectors: Int
        public var dimension: Int
        public var queries: Int
        public var threads: Int
        public var lines: [Line]

        public var table: String {
            var text = "\(vectors) vectors of \(dimension) components, \(queries) queries on \(threads) threads\n"
            text += "backend                      queries/s  recall@10  same top-10  load s\n"
            for line in lines {
                text += line.backend.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: " %9.1f  %9.3f  %11.3f  %6@\n", line.queriesPerSecond, line.recallAt10, line.identicalTop10,
                             line.loadSeconds.map { String(format: "%.0f", $0) } ?? "–")
            }
            return text
        }
    }

    /// - Parameter methods: the database's ways of searching to measure (exact first is best: it is the reference).
    public static func run(count: Int, dimension: Int, queries queryCount: Int, methods: [PgVectorTable.Method], url: String,
                           table: String, directory: URL, threads: Int, log: (String) -> Void) throws -> Report {
        log("generating \(count) vectors of \(dimension) components")
        let vectors = ClusteredVectors.generate(count: count, dimension: dimension, clusters: max(16, count / 1000), seed: 5, sampleSeed: 6)
        let queries = ClusteredVectors.generate(count: queryCount, dimension: dimension, clusters: max(16, count / 1000), seed: 5, sampleSeed: 9)
        try IndexUpdateBenchmark.writeSyntheticIndex(vectors, to: directory)
        let index = try RetrievalIndex.open(directory, describingQueries: false)
        let parameters = SearchParameters(threads: threads)

        var lines: [Line] = []
        func measure(_ name: String, load: Double?, _ search: () throws -> [[Neighbor]], truth: [[Neighbor]]?) rethrows -> [[Neighbor]] {
            let started = Date()
            let found = try search()
            let seconds = Date().timeIntervalSince(started)
            let reference = truth ?? found
            let identical = zip(found, reference).filter { $0.0.map(\.index) == $0.1.map(\.index) }.count
            lines.append(Line(backend: name, queriesPerSecond: Double(queryCount) / seconds,
                              recallAt10: ApproximateSearchBenchmark.recall(found, reference, at: 10),
                              identicalTop10: Double(identical) / Double(max(1, queryCount)), loadSeconds: load))
            log("\(name): \(String(format: "%.1f", Double(queryCount) / seconds)) queries/s")
            return found
        }
        let truth = measure("in-process Flat", load: nil, { index.vectorIndex.search(queries, k: 10, parameters: parameters) }, truth: nil)
        for method in methods {
            log("copying into \(table) (\(method))")
            let started = Date()
            _ = try PgVectorTable.write(name: table, descriptor: index.manifest.descriptor, rows: index.store.rows,
                                        images: index.store.identifiers.map { PgVectorTable.Row(image: $0, label: nil) },
                                        storeChecksum: index.store.fingerprint, method: method, url: url)
            let load = Date().timeIntervalSince(started)
            let remote = try PgVectorIndex(url: url, table: table, expecting: (index.store.count, index.store.fingerprint))
            _ = try measure("pgvector \(method)", load: load, { try remote.searchOrThrow(queries, k: 10, parameters: parameters) }, truth: truth)
        }
        return Report(vectors: count, dimension: dimension, queries: queryCount, threads: threads, lines: lines)
    }
}
