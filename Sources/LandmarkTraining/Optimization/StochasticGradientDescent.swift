import LandmarkPickle

/// Stochastic gradient descent with momentum, torch.optim.SGD's exact update (cirtorch's `--optimizer sgd`).
///
/// Per parameter, in Float32 as torch computes it on the CPU:
/// `g ← grad + weightDecay·param`; with momentum, the buffer is `g` itself on the first step (no
/// dampening then) and `momentum·buffer + (1 − dampening)·g` after; the direction is the buffer, or
/// `g + momentum·buffer` with Nesterov; `param ← param − lr·direction`.
public struct StochasticGradientDescent: Optimizer, Equatable {
    public let momentum: Float
    public let dampening: Float
    public let nesterov: Bool
    var state = PerParameterState()

    static let bufferKey = "momentum_buffer"

    public init(momentum: Float = 0.9, dampening: Float = 0, nesterov: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "Nesterov momentum needs a momentum and zero dampening (as torch requires)")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public mutating func step(_ parameters: inout ParameterSet, groups: [ParameterGroup]) {
        for group in groups {
            let decay = group.weightDecay, rate = group.learningRate
            for position in group.positions {
                // Taken out of the state so that this is its only reference and it updates in place.
                var buffer = momentum != 0 ? state.take(Self.bufferKey, position) : nil
                let isFirstStep = buffer == nil
                if momentum != 0, buffer == nil { buffer = [Float](repeating: 0, count: parameters[position].count) }
                let momentum = momentum, keep = Float(1 - dampening.intendedDouble), nesterov = nesterov
                parameters.withParameter(at: position) { parameter in
                    parameter.value.withUnsafeMutableBufferPointer { values in
                        parameter.gradient.withUnsafeBufferPointer { gradients in
                            if var buffer = buffer.take() {
                                buffer.withUnsafeMutableBufferPointer { buffer in
                                    for index in 0..<values.count {
                                        var direction = gradients[index]
                                        if decay != 0 { direction = direction + decay * values[index] }
                                        buffer[index] = isFirstStep ? direction : buffer[index] * momentum + keep * direction
                                        direction = nesterov ? direction + momentum * buffer[index] : buffer[index]
                                        values[index] = values[index] - rate * direction
                                    }
                                }
                                state.set(Self.bufferKey, position, buffer)
                            } else {
                                for index in 0..<values.count {
                                    var direction = gradients[index]
                                    if decay != 0 { direction = direction + decay * values[index] }
                                    values[index] = values[index] - rate * direction
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func stateDictionary(_ parameters: ParameterSet) -> StateDictionary {
        state.stateDictionary(parameters, keys: [Self.bufferKey]) { _, parameter in parameter.shape }
    }

    public mutating func load(_ saved: StateDictionary, parameters: ParameterSet) throws(OptimizerStateError) {
        state = try PerParameterState.load(saved, parameters: parameters, keys: [Self.bufferKey]) { _, parameter in parameter.count }
    }

    public func torchStateDictionary(parameters: ParameterSet, groups: [ParameterGroup],
                                     archive: inout TorchTensorArchive) -> PickleValue {
        let torchState = state.torchState(groups: groups, parameters: parameters, keys: [Self.bufferKey]) { _, position, values in
            archive.tensor(values, shape: parameters[position].shape)
        }
        var torchGroups: [PickleValue] = []
        var first = 0
        for group in groups {
            torchGroups.append(group.torchGroup([
                ("momentum", .float(momentum.intendedDouble)), ("dampening", .float(dampening.intendedDouble)),
                ("weight_decay", .none), ("nesterov", .bool(nesterov)), ("maximize", .bool(false)),
                ("foreach", .none), ("differentiable", .bool(false)),
            ], firstIndex: first))
            first += group.positions.count
        }
        return .dictionary([
            PickleDictionaryEntry(key: .string("state"), value: torchState),
            PickleDictionaryEntry(key: .string("param_groups"), value: .list(torchGroups)),
        ])
    }
}
