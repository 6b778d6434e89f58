/// One named tensor of a checkpoint, converted to Float32.
public struct CheckpointTensor: Sendable, Equatable {
    /// Sizes from the outermost dimension to the innermost; empty for a scalar.
    public let shape: [Int]
    /// The elements in row-major (C) order, contiguous, whatever the strides and storage offset on disk were.
    public let values: [Float]

    /// `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values do not fill shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// The number of elements, the product of `shape` (1 for a scalar).
    public var elementCount: Int { values.count }
}
