import Foundation
import LandmarkPickle

/// Adam, and AdamW with `decoupledWeightDecay`: torch.optim.Adam / AdamW's exact update (cirtorch's
/// default optimiser is Adam, lr 1e-6 to 5e-7, weight decay 1e-6 … 1e-4).
///
/// Per parameter, with `t` its step count after this step, in Float32 as torch computes it on the CPU:
/// Adam adds `weightDecay·param` to the gradient; AdamW instead scales `param` by `1 − lr·weightDecay`
/// first. Then `m ← β1·m + (1 − β1)·g`, `v ← β2·v + (1 − β2)·g²`, and
/// `param ← param − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)` — ε is added *after* the bias
/// correction of `v`, which matters early in training when `v` is tiny. The scalar factors are computed in
/// Double and rounded once, as Python computes them.
public struct Adam: Optimizer, Equatable {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    /// AdamW (Loshchilov & Hutter): weight decay shrinks the weights directly instead of entering the
    /// moments, so it is not rescaled by the adaptive step.
    public let decoupledWeightDecay: Bool
    var state = PerParameterState()

    static let stepKey = "step", firstMomentKey = "exp_avg", secondMomentKey = "exp_avg_sq"
    static let keys = [stepKey, firstMomentKey, secondMomentKey]

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, decoupledWeightDecay: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// The number of steps taken for the parameter at `position` (0 before the first).
    public func stepCount(at position: Int) -> Int {
        state.values(Self.stepKey, position).map { Int($0[0]) } ?? 0
    }

    public mutating func step(_ parameters: inout ParameterSet, groups: [ParameterGroup]) {
        for group in groups {
            for position in group.positions {
                let count = parameters[position].count
                // torch keeps the step count as a float32 tensor; exact up to 2^24 steps.
                let step = (state.values(Self.stepKey, position)?[0] ?? 0) + 1
                var firstMoment = state.take(Self.firstMomentKey, position) ?? [Float](repeating: 0, count: count)
                var secondMoment = state.take(Self.secondMomentKey, position) ?? [Float](repeating: 0, count: count)
                let rate = group.learningRate.intendedDouble
                let biasCorrection1 = 1 - pow(beta1.intendedDouble, Double(step))
                let biasCorrection2 = 1 - pow(beta2.intendedDouble, Double(step))
                let stepSize = Float(-(rate / biasCorrection1))
                let biasCorrection2Root = Float(biasCorrection2.squareRoot())
                let shrink = Float(1 - rate * group.weightDecay.intendedDouble)
                let coupledDecay = decoupledWeightDecay ? 0 : group.weightDecay
                let decoupled = decoupledWeightDecay
                let beta1 = beta1, beta2 = beta2, epsilon = epsilon
                let gradientWeight1 = Float(1 - beta1.intendedDouble), gradientWeight2 = Float(1 - beta2.intendedDouble)
                parameters.withParameter(at: position) { parameter in
                    parameter.value.withUnsafeMutableBufferPointer { values in
                        parameter.gradient.withUnsafeBufferPointer { gradients in
                            firstMoment.withUnsafeMutableBufferPointer { first in
                                secondMoment.withUnsafeMutableBufferPointer { second in
                                    // One branch-free loop per weight-decay form, so that the compiler vectorises it
                                    // (sqrt and division included); the operations and their order are torch's.
                                    if decoupled {
                                        for index in 0..<values.count {
                                            let gradient = gradients[index]
                                            let value = values[index] * shrink
                                            first[index] = first[index] * beta1 + gradientWeight1 * gradient
                                            second[index] = second[index] * beta2 + gradientWeight2 * gradient * gradient
                                            let denominator = second[index].squareRoot() / biasCorrection2Root + epsilon
                                            values[index] = value + stepSize * first[index] / denominator
                                        }
                                    } else {
                                        for index in 0..<values.count {
                                            let gradient = gradients[index] + coupledDecay * values[index]
                                            first[index] = first[index] * beta1 + gradientWeight1 * gradient
                                            second[index] = second[index] * beta2 + gradientWeight2 * gradient * gradient
                                            let denominator = second[index].squareRoot() / biasCorrection2Root + epsilon
                                            values[index] = values[index] + stepSize * first[index] / denominator
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                state.set(Self.stepKey, position, [step])
                state.set(Self.firstMomentKey, position, firstMoment)
                state.set(Self.secondMomentKey, position, secondMoment)
            }
        }
    }

    public func stateDictionary(_ parameters: ParameterSet) -> StateDictionary {
        state.stateDictionary(parameters, keys: Self.keys) { key, parameter in key == Self.stepKey ? [] : parameter.shape }
    }

    public mutating func load(_ saved: StateDictionary, parameters: ParameterSet) throws(OptimizerStateError) {
        state = try PerParameterState.load(saved, parameters: parameters, keys: Self.keys) { key, parameter in
            key == Self.stepKey ? 1 : parameter.count
        }
        for position in 0..<parameters.count {
            let present = Self.keys.filter { state.values($0, position) != nil }
            guard present.isEmpty || present.count == Self.keys.count else {
                throw OptimizerStateError(tensor: "\(parameters[position].name).\(Self.keys.first { !present.contains($0) } ?? "")",
                                          reason: "Adam needs step, exp_avg and exp_avg_sq together; only \(present.joined(separator: ", ")) are saved")
            }
        }
    }

    public func torchStateDictionary(parameters: ParameterSet, groups: [ParameterGroup],
                                     archive: inout TorchTensorArchive) -> PickleValue {
        let torchState = state.torchState(groups: groups, parameters: parameters, keys: Self.keys) { key, position, values in
            archive.tensor(values, shape: key == Self.stepKey ? [] : parameters[position].shape)
        }
        var torchGroups: [PickleValue] = []
        var first = 0
        let betas = PickleValue.tuple([.float(beta1.intendedDouble), .float(beta2.intendedDouble)])
        for group in groups {
            var hyperparameters: [(String, PickleValue)] = [
                ("betas", betas), ("eps", .float(epsilon.intendedDouble)), ("weight_decay", .none), ("amsgrad", .bool(false)),
                ("maximize", .bool(false)), ("foreach", .none), ("capturable", .bool(false)),
            ]
            if !decoupledWeightDecay {
                hyperparameters += [("differentiable", .bool(false)), ("fused", .bool(false))]
            }
            torchGroups.append(group.torchGroup(hyperparameters, firstIndex: first))
            first += group.positions.count
        }
        return .dictionary([
            PickleDictionaryEntry(key: .string("state"), value: torchState),
            PickleDictionaryEntry(key: .string("param_groups"), value: .list(torchGroups)),
        ])
    }
}
