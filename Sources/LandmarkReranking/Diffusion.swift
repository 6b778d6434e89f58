import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkStorage

/// The index side of diffusion (Iscen, Tolias, Avrithis, Furon, Chum, CVPR 2017): the mutual k-nearest-
/// neighbour graph of the index descriptors, stored as the symmetrically normalised affinity
/// S = D^(-1/2) W D^(-1/2) in compressed rows.
///
/// Two images are joined only when each is among the other's k nearest neighbours (the image itself
/// counting as one of them, as in the authors' code); the edge weight is max(similarity, 0)^γ, and the
/// diagonal is empty. Mutual neighbourhoods keep hubs — images close to everything — from spreading
/// relevance across landmarks. Built once per index and descriptor state, then reused by every query.
public struct DiffusionGraph: Sendable, Equatable {
    /// Rows of the index the graph was built over.
    public let nodes: Int
    /// k: neighbours per image, the image itself included.
    public let neighbours: Int
    /// γ: exponent of the similarities.
    public let exponent: Float
    /// Compressed rows of W (unnormalised affinities): row i holds columns[rowStarts[i] ..< rowStarts[i+1]].
    public let rowStarts: [Int]
    public let columns: [Int32]
    public let weights: [Float]

    /// Builds the graph from the rows of `database` (L2-normalised descriptors).
    /// - Complexity: one exact k-nearest-neighbour search of the database against itself (BLAS), then
    ///   O(nodes × k) to keep the mutual pairs.
    public init(database: Matrix, neighbours: Int, exponent: Float = 3) {
        precondition(neighbours >= 1, "diffusion needs at least one neighbour per image")
        let lists = ExactSearch(database: database).search(database, k: neighbours)
        self.init(nodes: database.rows, neighbours: neighbours, exponent: exponent, lists: lists)
    }

    /// Builds the graph from precomputed neighbour lists (best first, the image itself included).
    public init(nodes: Int, neighbours: Int, exponent: Float, lists: [[Neighbor]]) {
        precondition(lists.count == nodes, "one neighbour list per node")
        let members = lists.map { Set($0.lazy.map(\.index)) }
        var rowStarts = [0]
        var columns: [Int32] = []
        var weights: [Float] = []
        rowStarts.reserveCapacity(nodes + 1)
        for (node, list) in lists.enumerated() {
            var row: [(Int, Float)] = []
            for neighbour in list where neighbour.index != node && members[neighbour.index].contains(node) {
                row.append((neighbour.index, Self.affinity(neighbour.score, exponent: exponent)))
            }
            row.sort { $0.0 < $1.0 }
            for (column, weight) in row where weight > 0 {
                columns.append(Int32(column))
                weights.append(weight)
            }
            rowStarts.append(columns.count)
        }
        self.init(nodes: nodes, neighbours: neighbours, exponent: exponent, rowStarts: rowStarts, columns: columns, weights: weights)
    }

    /// D^(-1/2): every query's solve uses it, so it is computed once with the graph (0 for an isolated node).
    let inverseRootDegree: [Double]

    init(nodes: Int, neighbours: Int, exponent: Float, rowStarts: [Int], columns: [Int32], weights: [Float]) {
        self.nodes = nodes
        self.neighbours = neighbours
        self.exponent = exponent
        self.rowStarts = rowStarts
        self.columns = columns
        self.weights = weights
        inverseRootDegree = (0 ..< nodes).map { row in
            var degree = 0.0
            for entry in rowStarts[row] ..< rowStarts[row + 1] { degree += Double(weights[entry]) }
            return degree > 0 ? 1 / degree.squareRoot() : 0
        }
    }

    static func affinity(_ similarity: Float, exponent: Float) -> Float {
        similarity > 0 ? Float(pow(Double(similarity), Double(exponent))) : 0
    }

    /// The graph restricted to `rows` (sorted, distinct), renumbered 0 ..< rows.count: the truncated
    /// variant of the paper, whose normalisation then uses the degrees inside the subgraph.
    public func subgraph(_ rows: [Int]) -> DiffusionGraph {
        var position = [Int: Int32](minimumCapacity: rows.count)
        for (new, row) in rows.enumerated() { position[row] = Int32(new) }
        var rowStarts = [0]
        var columns: [Int32] = []
        var weights: [Float] = []
        for row in rows {
            for entry in entries(of: row) {
                if let column = position[Int(self.columns[entry])] {
                    columns.append(column)
                    weights.append(self.weights[entry])
                }
            }
            rowStarts.append(columns.count)
        }
        return DiffusionGraph(nodes: rows.count, neighbours: neighbours, exponent: exponent,
                              rowStarts: rowStarts, columns: columns, weights: weights)
    }

    private func entries(of row: Int) -> Range<Int> { rowStarts[row] ..< rowStarts[row + 1] }

    /// Solves (I − αS) f = y by conjugate gradients from f = 0, with S the normalised affinity.
    ///
    /// As MATLAB's `pcg`, which the authors call: stop once ‖r‖ ≤ tolerance·‖y‖; if that never happens
    /// within `iterations`, return the iterate whose residual was smallest. Isolated nodes (no mutual
    /// neighbour) keep f = y.
    public func solve(_ y: [Double], alpha: Double, iterations: Int, tolerance: Double) -> [Double] {
        precondition(y.count == nodes, "y needs one entry per node")
        let inverseRootDegree = self.inverseRootDegree
        func apply(_ x: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: nodes)
            columns.withUnsafeBufferPointer { columns in
                weights.withUnsafeBufferPointer { weights in
                    for row in 0 ..< nodes {
                        var sum = 0.0
                        for entry in rowStarts[row] ..< rowStarts[row + 1] {
                            let column = Int(columns[entry])
                            sum += Double(weights[entry]) * inverseRootDegree[column] * x[column]
                        }
                        out[row] = x[row] - alpha * inverseRootDegree[row] * sum
                    }
                }
            }
            return out
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double {
            var sum = 0.0
            for index in a.indices { sum += a[index] * b[index] }
            return sum
        }
        var x = [Double](repeating: 0, count: nodes)
        let normY = dot(y, y).squareRoot()
        guard normY > 0 else { return x }
        var residual = y
        var direction = residual
        var rho = dot(residual, residual)
        var best = x
        var bestResidual = normY
        for _ in 0 ..< iterations {
            let product = apply(direction)
            let curvature = dot(direction, product)
            guard curvature > 0, curvature.isFinite else { break }
            let step = rho / curvature
            for index in 0 ..< nodes {
                x[index] += step * direction[index]
                residual[index] -= step * product[index]
            }
            let normResidual = dot(residual, residual).squareRoot()
            if normResidual <= tolerance * normY { return x }
            if normResidual < bestResidual { bestResidual = normResidual; best = x }
            let next = dot(residual, residual)
            let beta = next / rho
            rho = next
            for index in 0 ..< nodes { direction[index] = residual[index] + beta * direction[index] }
        }
        return best
    }
}

/// Diffusion re-ranking (METHODS.md §3, Iscen et al., CVPR 2017): relevance flows from the query's
/// nearest neighbours along the index's mutual kNN graph, so that images reachable through a chain of
/// close views — the same landmark from the other side, at night — rank high even when they are far
/// from the query itself.
///
/// The query enters as y, the similarities^γ of its `queryNeighbours` nearest index images; the ranking
/// is by the solution f of (I − αS) f = y. Defaults are the paper's for global descriptors (k 50,
/// k_q 10, γ 3, α 0.99, 20 conjugate-gradient iterations, tolerance 1e-6). With `truncation` N, only the
/// query's N most similar images take part (the paper's truncated variant for large indexes).
public struct Diffusion: Sendable, Equatable {
    public var queryNeighbours: Int
    public var alpha: Double
    public var iterations: Int
    public var tolerance: Double
    public var truncation: Int?

    public init(queryNeighbours: Int = 10, alpha: Double = 0.99, iterations: Int = 20, tolerance: Double = 1e-6,
                truncation: Int? = nil) {
        precondition(queryNeighbours >= 1 && iterations >= 1, "diffusion needs a query neighbour and an iteration")
        precondition(alpha > 0 && alpha < 1, "α must lie in (0, 1) for I − αS to be positive definite")
        self.queryNeighbours = queryNeighbours
        self.alpha = alpha
        self.iterations = iterations
        self.tolerance = tolerance
        self.truncation = truncation
    }

    /// The diffusion score of every index row for one query.
    /// - Parameter similarities: the query's similarity to every index row (`nil` for a row the query
    ///   must not use, such as its own).
    public func scores(similarities: [Float], graph: DiffusionGraph, exponent: Float, excluded: Int? = nil) -> [Double] {
        precondition(similarities.count == graph.nodes, "one similarity per graph node")
        // Only the seeds (and the truncated rows) are needed: a bounded selection, not a sort of the index.
        let order = Self.descending(similarities, excluded: excluded, count: max(truncation ?? 0, queryNeighbours))
        let seeds = order.prefix(queryNeighbours)
        guard let truncation, truncation < graph.nodes else {
            var y = [Double](repeating: 0, count: graph.nodes)
            for row in seeds { y[row] = Double(DiffusionGraph.affinity(similarities[row], exponent: exponent)) }
            return graph.solve(y, alpha: alpha, iterations: iterations, tolerance: tolerance)
        }
        let kept = order.prefix(max(truncation, queryNeighbours)).sorted()
        let local = graph.subgraph(kept)
        var position = [Int: Int](minimumCapacity: kept.count)
        for (new, row) in kept.enumerated() { position[row] = new }
        var y = [Double](repeating: 0, count: kept.count)
        for row in seeds { if let new = position[row] { y[new] = Double(DiffusionGraph.affinity(similarities[row], exponent: exponent)) } }
        let solution = local.solve(y, alpha: alpha, iterations: iterations, tolerance: tolerance)
        var scores = [Double](repeating: 0, count: graph.nodes)
        for (new, row) in kept.enumerated() { scores[row] = solution[new] }
        return scores
    }

    /// Re-ranks `ranking`: rows the diffusion reached (score > 0), best first; then the rest in their
    /// previous order.
    public func rerank(_ ranking: [Int], scores: [Double]) -> [Int] {
        let reached = ranking.filter { scores[$0] > 0 }
            .enumerated().sorted { a, b in
                scores[a.element] != scores[b.element] ? scores[a.element] > scores[b.element] : a.offset < b.offset
            }.map(\.element)
        return reached + ranking.filter { !(scores[$0] > 0) }
    }

    /// The first `count` rows (all when nil) by decreasing similarity, ties by row, the excluded row left out.
    static func descending(_ similarities: [Float], excluded: Int?, count: Int? = nil) -> [Int] {
        let wanted = min(count ?? similarities.count, similarities.count)
        let best = similarities.withUnsafeBufferPointer { topK($0, k: min(wanted + 1, similarities.count)) }
        return Array(best.lazy.map(\.index).filter { $0 != excluded }.prefix(wanted))
    }
}

extension DiffusionGraph {
    private static let magic: [UInt8] = Array("LMDG0001".utf8)

    /// The graph as bytes: a header (magic, nodes, k, γ, entries), the compressed rows, then a CRC-32 of
    /// everything before it, so that a damaged cache is recomputed instead of trusted.
    public func serialized() -> [UInt8] {
        var bytes = Self.magic
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt64(nodes)); append(UInt64(neighbours)); append(exponent.bitPattern); append(UInt64(columns.count))
        for start in rowStarts { append(UInt64(start)) }
        for column in columns { append(column) }
        for weight in weights { append(weight.bitPattern) }
        append(CRC32.checksum(bytes))
        return bytes
    }

    /// Reads `serialized()` output; nil when the bytes are not a whole, undamaged graph.
    public init?(serialized bytes: [UInt8]) {
        guard bytes.count >= Self.magic.count + 36, Array(bytes.prefix(Self.magic.count)) == Self.magic else { return nil }
        let body = bytes.count - 4
        var offset = Self.magic.count
        func read<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard offset + MemoryLayout<T>.size <= body else { return nil }
            var value: T = 0
            withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes[offset ..< offset + MemoryLayout<T>.size]) }
            offset += MemoryLayout<T>.size
            return T(littleEndian: value)
        }
        var storedChecksum: UInt32 = 0
        withUnsafeMutableBytes(of: &storedChecksum) { $0.copyBytes(from: bytes[body...]) }
        let checksum = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[..<body])) }
        guard UInt32(littleEndian: storedChecksum) == checksum,
              let nodes = read(UInt64.self), let neighbours = read(UInt64.self), let exponent = read(UInt32.self),
              let entries = read(UInt64.self), nodes < 1 << 40, entries < 1 << 40,
              body - offset == Int(nodes + 1) * 8 + Int(entries) * 8 else { return nil }
        var rowStarts: [Int] = []
        rowStarts.reserveCapacity(Int(nodes) + 1)
        for _ in 0 ... nodes { guard let start = read(UInt64.self) else { return nil }; rowStarts.append(Int(start)) }
        var columns: [Int32] = []
        columns.reserveCapacity(Int(entries))
        for _ in 0 ..< entries { guard let column = read(Int32.self), column >= 0, UInt64(column) < nodes else { return nil }; columns.append(column) }
        var weights: [Float] = []
        weights.reserveCapacity(Int(entries))
        for _ in 0 ..< entries { guard let bits = read(UInt32.self) else { return nil }; weights.append(Float(bitPattern: bits)) }
        guard rowStarts.first == 0, rowStarts.last == Int(entries), zip(rowStarts, rowStarts.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            return nil
        }
        self.init(nodes: Int(nodes), neighbours: Int(neighbours), exponent: Float(bitPattern: exponent),
                  rowStarts: rowStarts, columns: columns, weights: weights)
    }
}
