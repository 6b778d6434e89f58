import Foundation
import LandmarkLinearAlgebra

/// Numerically stable mean softmax cross-entropy.
public struct SoftmaxCrossEntropy: Sendable {
    public init() {}

    /// - Parameters:
    ///   - logits: one row per example.
    ///   - labels: the target class of each row.
    /// - Returns: the mean loss and dL/dlogits (softmax − one-hot, divided by the batch size).
    public func callAsFunction(_ logits: [[Float]], labels: [Int]) -> (loss: Double, gradients: [[Float]]) {
        precondition(logits.count == labels.count && !logits.isEmpty, "one label per row, at least one row")
        let batch = Double(logits.count)
        var loss = 0.0
        var gradients: [[Float]] = []
        gradients.reserveCapacity(logits.count)
        for (row, label) in zip(logits, labels) {
            let maximum = Double(row.max() ?? 0)
            let exponentials = row.map { Foundation.exp(Double($0) - maximum) }
            let sum = exponentials.reduce(0, +)
            loss += maximum + Foundation.log(sum) - Double(row[label])
            var gradient = exponentials.map { Float($0 / sum / batch) }
            gradient[label] -= Float(1 / batch)
            gradients.append(gradient)
        }
        return (loss / batch, gradients)
    }
}

/// ArcFace / CosFace: logits s·cos θ_j between the L2-normalised descriptor and L2-normalised class
/// weights, with a margin on the target class (METHODS.md §7): ArcFace s·cos(θ_y + m), CosFace
/// s·(cos θ_y − m); then softmax cross-entropy. The ArcFace form is the common `ArcMarginProduct`:
/// without the easy margin, where θ_y + m would pass π it uses cos θ_y − m·sin m instead (keeping the
/// logit monotonic in θ).
public struct CosineMarginHead: Sendable {
    public enum Margin: Sendable, Equatable { case arcFace(easyMargin: Bool), cosFace }

    public let classes: Int
    public let dimension: Int
    public let margin: Margin
    public let scale: Float
    public let marginValue: Float
    /// Position of `arc.weight` [classes, dimension].
    public let weightPosition: Int
    /// `F.normalize`'s ε.
    public static let epsilon: Double = 1e-12

    /// Appends `arc.weight`, initialised uniformly in ±1/√dimension from `seed`.
    public init(classes: Int, dimension: Int, margin: Margin, scale: Float = 30, marginValue: Float = 0.3,
                seed: UInt64, parameters: inout ParameterSet) {
        precondition(classes > 0 && dimension > 0, "the cosine head needs classes and a dimension")
        self.classes = classes
        self.dimension = dimension
        self.margin = margin
        self.scale = scale
        self.marginValue = marginValue
        var generator = SplitMix64(seed: seed ^ 0xA2C0_5F1E)
        let bound = 1 / Double(dimension).squareRoot()
        let weights = (0..<classes * dimension).map { _ in Float((generator.nextUnit() * 2 - 1) * bound) }
        weightPosition = parameters.append(Parameter(name: "arc.weight", shape: [classes, dimension], value: weights))
    }

    /// Mean softmax cross-entropy over the batch; accumulates dL/dW and returns dL/d(descriptor).
    public func callAsFunction(_ descriptors: [[Float]], labels: [Int], parameters: inout ParameterSet)
        -> (loss: Double, gradients: [[Float]]) {
        precondition(descriptors.count == labels.count && !descriptors.isEmpty, "one label per descriptor")
        let weights = parameters[weightPosition].value
        let weightNorms = (0..<classes).map { row in
            max((0..<dimension).reduce(0.0) { $0 + Double(weights[row * dimension + $1]) * Double(weights[row * dimension + $1]) }.squareRoot(), Self.epsilon)
        }
        let normalizedWeights = (0..<classes * dimension).map { Float(Double(weights[$0]) / weightNorms[$0 / dimension]) }
        let m = Double(marginValue), s = Double(scale)
        let cosineOfMargin = Foundation.cos(m), sineOfMargin = Foundation.sin(m)
        let threshold = Foundation.cos(Double.pi - m), fallback = Foundation.sin(Double.pi - m) * m

        var inputNorms: [Double] = [], normalizedInputs: [[Float]] = [], logits: [[Float]] = []
        var targetSlopes: [Double] = []  // d(target logit / s)/d(cos θ_y)
        for (descriptor, label) in zip(descriptors, labels) {
            precondition(descriptor.count == dimension && (0..<classes).contains(label), "descriptor size or label out of range")
            let norm = max(descriptor.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), Self.epsilon)
            let x = descriptor.map { Float(Double($0) / norm) }
            var cosines = [Float](repeating: 0, count: classes)
            normalizedWeights.withUnsafeBufferPointer { w in
                x.withUnsafeBufferPointer { x in
                    cosines.withUnsafeMutableBufferPointer { y in
                        guard let w = w.baseAddress, let x = x.baseAddress, let y = y.baseAddress else { return }
                        BLAS.gemv(transpose: false, rows: classes, columns: dimension, alpha: 1, a: w, lda: dimension, x: x, beta: 0, y: y)
                    }
                }
            }
            let cosine = Double(cosines[label])
            let target: Double, slope: Double
            switch margin {
            case .cosFace:
                target = cosine - m
                slope = 1
            case .arcFace(let easyMargin):
                let sine = min(max(1 - cosine * cosine, 0), 1).squareRoot()
                let phi = cosine * cosineOfMargin - sine * sineOfMargin
                let phiSlope = cosineOfMargin + (sine > 0 ? sineOfMargin * cosine / sine : 0)
                if easyMargin {
                    (target, slope) = cosine > 0 ? (phi, phiSlope) : (cosine, 1)
                } else {
                    (target, slope) = cosine > threshold ? (phi, phiSlope) : (cosine - fallback, 1)
                }
            }
            var row = cosines.map { Float(Double($0) * s) }
            row[label] = Float(target * s)
            inputNorms.append(norm)
            normalizedInputs.append(x)
            logits.append(row)
            targetSlopes.append(slope)
        }
        let (loss, logitGradients) = SoftmaxCrossEntropy()(logits, labels: labels)

        var normalizedWeightGradient = [Double](repeating: 0, count: classes * dimension)
        var gradients: [[Float]] = []
        for (example, label) in labels.enumerated() {
            // dL/dcos_j = s·dL/dlogit_j, times the margin's slope on the target.
            var cosineGradient = logitGradients[example].map { Double($0) * s }
            cosineGradient[label] *= targetSlopes[example]
            let x = normalizedInputs[example]
            var xGradient = [Double](repeating: 0, count: dimension)
            for j in 0..<classes where cosineGradient[j] != 0 {
                let g = cosineGradient[j]
                for d in 0..<dimension {
                    xGradient[d] += g * Double(normalizedWeights[j * dimension + d])
                    normalizedWeightGradient[j * dimension + d] += g * Double(x[d])
                }
            }
            gradients.append(Self.normalizationBackward(xGradient, normalized: x, norm: inputNorms[example]))
        }
        var weightGradient = parameters[weightPosition].gradient
        for j in 0..<classes {
            let row = Array(normalizedWeightGradient[j * dimension..<(j + 1) * dimension])
            let normalized = Array(normalizedWeights[j * dimension..<(j + 1) * dimension])
            let back = Self.normalizationBackward(row, normalized: normalized, norm: weightNorms[j])
            for d in 0..<dimension { weightGradient[j * dimension + d] += back[d] }
        }
        parameters[weightPosition].gradient = weightGradient
        return (loss, gradients)
    }

    /// Backward of v̂ = v / max(‖v‖, ε): dv = (g − v̂·(v̂·g)) / ‖v‖ (ε only guards a zero vector).
    static func normalizationBackward(_ gradient: [Double], normalized: [Float], norm: Double) -> [Float] {
        var dot = 0.0
        for index in gradient.indices { dot += gradient[index] * Double(normalized[index]) }
        return gradient.indices.map { Float((gradient[$0] - Double(normalized[$0]) * dot) / norm) }
    }
}
