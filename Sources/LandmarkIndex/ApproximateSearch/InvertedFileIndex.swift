import Dispatch
import Foundation
import LandmarkLinearAlgebra

/// An inverted file (METHODS.md §10): k-means cells over the vectors; a query visits only the
/// `probes` cells whose centroids are nearest to it.
///
/// - Flat cells (`IVF<n>,Flat`) hold row numbers; candidates are scored with the full vectors read
///   in place from the store, so the index adds only 4 bytes per vector beside it.
/// - Product-quantised cells (`IVF<n>,PQ<m>`) hold the residual to the cell's centroid in `m`
///   bytes. A candidate's inner product is ⟨q, c⟩ + Σ table entries (asymmetric distance
///   computation); the best `rerankDepth` are then re-scored with the full vectors.
/// - With OPQ (`OPQ<m>,IVF<n>,PQ<m>`) the residuals are rotated before they are quantised, and the
///   tables are made from the rotated query; the rotation keeps inner products, so the cells and
///   the ⟨q, c⟩ term are those of the unrotated vectors.
public struct InvertedFileIndex: VectorIndex {
    public let factory: IndexFactory
    /// The cells' centroids (trained by k-means on a sample of rows).
    public let cells: VisualVocabulary
    /// The residual quantiser, for `PQ` cells.
    public let quantizer: ProductQuantizer?
    /// The rotation applied to residuals before `quantizer`, for OPQ.
    public let rotation: OptimizedProductQuantization?
    let rows: DatabaseRows
    /// Row numbers of each cell, in the order they were added.
    var cellRows: [[Int32]]
    /// Each cell's codes, `quantizer.subquantizers` bytes per row of `cellRows`; empty for flat cells.
    var cellCodes: [[UInt8]]
    /// Rows added so far (rows `0 ..< count` of the store).
    public private(set) var count: Int

    public var dimension: Int { rows.dimension }
    public var cellCount: Int { cells.size }
    /// Cells visited when the search parameters do not say: a sixty-fourth of the cells, at least 8.
    public var defaultProbes: Int { min(cellCount, max(8, cellCount / 64)) }
    /// Product-quantised candidates re-scored with full vectors when the parameters do not say.
    public static let defaultRerankDepth = 256
    /// How many rows ahead of the one being scored are requested from memory.
    static let prefetchDistance = 4

    init(factory: IndexFactory, cells: VisualVocabulary, quantizer: ProductQuantizer?, rotation: OptimizedProductQuantization? = nil,
         rows: DatabaseRows, cellRows: [[Int32]], cellCodes: [[UInt8]], count: Int) {
        self.factory = factory
        self.cells = cells
        self.quantizer = quantizer
        self.rotation = rotation
        self.rows = rows
        self.cellRows = cellRows
        self.cellCodes = cellCodes
        self.count = count
    }

    /// Trains the cells (and the residual quantiser) on a seeded sample of `rows`, then adds every row.
    /// - Parameters:
    ///   - trainingSamples: rows the k-means runs on; 64 per cell by default (FAISS asks for 39–256).
    /// - Throws: `.cannotTrain` when there are fewer rows than cells, or too few for the quantiser.
    public static func build(rows: DatabaseRows, factory: IndexFactory, trainingSamples: Int? = nil, seed: UInt64 = 0,
                             progress: ((Int, Int) -> Void)? = nil) throws(VectorIndexError) -> InvertedFileIndex {
        guard case .invertedFile(let cellCount, let bytes, let rotated) = factory else {
            preconditionFailure("InvertedFileIndex.build needs an IVF factory, got \(factory)")
        }
        try VectorIndexBuilder.validate(factory, count: rows.count, dimension: rows.dimension)
        let sample = rows.sample(maximum: trainingSamples ?? max(cellCount * 64, 10_000), seed: seed)
        let cells: VisualVocabulary
        do {
            cells = try VisualVocabulary.train(sample, size: cellCount, iterations: 20, seed: seed,
                                               maximumSamples: sample.rows, seeding: .randomRows)
        } catch {
            throw VectorIndexError(code: .cannotTrain, file: factory.description, reason: error.reason)
        }
        var quantizer: ProductQuantizer?
        var rotation: OptimizedProductQuantization?
        if let bytes {
            // As FAISS's OPQ pre-transform: the rotation is learnt on the vectors, the quantiser on
            // the rotated residuals.
            if rotated { rotation = try OptimizedProductQuantization.train(sample, subquantizers: bytes, seed: seed &+ 2) }
            let residuals = residualsToCells(sample, cells: cells, assignment: cells.nearestWords(sample))
            quantizer = try ProductQuantizer.train(rotation?.rotate(residuals) ?? residuals, subquantizers: bytes, seed: seed &+ 1)
        }
        var index = InvertedFileIndex(factory: factory, cells: cells, quantizer: quantizer, rotation: rotation, rows: rows,
                                      cellRows: Array(repeating: [], count: cellCount),
                                      cellCodes: Array(repeating: [], count: quantizer == nil ? 0 : cellCount), count: 0)
        index.addRemainingRows(progress: progress)
        return index
    }

    /// Assigns (and encodes) the rows of the store not yet in the index, in batches.
    public mutating func addRemainingRows(batchSize: Int = 65_536, progress: ((Int, Int) -> Void)? = nil) {
        while count < rows.count {
            let range = count ..< min(rows.count, count + batchSize)
            let batch = rows.matrix(range)
            let assignment = cells.nearestWords(batch)
            let codes = quantizer.map { quantizer in
                let residuals = Self.residualsToCells(batch, cells: cells, assignment: assignment)
                return quantizer.encode(rotation?.rotate(residuals) ?? residuals)
            }
            let width = quantizer?.subquantizers ?? 0
            for (offset, cell) in assignment.enumerated() {
                cellRows[Int(cell)].append(Int32(range.lowerBound + offset))
                if let codes { cellCodes[Int(cell)].append(contentsOf: codes[offset * width ..< (offset + 1) * width]) }
            }
            count = range.upperBound
            progress?(count, rows.count)
        }
    }

    /// Appends rows `count ..< count + cells.count`, already assigned (and encoded: `codes` holds
    /// `quantizer.subquantizers` bytes per row), as read back from an additions file.
    mutating func appendAssignedRows(cells assigned: [UInt32], codes: [UInt8]) {
        let width = quantizer?.subquantizers ?? 0
        for (offset, cell) in assigned.enumerated() {
            cellRows[Int(cell)].append(Int32(count + offset))
            if width > 0 { cellCodes[Int(cell)].append(contentsOf: codes[offset * width ..< (offset + 1) * width]) }
        }
        count += assigned.count
    }

    /// The cell (and code) of every row from `first` on, in row order: what an additions file holds.
    func assignedRows(from first: Int) -> (cells: [UInt32], codes: [UInt8]) {
        let width = quantizer?.subquantizers ?? 0
        var cells = [UInt32](repeating: 0, count: max(0, count - first))
        var codes = [UInt8](repeating: 0, count: cells.count * width)
        for cell in 0 ..< cellCount {
            for (position, row) in cellRows[cell].enumerated() where Int(row) >= first {
                let offset = Int(row) - first
                cells[offset] = UInt32(cell)
                if width > 0 {
                    codes.replaceSubrange(offset * width ..< (offset + 1) * width,
                                          with: cellCodes[cell][position * width ..< (position + 1) * width])
                }
            }
        }
        return (cells, codes)
    }

    static func residualsToCells(_ vectors: Matrix, cells: VisualVocabulary, assignment: [Int32]) -> Matrix {
        var residuals = vectors
        let dimension = vectors.columns
        for row in 0 ..< vectors.rows {
            let cell = Int(assignment[row])
            for component in 0 ..< dimension {
                residuals.storage[row * dimension + component] -= cells.centroids.storage[cell * dimension + component]
            }
        }
        return residuals
    }

    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        precondition(queries.columns == dimension, "Queries have dimension \(queries.columns), the index \(dimension)")
        let k = min(k, count)
        guard queries.rows > 0 else { return [] }
        guard k > 0 else { return Array(repeating: [], count: queries.rows) }
        let probes = min(cellCount, max(1, parameters.probes ?? defaultProbes))
        // ⟨q, c⟩ for every query and cell in one product; it both picks the cells and, for PQ,
        // is the cell's share of every candidate's score.
        let products = queries.multiplied(byTransposeOf: cells.centroids)
        let tableQueries = quantizer == nil ? queries : rotation?.rotate(queries) ?? queries
        let threads = max(1, min(parameters.threads ?? ProcessInfo.processInfo.activeProcessorCount, queries.rows))
        let results = ResultSlots<[Neighbor]>(count: queries.rows, initial: [])
        let index = self
        let work: @Sendable (Int) -> Void = { worker in
            var scratch: [Float] = []
            var table = [Float](repeating: 0, count: (index.quantizer?.subquantizers ?? 0) * ProductQuantizer.centroidsPerSubquantizer)
            for query in stride(from: worker, to: queries.rows, by: threads) {
                let cellProducts = Array(products.storage[query * index.cellCount ..< (query + 1) * index.cellCount])
                let visited = index.nearestCells(cellProducts, probes: probes)
                let hits = queries.storage.withUnsafeBufferPointer { buffer -> [Neighbor] in
                    guard let base = buffer.baseAddress else { return [] }
                    let vector = base + query * index.dimension
                    if index.quantizer != nil {
                        return tableQueries.storage.withUnsafeBufferPointer { rotated in
                            // The query itself unless OPQ rotated a copy.
                            let tableQuery = (rotated.baseAddress ?? base) + query * index.dimension
                            return index.searchQuantized(vector, tableQuery: tableQuery, cells: visited, cellProducts: cellProducts, k: k,
                                                         rerankDepth: parameters.rerankDepth ?? Self.defaultRerankDepth,
                                                         table: &table, scratch: &scratch)
                        }
                    }
                    return index.searchFlat(vector, cells: visited, k: k, scratch: &scratch)
                }
                results.set(query, hits)
            }
        }
        if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        return results.values
    }

    /// The `probes` cells nearest to the query by squared L2 (‖c‖² − 2⟨q, c⟩; ‖q‖² is common).
    func nearestCells(_ products: [Float], probes: Int) -> [Int] {
        var nearest = TopKAccumulator(capacity: probes)
        let closeness = zip(products, cells.centroidSquaredNorms).map { 2 * $0 - $1 }
        closeness.withUnsafeBufferPointer { nearest.add($0, firstIndex: 0) }
        return nearest.sorted().map(\.index)
    }

    private func searchFlat(_ query: UnsafePointer<Float>, cells visited: [Int], k: Int, scratch: inout [Float]) -> [Neighbor] {
        var best = TopKAccumulator(capacity: k)
        for cell in visited {
            let members = cellRows[cell]
            for (position, row) in members.enumerated() {
                // A few rows ahead, so their loads overlap this row's product.
                if position + Self.prefetchDistance < members.count { rows.prefetch(Int(members[position + Self.prefetchDistance])) }
                let score = rows.withRow(Int(row), scratch: &scratch) { innerProduct(query, $0, count: dimension) }
                best.add(score: score, index: Int(row))
            }
        }
        return best.sorted()
    }

    /// - Parameter tableQuery: the query as the codes see it (rotated, with OPQ).
    private func searchQuantized(_ query: UnsafePointer<Float>, tableQuery: UnsafePointer<Float>, cells visited: [Int], cellProducts: [Float], k: Int,
                                 rerankDepth: Int, table: inout [Float], scratch: inout [Float]) -> [Neighbor] {
        guard let quantizer else { return [] }
        let width = quantizer.subquantizers
        let stride = ProductQuantizer.centroidsPerSubquantizer
        var shortlist = TopKAccumulator(capacity: max(k, rerankDepth))
        // Candidates are numbered by their position in the visited cells, so each cell's scores go
        // to the heap as one buffer; `visitedRows` maps positions back to rows.
        var visitedRows: [Int32] = []
        var scores: [Float] = []
        table.withUnsafeMutableBufferPointer { table in
            guard let tableBase = table.baseAddress else { return }
            quantizer.innerProductTable(tableQuery, into: tableBase)
            for cell in visited {
                let members = cellRows[cell].count
                guard members > 0 else { continue }
                if scores.count < members { scores = [Float](repeating: 0, count: members) }
                let base = cellProducts[cell]
                cellCodes[cell].withUnsafeBufferPointer { codes in
                    scores.withUnsafeMutableBufferPointer { scores in
                        guard var code = codes.baseAddress, let output = scores.baseAddress else { return }
                        for entry in 0 ..< members {
                            var sum0 = base, sum1: Float = 0, sum2: Float = 0, sum3: Float = 0
                            var part = 0
                            var lookup = UnsafePointer(tableBase)
                            while part + 4 <= width {
                                sum0 += lookup[Int(code[part])]
                                sum1 += lookup[stride + Int(code[part + 1])]
                                sum2 += lookup[2 * stride + Int(code[part + 2])]
                                sum3 += lookup[3 * stride + Int(code[part + 3])]
                                lookup += 4 * stride
                                part += 4
                            }
                            while part < width {
                                sum0 += lookup[Int(code[part])]
                                lookup += stride
                                part += 1
                            }
                            output[entry] = (sum0 + sum1) + (sum2 + sum3)
                            code += width
                        }
                    }
                }
                scores.withUnsafeBufferPointer { scores in
                    shortlist.add(UnsafeBufferPointer(rebasing: scores[0 ..< members]), firstIndex: visitedRows.count)
                }
                visitedRows.append(contentsOf: cellRows[cell])
            }
        }
        let candidates = shortlist.sorted().map { Neighbor(index: Int(visitedRows[$0.index]), score: $0.score) }
        guard rerankDepth > 0 else { return Array(candidates.prefix(k)) }
        var best = TopKAccumulator(capacity: k)
        for (position, candidate) in candidates.enumerated() {
            if position + Self.prefetchDistance < candidates.count { rows.prefetch(candidates[position + Self.prefetchDistance].index) }
            let score = rows.withRow(candidate.index, scratch: &scratch) { innerProduct(query, $0, count: dimension) }
            best.add(score: score, index: candidate.index)
        }
        return best.sorted()
    }
}
