/// One trainable tensor of a network: its values, the gradient accumulated since the last optimiser
/// step, and the state-dict name it is read from and exported under.
///
/// Layers refer to their parameters by position in a ``ParameterSet``, so that the optimiser, the
/// checkpoint writer and the layers all see the same storage and the optimiser can keep its state
/// (momentum, Adam moments) per position.
public struct Parameter: Sendable, Equatable {
    /// The state-dict key (`layer4.2.conv3.weight`, `_blocks.15._bn2.bias`, `pool.p`, `whiten.weight`).
    public let name: String
    /// torch's shape (`[out, in / groups, kh, kw]` for a convolution), row-major.
    public let shape: [Int]
    public var value: [Float]
    /// Accumulated since the last ``ParameterSet/zeroGradients()``; same layout as `value`.
    public var gradient: [Float]

    public init(name: String, shape: [Int], value: [Float]) {
        precondition(shape.reduce(1, *) == value.count,
                     "parameter \(name) has \(value.count) values, not \(shape.map(String.init).joined(separator: "×"))")
        self.name = name
        self.shape = shape
        self.value = value
        gradient = [Float](repeating: 0, count: value.count)
    }

    public var count: Int { value.count }
}

/// A model's parameters in a fixed order.
public struct ParameterSet: Sendable, Equatable {
    public private(set) var parameters: [Parameter] = []
    private var positions: [String: Int] = [:]

    public init() {}

    public init(_ parameters: [Parameter]) {
        for parameter in parameters { append(parameter) }
    }

    /// Adds a parameter and returns its position (the handle layers keep).
    @discardableResult
    public mutating func append(_ parameter: Parameter) -> Int {
        precondition(positions[parameter.name] == nil, "parameter \(parameter.name) is already in the set")
        positions[parameter.name] = parameters.count
        parameters.append(parameter)
        return parameters.count - 1
    }

    public var count: Int { parameters.count }
    /// Number of scalar values over all parameters.
    public var scalarCount: Int { parameters.reduce(0) { $0 + $1.count } }

    public subscript(position: Int) -> Parameter {
        get { parameters[position] }
        set {
            precondition(newValue.name == parameters[position].name && newValue.shape == parameters[position].shape,
                         "a parameter's name and shape cannot change")
            parameters[position] = newValue
        }
    }

    /// The position of the parameter named `name`, if any.
    public func position(of name: String) -> Int? { positions[name] }

    public subscript(name: String) -> Parameter? {
        positions[name].map { parameters[$0] }
    }

    /// Runs `body` on one parameter's gradient in place: taking the array out and writing it back would copy
    /// it (both copies alive at once), which for a large layer costs more than the accumulation itself.
    public mutating func withGradient<Result>(at position: Int, _ body: (inout [Float]) throws -> Result) rethrows -> Result {
        try body(&parameters[position].gradient)
    }

    /// Runs `body` on one parameter in place (optimiser steps), for the same reason as ``withGradient(at:_:)``.
    /// The name and shape must not change.
    public mutating func withParameter<Result>(at position: Int, _ body: (inout Parameter) throws -> Result) rethrows -> Result {
        let name = parameters[position].name, shape = parameters[position].shape
        defer { precondition(parameters[position].name == name && parameters[position].shape == shape, "a parameter's name and shape cannot change") }
        return try body(&parameters[position])
    }

    /// Sets every gradient to zero (before accumulating the next batch).
    public mutating func zeroGradients() {
        for index in parameters.indices {
            parameters[index].gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
    }
}
