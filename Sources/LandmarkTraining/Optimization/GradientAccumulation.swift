/// Several batches (or tuples) per optimiser step, so that a CPU that fits one tuple at a time still trains
/// with the effective batch size of the method.
///
/// How: every backward pass *adds* into ``Parameter/gradient`` (layers never overwrite it), so k batches
/// in a row leave the sum of their gradients. After the k-th, ``batchFinished(_:optimizer:groups:)``
/// scales the sum by 1/k when ``Reduction/mean`` is chosen (the gradient of the mean loss, as if one
/// batch k times larger had been run), takes one optimiser step, and zeroes the gradients for the next
/// group of batches. ``Reduction/sum`` leaves the sum unscaled — what cirtorch's `--update-every` does,
/// since it calls `backward()` on each tuple's loss and steps on the accumulated sum.
public struct GradientAccumulation: Sendable, Equatable {
    public enum Reduction: Sendable, Equatable {
        /// Step on the sum of the batches' gradients (cirtorch).
        case sum
        /// Step on their mean: the sum multiplied by 1/k in Float32.
        case mean
    }

    public let batchesPerStep: Int
    public let reduction: Reduction
    /// Batches accumulated since the last step.
    public private(set) var pendingBatches = 0

    public init(batchesPerStep: Int, reduction: Reduction) {
        precondition(batchesPerStep >= 1, "at least one batch per optimizer step")
        self.batchesPerStep = batchesPerStep
        self.reduction = reduction
    }

    /// Call after each batch's backward pass. Steps `optimizer` (and zeroes the gradients) when
    /// `batchesPerStep` batches have accumulated; returns whether it stepped.
    @discardableResult
    public mutating func batchFinished(_ parameters: inout ParameterSet, optimizer: inout some Optimizer,
                                       groups: [ParameterGroup]) -> Bool {
        pendingBatches += 1
        guard pendingBatches == batchesPerStep else { return false }
        flush(&parameters, optimizer: &optimizer, groups: groups)
        return true
    }

    /// Steps on the batches accumulated so far, if any (at the end of an epoch whose batch count is not a
    /// multiple of k; `.mean` then divides by the batches actually accumulated). cirtorch instead drops
    /// such a remainder: call ``discard(_:)`` for that.
    public mutating func flush(_ parameters: inout ParameterSet, optimizer: inout some Optimizer, groups: [ParameterGroup]) {
        guard pendingBatches > 0 else { return }
        if reduction == .mean, pendingBatches > 1 {
            parameters.scaleGradients(by: 1 / Float(pendingBatches), in: groups)
        }
        optimizer.step(&parameters, groups: groups)
        parameters.zeroGradients()
        pendingBatches = 0
    }

    /// Forgets the accumulated batches without stepping.
    public mutating func discard(_ parameters: inout ParameterSet) {
        parameters.zeroGradients()
        pendingBatches = 0
    }
}

extension ParameterSet {
    /// Multiplies the gradients of the groups' parameters by `factor` (each once, even if listed twice).
    public mutating func scaleGradients(by factor: Float, in groups: [ParameterGroup]) {
        var done = Set<Int>()
        for group in groups {
            for position in group.positions where done.insert(position).inserted {
                var parameter = self[position]
                parameter.gradient.withUnsafeMutableBufferPointer { gradient in
                    for index in gradient.indices { gradient[index] *= factor }
                }
                self[position] = parameter
            }
        }
    }
}
