import LandmarkLinearAlgebra

/// Product quantisation (Jégou et al., PAMI 2011): a vector is cut into `subquantizers` equal
/// sub-vectors, each replaced by the nearest of 256 centroids learnt for its sub-space, so a
/// vector costs `subquantizers` bytes.
///
/// Inner products with a query need no decoding: one table of 256 sub-products per sub-space is
/// made per query, and a code's score is the sum of `subquantizers` table entries (asymmetric
/// distance computation).
public struct ProductQuantizer: Sendable, Equatable {
    /// Centroids per sub-quantiser: one byte per sub-vector.
    public static let centroidsPerSubquantizer = 256

    public let dimension: Int
    public let subquantizers: Int
    /// `subquantizers × 256 × subDimension` centroid components, sub-space by sub-space.
    public let codebooks: [Float]
    /// The same, component-major within each sub-space (`[part][component][centroid]`), so that a
    /// query's table is `subDimension` multiply-adds over 256 contiguous centroids per sub-space.
    let componentMajorCodebooks: [Float]

    public var subDimension: Int { dimension / subquantizers }

    init(dimension: Int, subquantizers: Int, codebooks: [Float]) {
        self.dimension = dimension
        self.subquantizers = subquantizers
        self.codebooks = codebooks
        let width = dimension / max(subquantizers, 1), centroids = Self.centroidsPerSubquantizer
        var transposed = [Float](repeating: 0, count: codebooks.count)
        for part in 0 ..< subquantizers {
            for centroid in 0 ..< centroids {
                for component in 0 ..< width {
                    transposed[(part * width + component) * centroids + centroid] =
                        codebooks[(part * centroids + centroid) * width + component]
                }
            }
        }
        componentMajorCodebooks = transposed
    }

    public static func == (lhs: ProductQuantizer, rhs: ProductQuantizer) -> Bool {
        lhs.dimension == rhs.dimension && lhs.subquantizers == rhs.subquantizers && lhs.codebooks == rhs.codebooks
    }

    /// Learns the codebooks by k-means in every sub-space.
    /// - Parameters:
    ///   - vectors: training vectors (for an inverted file, the residuals to their cells).
    ///   - maximumSamples: rows used per sub-space (FAISS uses 256 per centroid, 65,536).
    /// - Throws: `.cannotTrain` when the dimension is not a multiple of `subquantizers` or there are
    ///   fewer than 256 distinct training vectors.
    ///   - iterations: Lloyd iterations per sub-space.
    ///   - start: codebooks to start from instead of random rows (a hot start, as OPQ's alternation
    ///     uses); same dimension and sub-quantisers.
    public static func train(_ vectors: Matrix, subquantizers: Int, seed: UInt64 = 0, maximumSamples: Int = 65_536,
                             iterations: Int = 25, start: ProductQuantizer? = nil) throws(VectorIndexError) -> ProductQuantizer {
        let dimension = vectors.columns
        let name = "PQ\(subquantizers)"
        guard subquantizers >= 1, dimension % subquantizers == 0 else {
            throw VectorIndexError(code: .cannotTrain, file: name,
                                   reason: "the dimension \(dimension) is not a multiple of \(subquantizers) sub-quantisers")
        }
        guard vectors.rows >= centroidsPerSubquantizer else {
            throw VectorIndexError(code: .cannotTrain, file: name,
                                   reason: "\(vectors.rows) training vectors cannot make \(centroidsPerSubquantizer) centroids per sub-space; "
                                       + "product quantisation needs at least \(centroidsPerSubquantizer) (ideally 10,000+) — use IVF<n>,Flat, HNSW or Flat")
        }
        let subDimension = dimension / subquantizers
        var codebooks = [Float]()
        codebooks.reserveCapacity(subquantizers * centroidsPerSubquantizer * subDimension)
        for part in 0 ..< subquantizers {
            let sub = columns(of: vectors, part: part, width: subDimension)
            var seeding = VisualVocabulary.Seeding.randomRows
            if let start, start.dimension == dimension, start.subquantizers == subquantizers {
                let entries = centroidsPerSubquantizer * subDimension
                seeding = .centroids(Matrix(rows: centroidsPerSubquantizer, columns: subDimension,
                                            storage: Array(start.codebooks[part * entries ..< (part + 1) * entries])))
            }
            do {
                let codebook = try VisualVocabulary.train(sub, size: centroidsPerSubquantizer, iterations: iterations,
                                                          seed: seed &+ UInt64(part), maximumSamples: maximumSamples,
                                                          seeding: seeding)
                codebooks.append(contentsOf: codebook.centroids.storage)
            } catch {
                throw VectorIndexError(code: .cannotTrain, file: name, reason: "sub-space \(part): \(error.reason)")
            }
        }
        return ProductQuantizer(dimension: dimension, subquantizers: subquantizers, codebooks: codebooks)
    }

    /// The codes of `vectors`, `subquantizers` bytes per row.
    public func encode(_ vectors: Matrix) -> [UInt8] {
        precondition(vectors.columns == dimension, "Vectors have dimension \(vectors.columns), the quantiser \(dimension)")
        var codes = [UInt8](repeating: 0, count: vectors.rows * subquantizers)
        let width = subDimension, entries = Self.centroidsPerSubquantizer * width
        for part in 0 ..< subquantizers {
            let codebook = VisualVocabulary(centroids: Matrix(rows: Self.centroidsPerSubquantizer, columns: width,
                                                              storage: Array(codebooks[part * entries ..< (part + 1) * entries])))
            let nearest = codebook.nearestWords(Self.columns(of: vectors, part: part, width: width))
            for row in 0 ..< vectors.rows { codes[row * subquantizers + part] = UInt8(truncatingIfNeeded: nearest[row]) }
        }
        return codes
    }

    /// The vectors the codes stand for (sub-space centroids side by side).
    public func decode(_ codes: [UInt8]) -> Matrix {
        let rows = codes.count / subquantizers, width = subDimension
        var result = Matrix(rows: rows, columns: dimension)
        for row in 0 ..< rows {
            for part in 0 ..< subquantizers {
                let centroid = (part * Self.centroidsPerSubquantizer + Int(codes[row * subquantizers + part])) * width
                for component in 0 ..< width {
                    result.storage[row * dimension + part * width + component] = codebooks[centroid + component]
                }
            }
        }
        return result
    }

    /// `table[part × 256 + c]` = the query's sub-vector `part` · centroid `c` of that sub-space.
    func innerProductTable(_ query: UnsafePointer<Float>, into table: UnsafeMutablePointer<Float>) {
        let width = subDimension, centroids = Self.centroidsPerSubquantizer
        componentMajorCodebooks.withUnsafeBufferPointer { codebooks in
            guard let base = codebooks.baseAddress else { return }
            let rawTable = UnsafeMutableRawPointer(table)
            for part in 0 ..< subquantizers {
                let output = rawTable + part * centroids * 4
                // 256 centroids = 32 lanes of 8: accumulate q_d × (component d of every centroid).
                for chunk in 0 ..< centroids / 8 {
                    var sum = SIMD8<Float>()
                    for component in 0 ..< width {
                        let row = UnsafeRawPointer(base + ((part * width + component) * centroids + chunk * 8))
                        sum += SIMD8<Float>(repeating: query[part * width + component]) * row.loadUnaligned(as: SIMD8<Float>.self)
                    }
                    output.storeBytes(of: sum, toByteOffset: chunk * 32, as: SIMD8<Float>.self)
                }
            }
        }
    }

    /// Columns `part × width ..< (part + 1) × width` of `matrix`, as a matrix.
    static func columns(of matrix: Matrix, part: Int, width: Int) -> Matrix {
        var storage = [Float](repeating: 0, count: matrix.rows * width)
        matrix.storage.withUnsafeBufferPointer { source in
            storage.withUnsafeMutableBufferPointer { target in
                for row in 0 ..< matrix.rows {
                    for component in 0 ..< width {
                        target[row * width + component] = source[row * matrix.columns + part * width + component]
                    }
                }
            }
        }
        return Matrix(rows: matrix.rows, columns: width, storage: storage)
    }
}
