import LandmarkLinearAlgebra

/// A linear SVM usable on its own (DQE uses it).
///
/// Trained on the hinge loss with L2 regularisation by dual coordinate descent, the method of LIBLINEAR's
/// `L2R_L1LOSS_SVC_DUAL` solver (Hsieh et al., ICML 2008): the bias is learnt as the weight of an extra
/// constant feature 1, so it is regularised like the other weights, as in LIBLINEAR and scikit-learn's
/// `LinearSVC(loss="hinge", dual=True)`. Unlike LIBLINEAR there is no shrinking and the visiting order
/// comes from a fixed-seed generator, so the same data always gives the same model to the bit.
public struct LinearSVM: Sendable, Equatable {
    /// One weight per feature.
    public var weights: [Float]
    public var bias: Float

    public init(weights: [Float], bias: Float) {
        self.weights = weights
        self.bias = bias
    }

    /// Minimises ½‖w‖² + ½b² + C Σ max(0, 1 − y_i (w·x_i + b)) with labels y_i = ±1 (`true` = +1).
    ///
    /// Stops when the projected gradient's spread over one pass (LIBLINEAR's criterion) falls below
    /// `tolerance`, or after `maximumIterations` passes over the samples.
    /// - Parameters:
    ///   - samples: one sample per row.
    ///   - labels: one per sample; `true` for the positive class.
    ///   - regularisation: C, the cost of a margin violation; larger fits the training set harder.
    /// - Precondition: `labels.count == samples.rows`, `regularisation > 0`, `maximumIterations >= 0`.
    /// - Complexity: O(maximumIterations × samples × dimension) at worst.
    public static func train(samples: Matrix, labels: [Bool], regularisation: Float, maximumIterations: Int = 1000,
                             tolerance: Float = 1e-4) -> LinearSVM {
        precondition(labels.count == samples.rows, "\(labels.count) labels for \(samples.rows) samples")
        precondition(regularisation > 0, "The SVM's regularisation C must be positive")
        precondition(maximumIterations >= 0, "The SVM's iteration cap must be non-negative")
        let count = samples.rows, dimension = samples.columns
        // Double throughout: the dual updates accumulate thousands of small steps into w.
        var weights = [Double](repeating: 0, count: dimension)
        var bias: Double = 0
        guard count > 0 else { return LinearSVM(weights: [Float](repeating: 0, count: dimension), bias: 0) }
        let upper = Double(regularisation)
        var dual = [Double](repeating: 0, count: count)
        var order = Array(0 ..< count)
        var generator = SplitMix64(seed: 0x5EED_5A4D)
        samples.storage.withUnsafeBufferPointer { sampleBuffer in
            weights.withUnsafeMutableBufferPointer { w in
                // Q_ii of the augmented sample (x, 1).
                var diagonal = [Double](repeating: 1, count: count)
                for sample in 0 ..< count {
                    let x = sampleBuffer.baseAddress.map { $0 + sample * dimension }
                    var sum: Double = 1
                    if let x { for column in 0 ..< dimension { sum += Double(x[column]) * Double(x[column]) } }
                    diagonal[sample] = sum
                }
                for _ in 0 ..< maximumIterations {
                    shuffle(&order, using: &generator)
                    var largestProjectedGradient = -Double.infinity, smallestProjectedGradient = Double.infinity
                    for sample in order {
                        let y: Double = labels[sample] ? 1 : -1
                        var margin = bias
                        if let x = sampleBuffer.baseAddress.map({ $0 + sample * dimension }) {
                            margin += dot(w, x, dimension: dimension)
                        }
                        let gradient = y * margin - 1
                        let current = dual[sample]
                        var projected = gradient
                        if current == 0 {
                            projected = min(gradient, 0)
                        } else if current == upper {
                            projected = max(gradient, 0)
                        }
                        largestProjectedGradient = max(largestProjectedGradient, projected)
                        smallestProjectedGradient = min(smallestProjectedGradient, projected)
                        guard abs(projected) > 1e-12 else { continue }
                        let updated = min(max(current - gradient / diagonal[sample], 0), upper)
                        let step = (updated - current) * y
                        dual[sample] = updated
                        bias += step
                        if let x = sampleBuffer.baseAddress.map({ $0 + sample * dimension }) {
                            for column in 0 ..< dimension { w[column] += step * Double(x[column]) }
                        }
                    }
                    if largestProjectedGradient - smallestProjectedGradient <= Double(tolerance) { break }
                }
            }
        }
        return LinearSVM(weights: weights.map { Float($0) }, bias: Float(bias))
    }

    /// The decision value w·x + b; positive on the positive side.
    /// - Precondition: `x.count == weights.count`.
    public func score(_ x: UnsafeBufferPointer<Float>) -> Float {
        precondition(x.count == weights.count, "Sample has dimension \(x.count), the SVM \(weights.count)")
        var sum: Float = 0
        weights.withUnsafeBufferPointer { w in
            for column in 0 ..< w.count { sum += w[column] * x[column] }
        }
        return sum + bias
    }

    /// The decision value w·x + b; positive on the positive side.
    public func score(_ x: [Float]) -> Float {
        x.withUnsafeBufferPointer { score($0) }
    }

    /// The decision value of every row of `samples`, in one matrix-vector product.
    /// - Precondition: `samples.columns == weights.count`.
    public func scores(of samples: Matrix) -> [Float] {
        precondition(samples.columns == weights.count,
                     "Samples have dimension \(samples.columns), the SVM \(weights.count)")
        var result = [Float](repeating: bias, count: samples.rows)
        guard samples.rows > 0, samples.columns > 0 else { return result }
        samples.storage.withUnsafeBufferPointer { a in
            weights.withUnsafeBufferPointer { x in
                result.withUnsafeMutableBufferPointer { y in
                    guard let aBase = a.baseAddress, let xBase = x.baseAddress, let yBase = y.baseAddress else { return }
                    BLAS.gemv(transpose: false, rows: samples.rows, columns: samples.columns, alpha: 1,
                              a: aBase, lda: samples.columns, x: xBase, beta: 1, y: yBase)
                }
            }
        }
        return result
    }

    @inline(__always)
    private static func dot(_ w: UnsafeMutableBufferPointer<Double>, _ x: UnsafePointer<Float>, dimension: Int) -> Double {
        var sum: Double = 0
        for column in 0 ..< dimension { sum += w[column] * Double(x[column]) }
        return sum
    }

    /// Fisher–Yates with our own generator: `shuffle(using:)`'s algorithm is not promised stable across
    /// Swift versions, and the visiting order must be.
    private static func shuffle(_ order: inout [Int], using generator: inout SplitMix64) {
        guard order.count > 1 else { return }
        for position in stride(from: order.count - 1, to: 0, by: -1) {
            let other = Int(generator.next() % UInt64(position + 1))
            order.swapAt(position, other)
        }
    }
}
