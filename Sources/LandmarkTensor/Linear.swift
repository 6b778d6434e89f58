import LandmarkLinearAlgebra

/// A fully connected layer, torch's `nn.Linear`: y = W x + b with W stored out × in row-major.
public struct Linear: Sendable {
    public let weights: [Float]
    public let bias: [Float]?
    public let outputCount: Int
    public let inputCount: Int

    public init(weights: [Float], outputCount: Int, inputCount: Int, bias: [Float]?) {
        precondition(outputCount > 0 && inputCount > 0, "linear layer sizes must be positive")
        precondition(weights.count == outputCount * inputCount,
                     "linear layer has \(weights.count) weights, not \(outputCount)×\(inputCount)")
        if let bias { precondition(bias.count == outputCount, "bias has \(bias.count) values for \(outputCount) outputs") }
        self.weights = weights
        self.bias = bias
        self.outputCount = outputCount
        self.inputCount = inputCount
    }

    public func callAsFunction(_ x: [Float]) -> [Float] {
        precondition(x.count == inputCount, "linear layer expects \(inputCount) inputs, got \(x.count)")
        var y = bias ?? [Float](repeating: 0, count: outputCount)
        weights.withUnsafeBufferPointer { w in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    guard let w = w.baseAddress, let x = x.baseAddress, let y = y.baseAddress else { return }
                    BLAS.gemv(transpose: false, rows: outputCount, columns: inputCount, alpha: 1, a: w, lda: inputCount,
                              x: x, beta: 1, y: y)
                }
            }
        }
        return y
    }
}
