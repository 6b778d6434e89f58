import Foundation
import LandmarkDescriptors
import LandmarkLinearAlgebra
import LandmarkTensor

/// cirtorch's retrieval head in training form: pool → L2N → [whitening (linear) → L2N], with the
/// gradients of every step — including GeM's p, which cirtorch learns (at ten times the learning rate).
///
/// The forward pass uses the inference pooling kernels, so a trained head describes images exactly
/// as `landmark index` will with the exported checkpoint.
public struct TrainableRetrievalHead: Sendable {
    public enum Pooling: String, Sendable, Codable { case mac, spoc, gem }

    public let pooling: Pooling
    public let inputChannels: Int
    /// Position of `pool.p` (GeM only).
    public let pPosition: Int?
    /// Positions of `whiten.weight` [out, in] and `whiten.bias` [out].
    public let whiteningPositions: (weight: Int, bias: Int)?
    public let outputDimension: Int

    /// GeM's clamp and L2N's ε, cirtorch's.
    public static let epsilon: Float = 1e-6

    /// Appends `pool.p` (GeM, shape [1]) and, with whitening, `whiten.weight` and `whiten.bias` to
    /// `parameters` (cirtorch's state-dict names).
    public init(pooling: Pooling, gemP: Float = 3, inputChannels: Int, whitening: Linear?, parameters: inout ParameterSet) {
        precondition(inputChannels > 0, "the head needs at least one input channel")
        self.pooling = pooling
        self.inputChannels = inputChannels
        pPosition = pooling == .gem ? parameters.append(Parameter(name: "pool.p", shape: [1], value: [gemP])) : nil
        if let whitening {
            precondition(whitening.inputCount == inputChannels, "whitening takes \(whitening.inputCount) inputs, the trunk gives \(inputChannels)")
            let weight = parameters.append(Parameter(name: "whiten.weight", shape: [whitening.outputCount, inputChannels],
                                                     value: whitening.weights))
            let bias = parameters.append(Parameter(name: "whiten.bias", shape: [whitening.outputCount],
                                                   value: whitening.bias ?? [Float](repeating: 0, count: whitening.outputCount)))
            whiteningPositions = (weight, bias)
            outputDimension = whitening.outputCount
        } else {
            whiteningPositions = nil
            outputDimension = inputChannels
        }
    }

    public var hasWhitening: Bool { whiteningPositions != nil }

    /// What the backward pass needs from one forward pass.
    public struct Tape: Sendable {
        let map: FeatureMap
        let pooled: [Float]
        let pooledNorm: Double
        let normalized: [Float]
        let whitened: [Float]?
        let whitenedNorm: Double
        let p: Float
        let gem: GeneralizedMeanTape?
    }

    /// GeM's per-element x^p (x clamped at ε) and per-channel sums, kept from the forward pass so that the backward
    /// pass needs no transcendental function: x^(p−1) = x^p / x.
    struct GeneralizedMeanTape: Sendable {
        let powers: [Float]
        /// Per channel: mean x^p and mean x^p·ln x.
        let means: [Double]
        let weightedLogarithms: [Double]
    }

    /// GeM as x^p = exp(p·ln x) in Float with Double sums — one logarithm and one exponential per element,
    /// within a few ulps of the inference kernel's Double pow.
    static func generalizedMean(_ map: FeatureMap, p: Float) -> ([Float], GeneralizedMeanTape) {
        let plane = map.planeSize
        var powers = [Float](repeating: 0, count: map.storage.count)
        var pooled = [Float](repeating: 0, count: map.channels)
        var means = [Double](repeating: 0, count: map.channels), weighted = means
        let root = Double(Float(1) / p)
        map.storage.withUnsafeBufferPointer { x in
            powers.withUnsafeMutableBufferPointer { power in
                    for channel in 0..<map.channels {
                        var sum = 0.0, weightedSum = 0.0
                        for index in channel * plane..<(channel + 1) * plane {
                            let l = Foundation.logf(max(x[index], epsilon))
                            let e = Foundation.expf(p * l)
                            power[index] = e
                            sum += Double(e)
                            weightedSum += Double(e) * Double(l)
                        }
                        means[channel] = sum / Double(plane)
                        weighted[channel] = weightedSum / Double(plane)
                        pooled[channel] = Float(Foundation.pow(means[channel], root))
                    }
            }
        }
        return (pooled, GeneralizedMeanTape(powers: powers, means: means, weightedLogarithms: weighted))
    }

    public func forward(_ map: FeatureMap, parameters: ParameterSet) -> (descriptor: [Float], tape: Tape) {
        precondition(map.channels == inputChannels, "the head expects \(inputChannels) channels, not \(map.channels)")
        let p = pPosition.map { parameters[$0].value[0] } ?? 1
        var pooled: [Float], gem: GeneralizedMeanTape?
        switch pooling {
        case .mac: pooled = GlobalPooling.mac(map); gem = nil
        case .spoc: pooled = GlobalPooling.spoc(map); gem = nil
        case .gem: (pooled, gem) = Self.generalizedMean(map, p: p)
        }
        let pooledNorm = Self.norm(pooled)
        let normalized = Self.scaled(pooled, 1 / (pooledNorm + Double(Self.epsilon)))
        guard let (weight, bias) = whiteningPositions else {
            return (normalized, Tape(map: map, pooled: pooled, pooledNorm: pooledNorm, normalized: normalized,
                                     whitened: nil, whitenedNorm: 0, p: p, gem: gem))
        }
        var whitened = parameters[bias].value
        parameters[weight].value.withUnsafeBufferPointer { w in
            normalized.withUnsafeBufferPointer { x in
                whitened.withUnsafeMutableBufferPointer { y in
                    guard let w = w.baseAddress, let x = x.baseAddress, let y = y.baseAddress else { return }
                    BLAS.gemv(transpose: false, rows: outputDimension, columns: inputChannels, alpha: 1, a: w,
                              lda: inputChannels, x: x, beta: 1, y: y)
                }
            }
        }
        let whitenedNorm = Self.norm(whitened)
        let descriptor = Self.scaled(whitened, 1 / (whitenedNorm + Double(Self.epsilon)))
        return (descriptor, Tape(map: map, pooled: pooled, pooledNorm: pooledNorm, normalized: normalized,
                                 whitened: whitened, whitenedNorm: whitenedNorm, p: p, gem: gem))
    }

    /// Accumulates dL/dp, dL/dW, dL/db into `parameters` and returns dL/dmap.
    public func backward(_ descriptorGradient: [Float], tape: Tape, parameters: inout ParameterSet) -> FeatureMap {
        precondition(descriptorGradient.count == outputDimension, "gradient of \(descriptorGradient.count) values for a \(outputDimension)-D descriptor")
        var normalizedGradient = descriptorGradient
        if let (weight, bias) = whiteningPositions, let whitened = tape.whitened {
            let whitenedGradient = Self.l2NormalizationBackward(descriptorGradient, input: whitened, norm: tape.whitenedNorm)
            parameters[bias].gradient.withUnsafeMutableBufferPointer { gradient in
                for index in 0..<outputDimension { gradient[index] += whitenedGradient[index] }
            }
            // dW += g xᵀ (a rank-one update as a k = 1 product), dx = Wᵀ g.
            parameters[weight].gradient.withUnsafeMutableBufferPointer { gradient in
                whitenedGradient.withUnsafeBufferPointer { g in
                    tape.normalized.withUnsafeBufferPointer { x in
                        guard let gradient = gradient.baseAddress, let g = g.baseAddress, let x = x.baseAddress else { return }
                        BLAS.gemm(transposeA: false, transposeB: false, m: outputDimension, n: inputChannels, k: 1, alpha: 1,
                                  a: g, lda: 1, b: x, ldb: inputChannels, beta: 1, c: gradient, ldc: inputChannels)
                    }
                }
            }
            normalizedGradient = [Float](repeating: 0, count: inputChannels)
            parameters[weight].value.withUnsafeBufferPointer { w in
                whitenedGradient.withUnsafeBufferPointer { g in
                    normalizedGradient.withUnsafeMutableBufferPointer { y in
                        guard let w = w.baseAddress, let g = g.baseAddress, let y = y.baseAddress else { return }
                        BLAS.gemv(transpose: true, rows: outputDimension, columns: inputChannels, alpha: 1, a: w,
                                  lda: inputChannels, x: g, beta: 0, y: y)
                    }
                }
            }
        }
        let pooledGradient = Self.l2NormalizationBackward(normalizedGradient, input: tape.pooled, norm: tape.pooledNorm)
        return poolingBackward(pooledGradient, tape: tape, parameters: &parameters)
    }

    private func poolingBackward(_ gradient: [Float], tape: Tape, parameters: inout ParameterSet) -> FeatureMap {
        let map = tape.map
        let plane = map.planeSize
        var input = FeatureMap(channels: map.channels, height: map.height, width: map.width)
        switch pooling {
        case .spoc:
            for channel in 0..<map.channels {
                let share = gradient[channel] / Float(plane)
                for index in 0..<plane { input.storage[channel * plane + index] = share }
            }
        case .mac:
            for channel in 0..<map.channels {
                // The first maximum in scan order, as torch's max_pool2d records it.
                var best = 0
                for index in 1..<max(plane, 1) where map.storage[channel * plane + index] > map.storage[channel * plane + best] {
                    best = index
                }
                input.storage[channel * plane + best] = gradient[channel]
            }
        case .gem:
            // y = m^(1/p), m = mean(max(x, ε)^p): dy/dx = m^(1/p − 1)·x^(p − 1)/N where x ≥ ε,
            // dy/dp = y·(−ln m / p² + E[x^p ln x] / (p·m)).
            guard let gem = tape.gem else { break }
            let p = Double(tape.p)
            var pGradient = 0.0
            for channel in 0..<map.channels {
                let mean = gem.means[channel]
                guard mean > 0 else { continue }
                let y = Foundation.pow(mean, 1 / p)
                let g = Double(gradient[channel])
                let scale = Float(g * y / mean / Double(plane))
                for index in channel * plane..<(channel + 1) * plane {
                    let raw = map.storage[index]
                    guard raw >= Self.epsilon else { continue }
                    input.storage[index] = scale * gem.powers[index] / raw
                }
                pGradient += g * y * (-Foundation.log(mean) / (p * p) + gem.weightedLogarithms[channel] / (p * mean))
            }
            if let pPosition { parameters[pPosition].gradient[0] += Float(pGradient) }
        }
        return input
    }

    static func norm(_ vector: [Float]) -> Double {
        var sum = 0.0
        for value in vector { sum += Double(value) * Double(value) }
        return sum.squareRoot()
    }

    static func scaled(_ vector: [Float], _ factor: Double) -> [Float] {
        vector.map { Float(Double($0) * factor) }
    }

    /// Backward of y = x / (‖x‖ + ε): dx = g/(‖x‖ + ε) − x·(g·x)/((‖x‖ + ε)²·‖x‖).
    static func l2NormalizationBackward(_ gradient: [Float], input: [Float], norm: Double) -> [Float] {
        let denominator = norm + Double(epsilon)
        var dot = 0.0
        for index in input.indices { dot += Double(gradient[index]) * Double(input[index]) }
        let correction = norm > 0 ? dot / (denominator * denominator * norm) : 0
        return input.indices.map { Float(Double(gradient[$0]) / denominator - Double(input[$0]) * correction) }
    }
}
