import Foundation
import LandmarkLinearAlgebra

/// A learned linear post-processing of global descriptors (METHODS.md §2.5): `x ↦ P (x − μ)`,
/// optionally keeping only the first rows of P, always followed by L2 normalisation.
///
/// Learning follows cirtorch's `pcawhitenlearn` and `whitenlearn` and runs in float64 as numpy
/// does; applying follows `whitenapply` in float32 with BLAS. cirtorch stores descriptors as the
/// columns of a D × N matrix; here, as everywhere in the project, descriptors are *rows*.
///
/// Eigenvector signs are arbitrary (numpy's and LAPACK's choices differ), so each output dimension
/// is given the sign that makes the largest-magnitude entry of its row of P positive. Whitened
/// descriptors therefore agree with cirtorch's up to a fixed sign per output dimension; inner
/// products between whitened descriptors — all that retrieval uses — agree exactly.
public struct Whitening: Sendable, Codable, Equatable {
    /// How the projection was learned.
    public enum Kind: String, Codable, Sendable {
        /// PCA-whitening without labels: P = Λ^(-1/2) Uᵀ.
        case pca
        /// Learned whitening Lw from matching pairs (Radenović et al.).
        case learned
    }

    public let kind: Kind
    /// μ, the vector subtracted before projecting; its length is the input dimension D.
    public let mean: [Float]
    /// P, D × D (rows = output dimensions, by decreasing eigenvalue). A whitening loaded from
    /// elsewhere may keep fewer rows than D.
    public let projection: Matrix

    /// The input descriptor dimension D.
    public var inputDimension: Int { mean.count }
    /// The largest output dimension `apply` can produce.
    public var outputDimension: Int { projection.rows }

    /// A whitening from given parts, e.g. cirtorch's `Lw` entries of a checkpoint's metadata.
    /// - Throws: `.corrupt` unless `projection` has `mean.count` columns, between 1 and
    ///   `mean.count` rows, and only finite values.
    public init(kind: Kind, mean: [Float], projection: Matrix) throws(WhiteningError) {
        guard !mean.isEmpty, projection.columns == mean.count, projection.rows >= 1,
              projection.rows <= projection.columns
        else {
            throw WhiteningError(code: .corrupt, reason: "projection is \(projection.rows)×\(projection.columns) "
                + "for a mean of length \(mean.count); it needs that many columns and 1…\(mean.count) rows")
        }
        guard mean.allSatisfy(\.isFinite), projection.storage.allSatisfy(\.isFinite) else {
            throw WhiteningError(code: .corrupt, reason: "the mean or projection contains NaN or infinity")
        }
        self.kind = kind
        self.mean = mean
        self.projection = projection
    }

    init(validKind kind: Kind, mean: [Float], projection: Matrix) {
        self.kind = kind
        self.mean = mean
        self.projection = projection
    }

    // MARK: Learning

    /// cirtorch's `pcawhitenlearn`: μ = mean descriptor, Σ = (1/N) Σ (x − μ)(x − μ)ᵀ,
    /// P = Λ^(-1/2) Uᵀ with eigenvalues in decreasing order.
    /// - Parameter descriptors: N × D, one descriptor per row.
    /// - Throws: `.tooFewDescriptors` when N ≤ D (the centred covariance cannot have full rank),
    ///   `.singularCovariance` when an eigenvalue is zero to working precision,
    ///   `.nonFiniteDescriptors`, `.numericalFailure`.
    /// - Complexity: O(N D² + D³), in float64.
    public static func learnPCA(_ descriptors: Matrix) throws(WhiteningError) -> Whitening {
        let count = descriptors.rows, dimension = descriptors.columns
        precondition(dimension > 0, "descriptors must have at least one dimension")
        guard count > dimension else {
            throw WhiteningError(code: .tooFewDescriptors, reason: "PCA-whitening of \(dimension)-D descriptors needs "
                + "more than \(dimension) descriptors to have a full-rank covariance; got \(count)")
        }
        try checkFinite(descriptors)
        let values = descriptors.storage.map(Double.init)
        let mean = columnMean(values, rows: Array(0 ..< count), dimension: dimension)
        let centred = subtract(mean, fromRowsOf: values, dimension: dimension)
        var covariance = DoublePrecisionLAPACK.multiply(centred, transposeA: true, centred, transposeB: false,
                                                        m: dimension, n: dimension, k: count)
        // cirtorch symmetrises and divides by N (not N − 1) in one step.
        for row in 0 ..< dimension {
            for column in row ..< dimension {
                let value = (covariance[row * dimension + column] + covariance[column * dimension + row])
                    / Double(2 * count)
                covariance[row * dimension + column] = value
                covariance[column * dimension + row] = value
            }
        }
        guard let (eigenvalues, eigenvectors) = DoublePrecisionLAPACK.symmetricEigen(covariance, n: dimension) else {
            throw WhiteningError(code: .numericalFailure, reason: "the covariance eigendecomposition did not converge")
        }
        let largest = eigenvalues[0], smallest = eigenvalues[dimension - 1]
        guard smallest > 0, smallest > largest * 1e-12 else {
            throw WhiteningError(code: .singularCovariance, reason: "the descriptor covariance is singular "
                + "(eigenvalues \(largest) … \(smallest)); the descriptors span fewer than \(dimension) dimensions")
        }
        var projection = [Double](repeating: 0, count: dimension * dimension)
        for output in 0 ..< dimension {
            let scale = 1 / eigenvalues[output].squareRoot()
            for input in 0 ..< dimension {
                projection[output * dimension + input] = eigenvectors[input * dimension + output] * scale
            }
        }
        return finish(kind: .pca, mean: mean, projection: projection, dimension: dimension)
    }

    /// How the covariance of the pair differences is regularised before learned whitening inverts it.
    public enum PairShrinkage: Sendable, Equatable {
        /// cirtorch's plain estimate; needs at least D pairs that differ along every dimension.
        case none
        /// S ↦ (1 − α) S + α (tr S / D) I with the Ledoit–Wolf intensity α estimated from the pairs
        /// (scikit-learn's `ledoit_wolf_shrinkage` with `assume_centered`, as cirtorch's S is not
        /// centred): it goes to 0 as pairs become plentiful and towards 1 when there are far fewer
        /// pairs than dimensions, as with pairs mined from a personal collection.
        case ledoitWolf
        /// A fixed intensity α in [0, 1].
        case fixed(Double)
    }

    /// cirtorch's `whitenlearn` (learned whitening Lw): μ = mean of the query-side descriptors,
    /// S = (1/M) Σ (x_q − x_p)(x_q − x_p)ᵀ over the M pairs, P₁ = L⁻¹ with S = L Lᵀ (Cholesky), then
    /// the eigenvectors E of Σ P₁(x − μ)(x − μ)ᵀP₁ᵀ over *all* descriptors, P = Eᵀ P₁ (eigenvalues
    /// decreasing).
    ///
    /// Like cirtorch, a Cholesky failure is retried with 1e-10, 1e-9, … added to the diagonal of S,
    /// but only while that stays below 1e-7 of S's mean diagonal; beyond, the pairs do not
    /// constrain every dimension and the result would be noise, so this throws instead (cirtorch
    /// would go on and return it). With `shrinkage`, S is first shrunk towards a multiple of the
    /// identity, which makes it full-rank from a handful of pairs.
    /// - Parameters:
    ///   - descriptors: N × D, one descriptor per row.
    ///   - queryIndices, positiveIndices: row indices; pair i is (queryIndices[i], positiveIndices[i]).
    /// - Throws: `.invalidPairs`, `.tooFewDescriptors` (fewer than D pairs without shrinkage),
    ///   `.singularPairCovariance`, `.nonFiniteDescriptors`, `.numericalFailure`.
    /// - Complexity: O((N + M) D² + D³), in float64.
    public static func learn(_ descriptors: Matrix, queryIndices: [Int], positiveIndices: [Int],
                             shrinkage: PairShrinkage = .none) throws(WhiteningError) -> Whitening
    {
        try learnReportingShrinkage(descriptors, queryIndices: queryIndices, positiveIndices: positiveIndices,
                                    shrinkage: shrinkage).whitening
    }

    /// ``learn(_:queryIndices:positiveIndices:shrinkage:)``, also returning the shrinkage intensity α
    /// that was applied (0 for `.none`), so that a caller can report it.
    public static func learnReportingShrinkage(_ descriptors: Matrix, queryIndices: [Int], positiveIndices: [Int],
                                               shrinkage: PairShrinkage) throws(WhiteningError)
        -> (whitening: Whitening, shrinkage: Double)
    {
        let count = descriptors.rows, dimension = descriptors.columns
        precondition(dimension > 0, "descriptors must have at least one dimension")
        guard queryIndices.count == positiveIndices.count else {
            throw WhiteningError(code: .invalidPairs, reason: "\(queryIndices.count) query indices but "
                + "\(positiveIndices.count) positive indices; each pair needs one of each")
        }
        if let bad = (queryIndices + positiveIndices).first(where: { $0 < 0 || $0 >= count }) {
            throw WhiteningError(code: .invalidPairs, reason: "pair index \(bad) is outside the \(count) descriptors")
        }
        let pairs = queryIndices.count
        if case .fixed(let intensity) = shrinkage, !(intensity >= 0 && intensity <= 1) {
            throw WhiteningError(code: .invalidPairs, reason: "a shrinkage intensity must lie in [0, 1]; got \(intensity)")
        }
        guard pairs >= 1 else {
            throw WhiteningError(code: .tooFewDescriptors, reason: "learned whitening needs at least one matching pair")
        }
        if shrinkage == .none {
            guard pairs >= dimension else {
                throw WhiteningError(code: .tooFewDescriptors, reason: "learned whitening of \(dimension)-D descriptors "
                    + "needs at least \(dimension) matching pairs for a full-rank pair covariance; got \(pairs) "
                    + "(shrinkage makes fewer pairs usable)")
            }
        }
        try checkFinite(descriptors)
        let values = descriptors.storage.map(Double.init)

        var differences = [Double](repeating: 0, count: pairs * dimension)
        for pair in 0 ..< pairs {
            let query = queryIndices[pair] * dimension, positive = positiveIndices[pair] * dimension
            for column in 0 ..< dimension {
                differences[pair * dimension + column] = values[query + column] - values[positive + column]
            }
        }
        var pairCovariance = DoublePrecisionLAPACK.multiply(differences, transposeA: true, differences,
                                                            transposeB: false, m: dimension, n: dimension, k: pairs)
        for index in pairCovariance.indices { pairCovariance[index] /= Double(pairs) }
        var intensity: Double = 0
        switch shrinkage {
        case .none: break
        case .fixed(let value): intensity = value
        case .ledoitWolf: intensity = ledoitWolfIntensity(differences: differences, covariance: pairCovariance, samples: pairs, dimension: dimension)
        }
        if intensity > 0 {
            var trace: Double = 0
            for index in 0 ..< dimension { trace += pairCovariance[index * dimension + index] }
            let target = trace / Double(dimension)
            for index in pairCovariance.indices { pairCovariance[index] *= 1 - intensity }
            for index in 0 ..< dimension { pairCovariance[index * dimension + index] += intensity * target }
        }
        let factor = try regularisedCholesky(pairCovariance, dimension: dimension)
        guard let firstProjection = DoublePrecisionLAPACK.invertLower(factor, n: dimension) else {
            throw WhiteningError(code: .singularPairCovariance, reason: "the Cholesky factor of the pair covariance is singular")
        }

        let mean = columnMean(values, rows: queryIndices, dimension: dimension)
        let centred = subtract(mean, fromRowsOf: values, dimension: dimension)
        // Rows of `projected` are P₁(x − μ).
        let projected = DoublePrecisionLAPACK.multiply(centred, transposeA: false, firstProjection, transposeB: true,
                                                       m: count, n: dimension, k: dimension)
        let scatter = DoublePrecisionLAPACK.multiply(projected, transposeA: true, projected, transposeB: false,
                                                     m: dimension, n: dimension, k: count)
        guard let (_, eigenvectors) = DoublePrecisionLAPACK.symmetricEigen(scatter, n: dimension) else {
            throw WhiteningError(code: .numericalFailure, reason: "the eigendecomposition of the whitened scatter did not converge")
        }
        let projection = DoublePrecisionLAPACK.multiply(eigenvectors, transposeA: true, firstProjection,
                                                        transposeB: false, m: dimension, n: dimension, k: dimension)
        return (finish(kind: .learned, mean: mean, projection: projection, dimension: dimension), intensity)
    }

    /// The Ledoit–Wolf shrinkage intensity of the uncentred sample covariance `covariance` = XᵀX / n of
    /// the rows of `differences` (n × D), as scikit-learn computes it: β / δ with
    /// δ = ‖S − μI‖²_F / D and β = min(δ, (Σ_k ‖x_k‖⁴ / n − ‖S‖²_F) / (n D)).
    static func ledoitWolfIntensity(differences: [Double], covariance: [Double], samples: Int, dimension: Int) -> Double {
        var fourthMoments: Double = 0
        for sample in 0 ..< samples {
            var squaredNorm: Double = 0
            for column in 0 ..< dimension {
                let value = differences[sample * dimension + column]
                squaredNorm += value * value
            }
            fourthMoments += squaredNorm * squaredNorm
        }
        var frobenius: Double = 0, trace: Double = 0
        for value in covariance { frobenius += value * value }
        for index in 0 ..< dimension { trace += covariance[index * dimension + index] }
        let mu = trace / Double(dimension)
        let delta = (frobenius - 2 * mu * trace + Double(dimension) * mu * mu) / Double(dimension)
        let beta = min(delta, (fourthMoments / Double(samples) - frobenius) / Double(samples * dimension))
        return beta == 0 || delta == 0 ? 0 : max(0, min(1, beta / delta))
    }

    private static func regularisedCholesky(_ matrix: [Double], dimension: Int) throws(WhiteningError) -> [Double] {
        var meanDiagonal: Double = 0
        for index in 0 ..< dimension { meanDiagonal += matrix[index * dimension + index] }
        meanDiagonal /= Double(dimension)
        guard meanDiagonal > 0 else {
            throw WhiteningError(code: .singularPairCovariance,
                                 reason: "every matching pair consists of two identical descriptors")
        }
        let singular = WhiteningError(code: .singularPairCovariance, reason: "the covariance of the pair differences "
            + "is singular: the pairs differ along fewer than \(dimension) independent directions")
        var loading: Double = 0
        while loading <= meanDiagonal * Self.largestRelativeLoading {
            var loaded = matrix
            for index in 0 ..< dimension { loaded[index * dimension + index] += loading }
            if let factor = DoublePrecisionLAPACK.choleskyLower(loaded, n: dimension) {
                // Pivots at rounding level mean a singular S that merely escaped the factorisation's test.
                let pivots = (0 ..< dimension).map { factor[$0 * dimension + $0] * factor[$0 * dimension + $0] }
                guard let smallest = pivots.min(), let largest = pivots.max(), smallest > largest * 1e-13 else {
                    throw singular
                }
                return factor
            }
            loading = loading == 0 ? 1e-10 : loading * 10
        }
        throw singular
    }

    /// The largest diagonal loading accepted, relative to the mean diagonal of the pair covariance:
    /// enough to absorb float64 rounding in a full-rank S, far too little to matter numerically.
    /// cirtorch keeps adding loading without bound; past this, its output is shaped by the loading
    /// rather than by the pairs.
    static let largestRelativeLoading: Double = 1e-7

    private static func checkFinite(_ descriptors: Matrix) throws(WhiteningError) {
        if let index = descriptors.storage.firstIndex(where: { !$0.isFinite }) {
            throw WhiteningError(code: .nonFiniteDescriptors,
                                 reason: "descriptor \(index / descriptors.columns) contains NaN or infinity")
        }
    }

    private static func columnMean(_ values: [Double], rows: [Int], dimension: Int) -> [Double] {
        var mean = [Double](repeating: 0, count: dimension)
        for row in rows {
            for column in 0 ..< dimension { mean[column] += values[row * dimension + column] }
        }
        return mean.map { $0 / Double(rows.count) }
    }

    private static func subtract(_ mean: [Double], fromRowsOf values: [Double], dimension: Int) -> [Double] {
        var result = values
        for index in result.indices { result[index] -= mean[index % dimension] }
        return result
    }

    /// Fixes each output dimension's sign (largest-magnitude entry positive) and rounds to float32.
    private static func finish(kind: Kind, mean: [Double], projection: [Double], dimension: Int) -> Whitening {
        var rows = [Float](repeating: 0, count: dimension * dimension)
        for output in 0 ..< dimension {
            var largest: Double = 0
            for input in 0 ..< dimension where abs(projection[output * dimension + input]) > abs(largest) {
                largest = projection[output * dimension + input]
            }
            let sign: Double = largest < 0 ? -1 : 1
            for input in 0 ..< dimension {
                rows[output * dimension + input] = Float(sign * projection[output * dimension + input])
            }
        }
        return Whitening(validKind: kind, mean: mean.map { Float($0) },
                         projection: Matrix(rows: dimension, columns: dimension, storage: rows))
    }

    // MARK: Applying

    /// cirtorch's `whitenapply`: each row x becomes P[:dimensions] (x − μ), divided by its L2 norm + 1e-6.
    /// - Parameters:
    ///   - descriptors: N × D, one descriptor per row.
    ///   - dimensions: how many leading output dimensions to keep; nil keeps all.
    /// - Precondition: `descriptors.columns == inputDimension`; `dimensions` in 1…`outputDimension`.
    /// - Complexity: one N × D × d sgemm.
    public func apply(_ descriptors: Matrix, dimensions: Int? = nil) -> Matrix {
        let inputs = inputDimension
        let outputs = dimensions ?? outputDimension
        precondition(descriptors.columns == inputs,
                     "descriptors have \(descriptors.columns) dimensions; this whitening expects \(inputs)")
        precondition(outputs >= 1 && outputs <= outputDimension,
                     "cannot keep \(outputs) dimensions of a whitening with \(outputDimension) outputs")
        let count = descriptors.rows
        var centred = descriptors.storage
        mean.withUnsafeBufferPointer { mean in
            centred.withUnsafeMutableBufferPointer { values in
                for row in 0 ..< count {
                    let base = row * inputs
                    for column in 0 ..< inputs { values[base + column] -= mean[column] }
                }
            }
        }
        var result = Matrix(rows: count, columns: outputs)
        guard count > 0 else { return result }
        centred.withUnsafeBufferPointer { a in
            projection.storage.withUnsafeBufferPointer { p in
                result.storage.withUnsafeMutableBufferPointer { c in
                    guard let a = a.baseAddress, let p = p.baseAddress, let c = c.baseAddress else { return }
                    // Y = (X − μ) · P[:outputs]ᵀ; the first `outputs` rows of P are contiguous.
                    BLAS.gemm(transposeA: false, transposeB: true, m: count, n: outputs, k: inputs, alpha: 1,
                              a: a, lda: inputs, b: p, ldb: inputs, beta: 0, c: c, ldc: outputs)
                }
            }
            result.storage.withUnsafeMutableBufferPointer { values in
                guard let base = values.baseAddress else { return }
                for row in 0 ..< count {
                    DescriptorNormalization.normalize(UnsafeMutableBufferPointer(start: base + row * outputs, count: outputs),
                                                      epsilon: 1e-6)
                }
            }
        }
        return result
    }

    /// ``apply(_:dimensions:)-(Matrix,_)`` for one descriptor.
    public func apply(_ descriptor: [Float], dimensions: Int? = nil) -> [Float] {
        apply(Matrix(rows: 1, columns: descriptor.count, storage: descriptor), dimensions: dimensions).storage
    }

    // MARK: Codable

    private enum CodingKeys: String, CodingKey {
        case kind, mean, outputDimension, projection
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Kind.self, forKey: .kind)
        let mean = try container.decode([Float].self, forKey: .mean)
        let outputs = try container.decode(Int.self, forKey: .outputDimension)
        let storage = try container.decode([Float].self, forKey: .projection)
        guard outputs >= 0, storage.count == outputs * mean.count else {
            throw DecodingError.dataCorruptedError(forKey: .projection, in: container,
                                                   debugDescription: "projection holds \(storage.count) values, "
                                                       + "not \(outputs) × \(mean.count)")
        }
        do {
            try self.init(kind: kind, mean: mean, projection: Matrix(rows: outputs, columns: mean.count, storage: storage))
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .projection, in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(mean, forKey: .mean)
        try container.encode(outputDimension, forKey: .outputDimension)
        try container.encode(projection.storage, forKey: .projection)
    }
}
