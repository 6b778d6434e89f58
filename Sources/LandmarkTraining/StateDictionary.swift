/// One named tensor of a network's state: a parameter or a buffer (BatchNorm running statistics).
public struct StateTensor: Sendable, Equatable {
    /// The key torch and cirtorch use (`features.4.0.bn1.running_mean`, `_blocks.3._bn2.weight`, `pool.p`).
    public var name: String
    /// torch's shape, row-major.
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count,
                     "tensor \(name) has \(values.count) values, not \(shape.map(String.init).joined(separator: "×"))")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A network's whole state in the order it is written: what a trained model exports so that this
/// project's loader and PyTorch's `load_state_dict` both read it, and what a training run resumes from.
public struct StateDictionary: Sendable, Equatable {
    public var tensors: [StateTensor]

    public init(_ tensors: [StateTensor] = []) {
        self.tensors = tensors
    }

    /// The tensor named `name`, if any.
    public subscript(name: String) -> StateTensor? {
        tensors.first { $0.name == name }
    }
}
