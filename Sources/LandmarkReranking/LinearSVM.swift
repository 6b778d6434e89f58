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
        guard count > 0 else { return LinearSVM(weights: [Float](repeating: 0, count: dimension), bias: 0) }
        // Double throughout: the dual updates accumulate thousands of small steps into w. Widening the
        // samples once keeps the per-pass loops pure SIMD.
        let wide = samples.storage.map { Double($0) }
        var weights = [Double](repeating: 0, count: dimension)
        var bias: Double = 0
        let upper = Double(regularisation)
        var dual = [Double](repeating: 0, count: count)
        var order = Array(0 ..< count)
        var generator = SplitMix64(seed: 0x5EED_5A4D)
        // Q_ii of the augmented sample (x, 1).
        let diagonal = wide.withUnsafeBufferPointer { x in
            (0 ..< count).map { sample in 1 + WideKernels.dot(x, offset: sample * dimension, x, offset: sample * dimension, count: dimension) }
        }
        wide.withUnsafeBufferPointer { x in
            weights.withUnsafeMutableBufferPointer { w in
                for _ in 0 ..< maximumIterations {
                    shuffle(&order, using: &generator)
                    var largestProjectedGradient = -Double.infinity, smallestProjectedGradient = Double.infinity
                    for sample in order {
                        let y: Double = labels[sample] ? 1 : -1
                        let margin = bias + WideKernels.dot(UnsafeBufferPointer(w), offset: 0, x, offset: sample * dimension,
                                                            count: dimension)
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
                        WideKernels.addScaled(step, x, offset: sample * dimension, to: w, count: dimension)
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

/// SIMD loops over Double vectors for the SVM solver; lanes summed in a fixed order, so results do not
/// depend on anything but the input.
enum WideKernels {
    @inline(__always)
    static func dot(_ a: UnsafeBufferPointer<Double>, offset aOffset: Int, _ b: UnsafeBufferPointer<Double>,
                    offset bOffset: Int, count: Int) -> Double {
        guard count > 0, let aBase = a.baseAddress, let bBase = b.baseAddress else { return 0 }
        let a = aBase + aOffset, b = bBase + bOffset
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        var lanes = SIMD8<Double>()
        var index = 0
        while index + 8 <= count {
            let offset = index * MemoryLayout<Double>.stride
            lanes += rawA.loadUnaligned(fromByteOffset: offset, as: SIMD8<Double>.self)
                * rawB.loadUnaligned(fromByteOffset: offset, as: SIMD8<Double>.self)
            index += 8
        }
        var sum = lanes.sum()
        while index < count {
            sum += a[index] * b[index]
            index += 1
        }
        return sum
    }

    /// w += scale · x[offset ..< offset + count].
    @inline(__always)
    static func addScaled(_ scale: Double, _ x: UnsafeBufferPointer<Double>, offset: Int,
                          to w: UnsafeMutableBufferPointer<Double>, count: Int) {
        guard count > 0, let xBase = x.baseAddress, let wBase = w.baseAddress else { return }
        let source = UnsafeRawPointer(xBase + offset), target = UnsafeMutableRawPointer(wBase)
        let factor = SIMD8<Double>(repeating: scale)
        var index = 0
        while index + 8 <= count {
            let byteOffset = index * MemoryLayout<Double>.stride
            let updated = target.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Double>.self)
                + factor * source.loadUnaligned(fromByteOffset: byteOffset, as: SIMD8<Double>.self)
            target.storeBytes(of: updated, toByteOffset: byteOffset, as: SIMD8<Double>.self)
            index += 8
        }
        while index < count {
            wBase[index] += scale * xBase[offset + index]
            index += 1
        }
    }
}
