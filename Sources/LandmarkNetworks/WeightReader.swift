import LandmarkCheckpoint
import LandmarkTensor

/// Reads a network's layers out of a checkpoint by state-dict name, checking every shape against
/// the architecture, and folds each BatchNorm into the convolution before it.
///
/// All networks go through here so that a missing or mis-shaped tensor is reported the same way,
/// naming the tensor, what was expected and the file.
struct WeightReader {
    let checkpoint: Checkpoint
    let architecture: String

    var file: String { checkpoint.file }

    func error(_ code: CheckpointError.Code, _ reason: String) -> CheckpointError {
        CheckpointError(code: code, file: file, reason: reason)
    }

    func has(_ name: String) -> Bool { checkpoint.tensors[name] != nil }

    /// The tensor `name`, whose shape must be `shape` (`nil` entries match any size).
    func tensor(_ name: String, shape: [Int?]) throws(CheckpointError) -> CheckpointTensor {
        guard let tensor = checkpoint.tensors[name] else {
            throw error(.missingTensor, "tensor '\(name)' needed by \(architecture) is not in the checkpoint")
        }
        let matches = tensor.shape.count == shape.count
            && zip(tensor.shape, shape).allSatisfy { actual, expected in expected.map { $0 == actual } ?? true }
        guard matches else {
            let expected = shape.map { $0.map(String.init) ?? "*" }.joined(separator: "×")
            let actual = tensor.shape.map(String.init).joined(separator: "×")
            throw error(.shapeMismatch, "tensor '\(name)' is \(actual), \(architecture) needs \(expected)")
        }
        return tensor
    }

    /// The 4-D convolution weight `name` (torch layout `[out][in / groups][kh][kw]`).
    func convolution(_ name: String, outputChannels: Int?, inputChannels: Int, kernel: Int?, stride: Int = 1,
                     padding: Padding, groups: Int = 1, hasBias: Bool = false) throws(CheckpointError) -> Convolution2D {
        let weight = try tensor("\(name).weight", shape: [outputChannels, inputChannels / groups, kernel, kernel])
        let outputs = weight.shape[0]
        let bias = hasBias ? try tensor("\(name).bias", shape: [outputs]).values : nil
        guard outputs % groups == 0 else {
            throw error(.shapeMismatch, "tensor '\(name).weight' has \(outputs) outputs, not a multiple of \(groups) groups")
        }
        return Convolution2D(weights: weight.values, outputChannels: outputs, inputChannels: inputChannels,
                             kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], bias: bias, stride: stride,
                             padding: padding, groups: groups)
    }

    /// `convolution` with the inference-mode BatchNorm `batchNorm` folded in.
    func convolution(_ name: String, batchNorm: String, epsilon: Float, outputChannels: Int?, inputChannels: Int,
                     kernel: Int?, stride: Int = 1, padding: Padding, groups: Int = 1) throws(CheckpointError) -> Convolution2D {
        let convolution = try convolution(name, outputChannels: outputChannels, inputChannels: inputChannels,
                                          kernel: kernel, stride: stride, padding: padding, groups: groups)
        let count = convolution.outputChannels
        let scale = try tensor("\(batchNorm).weight", shape: [count]).values
        let shift = try tensor("\(batchNorm).bias", shape: [count]).values
        let mean = try tensor("\(batchNorm).running_mean", shape: [count]).values
        let variance = try tensor("\(batchNorm).running_var", shape: [count]).values
        return convolution.foldingBatchNorm(scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
    }

    /// The fully connected layer `name` (`weight` `[out][in]`, optional `bias` `[out]`).
    func linear(_ name: String, inputCount: Int?) throws(CheckpointError) -> Linear {
        let weight = try tensor("\(name).weight", shape: [nil, inputCount])
        let outputs = weight.shape[0]
        let bias = has("\(name).bias") ? try tensor("\(name).bias", shape: [outputs]).values : nil
        return Linear(weights: weight.values, outputCount: outputs, inputCount: weight.shape[1], bias: bias)
    }

    /// How many consecutive children `prefix.0`, `prefix.1`, … have a tensor `prefix.N.suffix`.
    func childCount(_ prefix: String, suffix: String) -> Int {
        var count = 0
        while has("\(prefix).\(count).\(suffix)") { count += 1 }
        return count
    }
}
