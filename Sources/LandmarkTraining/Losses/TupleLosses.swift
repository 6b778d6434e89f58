/// cirtorch's contrastive loss over one tuple (METHODS.md §7): for each (query, other) pair,
/// ½·y·D² + ½·(1 − y)·max(0, m − D)², D = ‖q − x + ε‖ (cirtorch adds ε = 1e-6 to the difference
/// before the norm, which keeps D's gradient finite for identical descriptors), summed over the tuple.
public struct ContrastiveLoss: Sendable {
    public let margin: Float
    public static let epsilon: Float = 1e-6

    public init(margin: Float = 0.7) { self.margin = margin }

    /// - Parameters:
    ///   - descriptors: `[q, p, n1 … nN]` (one tuple) or several tuples back to back, each starting
    ///     with its query.
    ///   - labels: cirtorch's targets: −1 for a query, 1 for a positive, 0 for a negative.
    /// - Returns: the summed loss and dL/d(descriptor) for every descriptor.
    public func callAsFunction(_ descriptors: [[Float]], labels: [Int]) -> (loss: Double, gradients: [[Float]]) {
        precondition(descriptors.count == labels.count, "one label per descriptor")
        var gradients = descriptors.map { [Float](repeating: 0, count: $0.count) }
        var loss = 0.0
        var query = -1
        for (index, label) in labels.enumerated() {
            if label == -1 { query = index; continue }
            precondition(query >= 0, "a tuple must start with its query (label −1)")
            let q = descriptors[query], x = descriptors[index]
            let difference = q.indices.map { Double(q[$0]) - Double(x[$0]) + Double(Self.epsilon) }
            let distance = difference.reduce(0) { $0 + $1 * $1 }.squareRoot()
            // dL/d(difference): y·diff for a positive; −(m − D)·diff/D for a negative inside the margin.
            let factor: Double
            if label == 1 {
                loss += 0.5 * distance * distance
                factor = 1
            } else {
                let slack = Double(margin) - distance
                guard slack > 0 else { continue }
                loss += 0.5 * slack * slack
                factor = distance > 0 ? -slack / distance : 0
            }
            for component in q.indices {
                let g = Float(factor * difference[component])
                gradients[query][component] += g
                gradients[index][component] -= g
            }
        }
        return (loss, gradients)
    }
}

/// cirtorch's triplet loss over one tuple: Σ over negatives of max(‖q − p‖² − ‖q − n‖² + m, 0).
public struct TripletLoss: Sendable {
    public let margin: Float

    public init(margin: Float = 0.1) { self.margin = margin }

    /// Same call shape as ``ContrastiveLoss``: one tuple `[q, p, n1 … nN]`, labels `[−1, 1, 0 … 0]`
    /// (several tuples may follow each other).
    public func callAsFunction(_ descriptors: [[Float]], labels: [Int]) -> (loss: Double, gradients: [[Float]]) {
        precondition(descriptors.count == labels.count, "one label per descriptor")
        var gradients = descriptors.map { [Float](repeating: 0, count: $0.count) }
        var loss = 0.0
        var query = -1, positive = -1
        for (index, label) in labels.enumerated() {
            switch label {
            case -1: query = index; positive = -1
            case 1: positive = index
            default:
                precondition(query >= 0 && positive >= 0, "a tuple is query, positive, then negatives")
                let q = descriptors[query], p = descriptors[positive], n = descriptors[index]
                var positiveDistance = 0.0, negativeDistance = 0.0
                for component in q.indices {
                    let dp = Double(q[component]) - Double(p[component]), dn = Double(q[component]) - Double(n[component])
                    positiveDistance += dp * dp
                    negativeDistance += dn * dn
                }
                let value = positiveDistance - negativeDistance + Double(margin)
                guard value > 0 else { continue }
                loss += value
                for component in q.indices {
                    let dp = q[component] - p[component], dn = q[component] - n[component]
                    gradients[query][component] += 2 * (dp - dn)
                    gradients[positive][component] -= 2 * dp
                    gradients[index][component] += 2 * dn
                }
            }
        }
        return (loss, gradients)
    }
}
