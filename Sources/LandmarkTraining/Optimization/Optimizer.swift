import LandmarkPickle

/// Parameters that share a learning rate and a weight decay — torch's `param_groups`.
///
/// Retrieval fine-tuning needs more than one: cirtorch trains GeM's exponent `p` ten times faster than
/// the convolutions and never decays it (a decayed `p` drifts back towards average pooling).
public struct ParameterGroup: Sendable, Equatable {
    /// Positions in the ``ParameterSet``, in the order torch would list them (their state-dict order).
    public var positions: [Int]
    /// The learning rate of the current epoch; a ``LearningRateSchedule`` sets it from ``baseLearningRate``.
    public var learningRate: Float
    public var weightDecay: Float
    /// The learning rate the schedule starts from (torch's `initial_lr`).
    public var baseLearningRate: Float

    public init(positions: [Int], learningRate: Float, weightDecay: Float) {
        self.positions = positions
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        baseLearningRate = learningRate
    }

    /// This group with ``learningRate`` set by `schedule` for `epoch`.
    public func scheduled(_ schedule: LearningRateSchedule, epoch: Int) -> ParameterGroup {
        var group = self
        group.learningRate = schedule.learningRate(base: baseLearningRate, epoch: epoch)
        return group
    }
}

extension ParameterGroup {
    /// cirtorch's groups (its `train.py`), in its order: the backbone (every parameter that is none of the
    /// following) at `learningRate`; local whitening `lwhiten.*` at `learningRate`; GeM's `pool.p` at 10 ×
    /// `learningRate` with no weight decay; whitening `whiten.*` at `learningRate`. Groups with no parameter
    /// are left out, as cirtorch leaves out modules it does not have (MAC and SPoC have no `p`).
    ///
    /// - Parameter frozen: positions that are not trained (`--freeze-below`); they join no group, so the
    ///   optimiser neither moves nor decays them.
    public static func cirtorch(parameters: ParameterSet, learningRate: Float, weightDecay: Float,
                                frozen: Set<Int> = []) -> [ParameterGroup] {
        var backbone: [Int] = [], localWhitening: [Int] = [], pooling: [Int] = [], whitening: [Int] = []
        for position in 0..<parameters.count where !frozen.contains(position) {
            let name = parameters[position].name
            if name.hasPrefix("lwhiten.") {
                localWhitening.append(position)
            } else if name.hasPrefix("pool.") {
                pooling.append(position)
            } else if name.hasPrefix("whiten.") {
                whitening.append(position)
            } else {
                backbone.append(position)
            }
        }
        let groups = [
            ParameterGroup(positions: backbone, learningRate: learningRate, weightDecay: weightDecay),
            ParameterGroup(positions: localWhitening, learningRate: learningRate, weightDecay: weightDecay),
            ParameterGroup(positions: pooling, learningRate: Float(learningRate.intendedDouble * 10), weightDecay: 0),
            ParameterGroup(positions: whitening, learningRate: learningRate, weightDecay: weightDecay),
        ]
        return groups.filter { !$0.positions.isEmpty }
    }
}

/// An optimiser: turns the gradients accumulated in a ``ParameterSet`` into one update of its values,
/// with torch.optim's exact arithmetic so that a run here and one in PyTorch stay together step by step.
///
/// Its state (momentum buffers, Adam's moments and step counts) is part of a training run's checkpoint:
/// ``stateDictionary(_:)`` and ``load(_:parameters:)`` round-trip it exactly, so a run resumed after a
/// kill continues with identical updates.
public protocol Optimizer: Sendable {
    /// One step of torch.optim's update over every group (learning rate per group, as the schedule set it).
    /// Parameters in no group are left alone; parameters in a group are updated even where their gradient
    /// is zero (torch skips only parameters whose `.grad` is `None`, which a ``ParameterSet`` never has).
    mutating func step(_ parameters: inout ParameterSet, groups: [ParameterGroup])

    /// The state as named tensors, `<parameter name>.<torch's state key>` (`layer4.2.conv3.weight.exp_avg`),
    /// for the training checkpoint a run resumes from.
    func stateDictionary(_ parameters: ParameterSet) -> StateDictionary

    /// Restores the state ``stateDictionary(_:)`` wrote for the same parameters.
    /// - Throws: `OptimizerStateError` naming the tensor that is missing, mis-shaped or unexpected.
    mutating func load(_ state: StateDictionary, parameters: ParameterSet) throws(OptimizerStateError)

    /// torch's `optimizer.state_dict()` — `{'state': {index: {…}}, 'param_groups': [{…, 'params': [indices]}]}`
    /// with parameters numbered across the groups in order — so that cirtorch's `--resume` can read the
    /// checkpoint's `'optimizer'` entry; tensors go through `archive`.
    func torchStateDictionary(parameters: ParameterSet, groups: [ParameterGroup], archive: inout TorchTensorArchive) -> PickleValue
}

/// An optimiser state that does not fit the parameters it is loaded for.
public struct OptimizerStateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tensor concerned (`layer1.0.conv1.weight.momentum_buffer`).
    public var tensor: String
    public var reason: String

    public init(tensor: String, reason: String) {
        self.tensor = tensor
        self.reason = reason
    }

    public var description: String {
        "optimizer state '\(tensor)': \(reason); was the checkpoint written for another network or optimizer?"
    }
}

/// Per-parameter state tensors keyed by position, with the save/load both optimisers share.
struct PerParameterState: Sendable, Equatable {
    /// State key (torch's name) → position → values.
    var buffers: [String: [Int: [Float]]] = [:]

    func values(_ key: String, _ position: Int) -> [Float]? { buffers[key]?[position] }

    /// Removes and returns a buffer, so that the caller holds its only reference and updates it in place
    /// (a copy of a moment buffer per step would cost as much as the update); `set` puts it back.
    mutating func take(_ key: String, _ position: Int) -> [Float]? { buffers[key]?.removeValue(forKey: position) }

    mutating func set(_ key: String, _ position: Int, _ values: [Float]) {
        buffers[key, default: [:]][position] = values
    }

    /// Tensors in parameter order, then key order, so the file is the same for the same state.
    func stateDictionary(_ parameters: ParameterSet, keys: [String], shape: (String, Parameter) -> [Int]) -> StateDictionary {
        var tensors: [StateTensor] = []
        for position in 0..<parameters.count {
            let parameter = parameters[position]
            for key in keys {
                guard let values = buffers[key]?[position] else { continue }
                tensors.append(StateTensor(name: "\(parameter.name).\(key)", shape: shape(key, parameter), values: values))
            }
        }
        return StateDictionary(tensors)
    }

    /// Reads back what `stateDictionary` wrote; every tensor must belong to a known parameter and key.
    static func load(_ state: StateDictionary, parameters: ParameterSet, keys: [String],
                     count: (String, Parameter) -> Int) throws(OptimizerStateError) -> PerParameterState {
        var result = PerParameterState()
        for tensor in state.tensors {
            guard let key = keys.first(where: { tensor.name.hasSuffix(".\($0)") }) else {
                throw OptimizerStateError(tensor: tensor.name, reason: "not a state this optimizer keeps (\(keys.joined(separator: ", ")))")
            }
            let parameterName = String(tensor.name.dropLast(key.count + 1))
            guard let position = parameters.position(of: parameterName) else {
                throw OptimizerStateError(tensor: tensor.name, reason: "there is no parameter '\(parameterName)'")
            }
            let expected = count(key, parameters[position])
            guard tensor.values.count == expected else {
                throw OptimizerStateError(tensor: tensor.name,
                                          reason: "it has \(tensor.values.count) values, the parameter needs \(expected)")
            }
            result.set(key, position, tensor.values)
        }
        return result
    }

    /// torch's `'state'` dict: parameters numbered across the groups, each with its present buffers.
    func torchState(groups: [ParameterGroup], parameters: ParameterSet, keys: [String],
                    tensor: (String, Int, [Float]) -> PickleValue) -> PickleValue {
        var entries: [PickleDictionaryEntry] = []
        var index = 0
        for group in groups {
            for position in group.positions {
                var fields: [PickleDictionaryEntry] = []
                for key in keys {
                    guard let values = buffers[key]?[position] else { continue }
                    fields.append(PickleDictionaryEntry(key: .string(key), value: tensor(key, position, values)))
                }
                if !fields.isEmpty { entries.append(PickleDictionaryEntry(key: .int(index), value: .dictionary(fields))) }
                index += 1
            }
        }
        return .dictionary(entries)
    }
}

extension ParameterGroup {
    /// The `param_groups` entry torch writes for this group: `hyperparameters` in torch's key order, then
    /// `initial_lr` (which torch's schedulers add and cirtorch's resume needs) and `params`.
    func torchGroup(_ hyperparameters: [(String, PickleValue)], firstIndex: Int) -> PickleValue {
        var entries = [PickleDictionaryEntry(key: .string("lr"), value: .float(learningRate.intendedDouble))]
        for (key, value) in hyperparameters {
            let resolved: PickleValue = key == "weight_decay" ? .float(weightDecay.intendedDouble) : value
            entries.append(PickleDictionaryEntry(key: .string(key), value: resolved))
        }
        entries.append(PickleDictionaryEntry(key: .string("initial_lr"), value: .float(baseLearningRate.intendedDouble)))
        entries.append(PickleDictionaryEntry(key: .string("params"),
                                             value: .list((firstIndex..<(firstIndex + positions.count)).map { .int($0) })))
        return .dictionary(entries)
    }
}

extension Float {
    /// The Double a person meant when they wrote this Float: its shortest decimal spelling read as a Double
    /// (`Float(0.9)` → `0.9`, not `0.899999976…`). torch takes hyperparameters as Python floats (doubles), so
    /// scalar factors computed from this value — bias corrections, `1 − lr·wd` — match torch's to the last
    /// bit instead of differing by a Float's rounding.
    var intendedDouble: Double { Double("\(self)") ?? Double(self) }
}
