/// The optimiser a run was configured with, as one value the run can step, save and restore.
enum RunOptimizer: Sendable {
    case adam(Adam)
    case sgd(StochasticGradientDescent)

    init(_ kind: FineTuningConfiguration.OptimizerKind) {
        switch kind {
        case .adam: self = .adam(Adam())
        case .sgd: self = .sgd(StochasticGradientDescent(momentum: 0.9))
        }
    }

    mutating func step(_ parameters: inout ParameterSet, groups: [ParameterGroup]) {
        switch self {
        case .adam(var optimizer):
            optimizer.step(&parameters, groups: groups)
            self = .adam(optimizer)
        case .sgd(var optimizer):
            optimizer.step(&parameters, groups: groups)
            self = .sgd(optimizer)
        }
    }

    func stateDictionary(_ parameters: ParameterSet) -> StateDictionary {
        switch self {
        case .adam(let optimizer): optimizer.stateDictionary(parameters)
        case .sgd(let optimizer): optimizer.stateDictionary(parameters)
        }
    }

    mutating func load(_ saved: StateDictionary, parameters: ParameterSet) throws(OptimizerStateError) {
        switch self {
        case .adam(var optimizer):
            try optimizer.load(saved, parameters: parameters)
            self = .adam(optimizer)
        case .sgd(var optimizer):
            try optimizer.load(saved, parameters: parameters)
            self = .sgd(optimizer)
        }
    }
}
