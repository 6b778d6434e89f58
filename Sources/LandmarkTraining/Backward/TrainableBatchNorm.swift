import Foundation
import LandmarkTensor

/// How BatchNorm behaves while fine-tuning. cirtorch fine-tunes with the statistics frozen (batches of
/// one tuple are too small to estimate them); training mode normalises each image by its own statistics
/// over H × W — what torch computes for a batch of one — and moves the running statistics.
public enum BatchNormMode: Sendable, Equatable, Codable {
    case frozen
    case training(momentum: Float)
}

/// BatchNorm kept unfolded for training: scale γ and shift β are parameters, the running mean and
/// variance are buffers (exported, never trained by gradient).
public struct TrainableBatchNorm: Sendable {
    public let scalePosition: Int
    public let shiftPosition: Int
    public let channels: Int
    public let epsilon: Float

    public init(scalePosition: Int, shiftPosition: Int, channels: Int, epsilon: Float) {
        self.scalePosition = scalePosition
        self.shiftPosition = shiftPosition
        self.channels = channels
        self.epsilon = epsilon
    }

    /// What backward needs: x̂ and 1/σ per channel, and whether statistics came from the image.
    public struct Tape: Sendable {
        let normalized: FeatureMap
        let inverseDeviation: [Float]
        let usedImageStatistics: Bool
    }

    /// Normalises `input`; in training mode also moves `runningMean` / `runningVariance` as torch does
    /// (the variance with Bessel's correction).
    public func forward(_ input: FeatureMap, parameters: ParameterSet, mode: BatchNormMode,
                        runningMean: inout [Float], runningVariance: inout [Float]) -> (output: FeatureMap, tape: Tape) {
        let plane = input.planeSize
        var normalized = input, output = input
        var inverseDeviation = [Float](repeating: 0, count: channels)
        let scale = parameters[scalePosition].value, shift = parameters[shiftPosition].value
        for channel in 0..<channels {
            let base = channel * plane
            var mean = runningMean[channel], variance = runningVariance[channel]
            if case .training(let momentum) = mode {
                var sum = 0.0
                for index in 0..<plane { sum += Double(input.storage[base + index]) }
                let imageMean = sum / Double(plane)
                var squares = 0.0
                for index in 0..<plane { let d = Double(input.storage[base + index]) - imageMean; squares += d * d }
                mean = Float(imageMean)
                variance = Float(squares / Double(plane))
                let unbiased = plane > 1 ? Float(squares / Double(plane - 1)) : variance
                runningMean[channel] = (1 - momentum) * runningMean[channel] + momentum * mean
                runningVariance[channel] = (1 - momentum) * runningVariance[channel] + momentum * unbiased
            }
            let inverse = 1 / (variance + epsilon).squareRoot()
            inverseDeviation[channel] = inverse
            for index in 0..<plane {
                let value = (input.storage[base + index] - mean) * inverse
                normalized.storage[base + index] = value
                output.storage[base + index] = value * scale[channel] + shift[channel]
            }
        }
        let usesImage: Bool
        if case .training = mode { usesImage = true } else { usesImage = false }
        return (output, Tape(normalized: normalized, inverseDeviation: inverseDeviation, usedImageStatistics: usesImage))
    }

    /// Accumulates dL/dγ, dL/dβ and returns dL/dinput.
    public func backward(_ outputGradient: FeatureMap, tape: Tape, parameters: inout ParameterSet) -> FeatureMap {
        let plane = outputGradient.planeSize
        var inputGradient = outputGradient
        let scale = parameters[scalePosition].value
        var scaleGradient = parameters[scalePosition].gradient, shiftGradient = parameters[shiftPosition].gradient
        for channel in 0..<channels {
            let base = channel * plane
            var sum = 0.0, weighted = 0.0
            for index in 0..<plane {
                let g = Double(outputGradient.storage[base + index])
                sum += g
                weighted += g * Double(tape.normalized.storage[base + index])
            }
            scaleGradient[channel] += Float(weighted)
            shiftGradient[channel] += Float(sum)
            let factor = scale[channel] * tape.inverseDeviation[channel]
            if tape.usedImageStatistics {
                // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
                let meanGradient = Float(sum / Double(plane)), meanWeighted = Float(weighted / Double(plane))
                for index in 0..<plane {
                    let g = outputGradient.storage[base + index]
                    inputGradient.storage[base + index] = factor * (g - meanGradient - tape.normalized.storage[base + index] * meanWeighted)
                }
            } else {
                for index in 0..<plane { inputGradient.storage[base + index] = outputGradient.storage[base + index] * factor }
            }
        }
        parameters[scalePosition].gradient = scaleGradient
        parameters[shiftPosition].gradient = shiftGradient
        return inputGradient
    }
}

/// ReLU6 and its gradient (torch's hardtanh: the gradient passes strictly inside (0, 6)).
/// ReLU, ResNet's activation: the gradient passes where the input was positive (torch's convention at 0).
enum RectifiedLinearUnit {
    static func forward(_ input: FeatureMap) -> FeatureMap {
        var output = input
        for index in output.storage.indices { output.storage[index] = max(output.storage[index], 0) }
        return output
    }

    static func backward(_ outputGradient: FeatureMap, input: FeatureMap) -> FeatureMap {
        var gradient = outputGradient
        for index in gradient.storage.indices where !(input.storage[index] > 0) { gradient.storage[index] = 0 }
        return gradient
    }
}

enum ClippedLinearUnit {
    static func forward(_ input: FeatureMap) -> FeatureMap {
        var output = input
        for index in output.storage.indices { output.storage[index] = min(max(output.storage[index], 0), 6) }
        return output
    }

    static func backward(_ outputGradient: FeatureMap, input: FeatureMap) -> FeatureMap {
        var gradient = outputGradient
        for index in gradient.storage.indices where !(input.storage[index] > 0 && input.storage[index] < 6) {
            gradient.storage[index] = 0
        }
        return gradient
    }
}
