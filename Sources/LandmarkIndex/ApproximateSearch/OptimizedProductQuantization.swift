import Foundation
import LandmarkLinearAlgebra

/// Optimised product quantisation (Ge et al., TPAMI 2014; METHODS.md §10, "OPQ rotates before PQ"):
/// an orthogonal rotation R chosen so that product-quantising `R x` loses less than quantising `x`.
///
/// Product quantisation cuts a vector into fixed blocks of components; when the variance sits in a
/// few correlated components, most blocks carry little and one carries much. The rotation spreads
/// it. Because R is orthogonal, inner products are unchanged (⟨R q, R x⟩ = ⟨q, x⟩), so an index only
/// rotates what it quantises and the queries its tables are made from.
///
/// Training is the non-parametric alternation FAISS's `OPQMatrix` runs: on centred vectors, from a
/// random rotation, repeat — train the quantiser on the rotated vectors (a long run first, then a
/// few Lloyd iterations from the previous codebooks), encode and decode them, and replace R by the
/// orthogonal matrix that best maps the vectors onto their reconstructions (orthogonal Procrustes).
public struct OptimizedProductQuantization: Sendable, Equatable {
    /// The rotation, `dimension × dimension`, orthogonal; a vector `x` (a row) becomes `x Rᵀ`.
    public let rotation: Matrix

    /// Alternations (FAISS's `niter`).
    public static let defaultIterations = 50
    /// Lloyd iterations of the quantiser in the first alternation and in the later ones (FAISS's
    /// `niter_pq_0` and `niter_pq`).
    public static let firstQuantizerIterations = 40
    public static let quantizerIterations = 4
    /// Rows the rotation is trained on at most (FAISS's `max_train_points`, 256 × 256).
    public static let maximumSamples = 65_536

    public init(rotation: Matrix) {
        precondition(rotation.rows == rotation.columns, "A rotation is square")
        self.rotation = rotation
    }

    public var dimension: Int { rotation.rows }

    /// `vectors Rᵀ`: each row rotated.
    public func rotate(_ vectors: Matrix) -> Matrix { vectors.multiplied(byTransposeOf: rotation) }

    /// Learns the rotation for a quantiser of `subquantizers` blocks.
    /// - Parameters:
    ///   - vectors: training rows (for an inverted file, the sampled vectors themselves: the cells do
    ///     not depend on the rotation, which preserves distances).
    ///   - progress: called after each alternation with it and the mean squared quantisation error.
    /// - Throws: `.cannotTrain` when the quantiser cannot be trained on the rows, or the
    ///   decomposition fails (non-finite input).
    public static func train(_ vectors: Matrix, subquantizers: Int, iterations: Int = defaultIterations, seed: UInt64 = 0,
                             progress: ((Int, Float) -> Void)? = nil) throws(VectorIndexError) -> OptimizedProductQuantization {
        let dimension = vectors.columns
        var random = SplitMix64(seed: seed)
        var centred = DatabaseRows(vectors).sample(maximum: maximumSamples, seed: random.next())
        let count = centred.rows
        var mean = [Double](repeating: 0, count: dimension)
        for row in 0 ..< count {
            for component in 0 ..< dimension { mean[component] += Double(centred.storage[row * dimension + component]) }
        }
        for row in 0 ..< count {
            for component in 0 ..< dimension {
                centred.storage[row * dimension + component] -= Float(mean[component] / Double(max(count, 1)))
            }
        }
        var gaussian = Matrix(rows: dimension, columns: dimension)
        for index in gaussian.storage.indices {
            // Box–Muller: a Gaussian matrix's polar factor is a uniformly random rotation.
            let radius = (-2 * Foundation.log(max(random.nextUnit(), 1e-300))).squareRoot()
            gaussian.storage[index] = Float(radius * Foundation.cos(2 * Double.pi * random.nextUnit()))
        }
        var rotation = try nearestOrthogonal(gaussian)
        var quantizer: ProductQuantizer?
        for iteration in 0 ..< max(iterations, 1) {
            let projected = centred.multiplied(byTransposeOf: rotation)
            let trained = try ProductQuantizer.train(
                projected, subquantizers: subquantizers, seed: seed &+ UInt64(iteration) &* 7919, maximumSamples: count,
                iterations: iteration == 0 ? firstQuantizerIterations : quantizerIterations, start: quantizer)
            quantizer = trained
            let reconstructions = trained.decode(trained.encode(projected))
            if let progress {
                var error: Double = 0
                for (value, reconstruction) in zip(projected.storage, reconstructions.storage) {
                    error += Double((value - reconstruction) * (value - reconstruction))
                }
                progress(iteration, Float(error / Double(max(count, 1))))
            }
            // min over orthogonal R of ‖X Rᵀ − Y‖ is max tr(R Xᵀ Y): R = polar(Xᵀ Y)ᵀ.
            rotation = try nearestOrthogonal(centred.transposeMultiplied(by: reconstructions)).transposed()
        }
        return OptimizedProductQuantization(rotation: rotation)
    }

    /// The orthogonal matrix nearest to `matrix` in the Frobenius norm: its polar factor
    /// `M (Mᵀ M)^(-1/2)`. A first estimate comes from the eigendecomposition of `Mᵀ M`; in float, the
    /// directions whose eigenvalues fall below its precision (a millionth of the largest) come out
    /// wrong, so the estimate is scaled to singular values ≤ 1 and refined by Newton–Schulz steps,
    /// `P ← P (3 I − Pᵀ P) / 2`, which converge to the polar factor from there.
    /// - Throws: `.cannotTrain` when the matrix is not finite, rank-deficient, or the decomposition fails.
    static func nearestOrthogonal(_ matrix: Matrix) throws(VectorIndexError) -> Matrix {
        let size = matrix.columns
        func degenerate(_ reason: String) -> VectorIndexError {
            VectorIndexError(code: .cannotTrain, file: "OPQ", reason: "the rotation cannot be computed: \(reason)")
        }
        let decomposition: SymmetricEigendecomposition
        do {
            decomposition = try SymmetricEigendecomposition(matrix.transposeMultiplied(by: matrix))
        } catch {
            throw degenerate("\(error)")
        }
        let largest = decomposition.eigenvalues.first ?? 0
        guard largest > 0, largest.isFinite else { throw degenerate("the training vectors are all equal") }
        var scaled = decomposition.eigenvectors
        for column in 0 ..< size {
            let scale = 1 / max(decomposition.eigenvalues[column], largest * 1e-6).squareRoot()
            for row in 0 ..< size { scaled.storage[row * size + column] *= scale }
        }
        var orthogonal = matrix * scaled.multiplied(byTransposeOf: decomposition.eigenvectors)
        func gram(_ matrix: Matrix) -> Matrix { matrix.transposeMultiplied(by: matrix) }
        // The largest row sum of |Pᵀ P| bounds its largest eigenvalue, σ_max(P)².
        var product = gram(orthogonal)
        var bound: Float = 0
        for row in 0 ..< size {
            var sum: Float = 0
            for column in 0 ..< size { sum += abs(product.storage[row * size + column]) }
            bound = max(bound, sum)
        }
        guard bound > 0, bound.isFinite else { throw degenerate("the matrix is not finite") }
        if bound > 1 {
            let scale = 1 / bound.squareRoot()
            for index in orthogonal.storage.indices { orthogonal.storage[index] *= scale }
            product = gram(orthogonal)
        }
        for _ in 0 ..< 100 {
            var deviation: Float = 0
            for row in 0 ..< size {
                for column in 0 ..< size {
                    deviation = max(deviation, abs(product.storage[row * size + column] - (row == column ? 1 : 0)))
                }
            }
            if deviation < 1e-5 { return orthogonal }
            for index in product.storage.indices { product.storage[index] *= -0.5 }
            for diagonal in 0 ..< size { product.storage[diagonal * size + diagonal] += 1.5 }
            orthogonal = orthogonal * product
            product = gram(orthogonal)
        }
        throw degenerate("the training vectors do not span every direction (the rotation did not converge)")
    }
}
