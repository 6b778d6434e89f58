import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import LandmarkStorage

/// The k nearest other images of every image of an index (or of a contiguous block of its rows): the
/// kNN graph that cleaning and mining start from, and the job that dominates them at scale (a 4M × 4M
/// search on GLDv2), so it is computed in blocks of rows that can run anywhere and be joined.
///
/// The file (`.lmk`) is little-endian: magic `LMKNNG01`, then first row, rows, k (Int64 each), the
/// index's live row count (Int64) and its descriptors' checksum (UInt32, `SegmentedDescriptorStore.fingerprint`),
/// then `rows × k` neighbour rows (Int32, −1 where the index has fewer images) and `rows × k` scores
/// (Float32), then a CRC-32 of everything before it. A block records which index it belongs to, so
/// blocks of another index or of another k are refused when joined.
public struct NeighborGraph: Sendable, Equatable {
    public static let fileExtension = "lmk"
    static let magic = Array("LMKNNG01".utf8)

    /// The index row of the graph's first row.
    public var firstRow: Int
    public var rows: Int
    public var k: Int
    /// Live rows of the index the graph was computed on.
    public var indexCount: Int
    public var indexChecksum: UInt32
    /// `rows × k` neighbour rows, best first, each row's own row left out.
    public var neighbors: [Int32]
    public var scores: [Float]

    /// The neighbours of index row `row` (which must lie in this graph's block).
    public func neighbors(of row: Int) -> ArraySlice<Int32> {
        let start = (row - firstRow) * k
        return neighbors[start ..< start + k]
    }

    /// Computes the block `rows` of the graph of `index` with its search index (exact for `Flat`).
    /// - Parameter threads: cores the search uses; 1 for a Spark task on one core.
    public static func compute(_ index: RetrievalIndex, k: Int, rows range: Range<Int>, threads: Int? = nil) -> NeighborGraph {
        precondition(k > 0 && range.lowerBound >= 0 && range.upperBound <= index.store.count, "rows outside the index")
        var graph = NeighborGraph(firstRow: range.lowerBound, rows: range.count, k: k, indexCount: index.store.count,
                                  indexChecksum: index.store.fingerprint,
                                  neighbors: Array(repeating: -1, count: range.count * k),
                                  scores: Array(repeating: -.infinity, count: range.count * k))
        let batch = 4096
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(range.upperBound, start + batch)
            let queries = index.store.rows(start ..< end)
            // One more than k: each image finds itself, which the graph leaves out.
            let found = index.vectorIndex.search(queries, k: k + 1, parameters: SearchParameters(threads: threads))
            for (offset, hits) in found.enumerated() {
                let row = start + offset
                var column = 0
                for hit in hits where hit.index != row && column < k {
                    graph.neighbors[(row - range.lowerBound) * k + column] = Int32(hit.index)
                    graph.scores[(row - range.lowerBound) * k + column] = hit.score
                    column += 1
                }
            }
            start = end
        }
        return graph
    }

    // MARK: - File

    public func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(8 + 40 + neighbors.count * 8 + 4)
        for value in [Int64(firstRow), Int64(rows), Int64(k), Int64(indexCount)] { Self.append(value, to: &bytes) }
        Self.append(indexChecksum, to: &bytes)
        neighbors.withUnsafeBytes { bytes.append(contentsOf: $0) }
        scores.withUnsafeBytes { bytes.append(contentsOf: $0) }
        Self.append(CRC32.checksum(bytes), to: &bytes)
        return bytes
    }

    /// Writes the block durably (temporary file, flush, rename), so a task run twice leaves one whole file.
    public func write(to url: URL) throws(MiningError) {
        do {
            try DurableFile.write(encoded(), to: url)
        } catch {
            throw MiningError(file: url.path, reason: "cannot write the kNN graph: \(error.reason)")
        }
    }

    public static func read(_ url: URL) throws(MiningError) -> NeighborGraph {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MiningError(file: url.path, reason: "cannot read the kNN graph (missing or unreadable)")
        }
        return try decode([UInt8](data), file: url.path)
    }

    public static func decode(_ bytes: [UInt8], file: String) throws(MiningError) -> NeighborGraph {
        let header = magic.count + 36
        guard bytes.count >= header + 4, Array(bytes.prefix(magic.count)) == magic else {
            throw MiningError(file: file, reason: "not a kNN graph file (no LMKNNG01 header)")
        }
        let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) }
        guard CRC32.checksum(Array(bytes.dropLast(4))) == UInt32(littleEndian: stored) else {
            throw MiningError(file: file, reason: "damaged kNN graph (checksum mismatch); compute it again")
        }
        func int(_ position: Int) -> Int {
            Int(Int64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: magic.count + position * 8, as: Int64.self) }))
        }
        let (firstRow, rows, k, indexCount) = (int(0), int(1), int(2), int(3))
        let checksum = UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: magic.count + 32, as: UInt32.self) })
        guard firstRow >= 0, rows >= 0, k > 0, indexCount >= 0, firstRow <= indexCount, rows <= indexCount - firstRow,
              rows.multipliedReportingOverflow(by: k * 8).overflow == false,
              bytes.count == header + rows * k * 8 + 4 else {
            throw MiningError(file: file, reason: "kNN graph header does not match its size (first row \(firstRow), \(rows) rows, k \(k))")
        }
        let count = rows * k
        var neighbors = [Int32](repeating: 0, count: count)
        var scores = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            neighbors.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[header ..< header + count * 4])) }
            scores.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[header + count * 4 ..< header + count * 8])) }
        }
        guard neighbors.allSatisfy({ $0 >= -1 && Int($0) < indexCount }) else {
            throw MiningError(file: file, reason: "kNN graph names rows outside its index of \(indexCount) images")
        }
        return NeighborGraph(firstRow: firstRow, rows: rows, k: k, indexCount: indexCount, indexChecksum: checksum,
                             neighbors: neighbors, scores: scores)
    }

    /// Joins blocks computed separately (in any order) into the graph of rows `0 ..< indexCount`.
    /// - Throws: when the blocks belong to different indexes or k, overlap, or leave rows out.
    public static func join(_ blocks: [(graph: NeighborGraph, file: String)]) throws(MiningError) -> NeighborGraph {
        guard let first = blocks.first else { throw MiningError(file: "", reason: "no kNN graph blocks to join") }
        var next = 0
        var joined = NeighborGraph(firstRow: 0, rows: first.graph.indexCount, k: first.graph.k, indexCount: first.graph.indexCount,
                                   indexChecksum: first.graph.indexChecksum, neighbors: [], scores: [])
        joined.neighbors.reserveCapacity(joined.rows * joined.k)
        joined.scores.reserveCapacity(joined.rows * joined.k)
        for (graph, file) in blocks.sorted(by: { $0.graph.firstRow < $1.graph.firstRow }) {
            guard graph.k == joined.k, graph.indexCount == joined.indexCount, graph.indexChecksum == joined.indexChecksum else {
                throw MiningError(file: file, reason: "belongs to another index or k (k \(graph.k), \(graph.indexCount) images) than \(first.file)")
            }
            guard graph.firstRow == next else {
                throw MiningError(file: file, reason: graph.firstRow < next ? "overlaps the block before it (starts at row \(graph.firstRow))"
                                                                            : "rows \(next) ..< \(graph.firstRow) are in no block")
            }
            joined.neighbors += graph.neighbors
            joined.scores += graph.scores
            next += graph.rows
        }
        guard next == joined.indexCount else {
            throw MiningError(file: blocks.last?.file ?? "", reason: "rows \(next) ..< \(joined.indexCount) are in no block")
        }
        return joined
    }

    private static func append<Value: FixedWidthInteger>(_ value: Value, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}
