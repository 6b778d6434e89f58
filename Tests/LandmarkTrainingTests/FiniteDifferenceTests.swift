import Foundation
import LandmarkLinearAlgebra
import LandmarkTensor
@testable import LandmarkTraining
import Testing

/// Central finite differences of a scalar function of Float values (the function sums in Double):
/// an independent check of every backward pass that needs no reference tool. With h = 1e-2 on O(1)
/// inputs the truncation and rounding errors stay well under the 1 % tolerance the checks use.
private func numericalGradient(_ values: [Float], h: Float = 1e-2, _ f: ([Float]) -> Double) -> [Double] {
    values.indices.map { index in
        var plus = values, minus = values
        plus[index] += h
        minus[index] -= h
        return (f(plus) - f(minus)) / Double(2 * h)
    }
}

private func expectClose(_ analytic: [Float], _ numeric: [Double], _ label: String) {
    let scale = max(numeric.map(abs).max() ?? 0, 1e-3)
    let error = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? 0
    #expect(error / scale < 1e-2, "\(label): finite-difference error \(error / scale)")
}

private func randomValues(_ count: Int, seed: UInt64, low: Double = -1, high: Double = 1) -> [Float] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Float(low + (high - low) * generator.nextUnit()) }
}

private func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

@Test func headGradientsAgreeWithFiniteDifferences() {
    let channels = 4, height = 3, width = 3, outputs = 3
    let map = FeatureMap(channels: channels, height: height, width: width, storage: randomValues(36, seed: 1, low: 0.2, high: 2))
    let weight = randomValues(outputs * channels, seed: 2), bias = randomValues(outputs, seed: 3)
    let upstream = randomValues(outputs, seed: 4)
    func build(_ p: Float, _ w: [Float], _ b: [Float]) -> (TrainableRetrievalHead, ParameterSet) {
        var parameters = ParameterSet()
        let head = TrainableRetrievalHead(pooling: .gem, gemP: p, inputChannels: channels,
                                          whitening: Linear(weights: w, outputCount: outputs, inputCount: channels, bias: b),
                                          parameters: &parameters)
        return (head, parameters)
    }
    var (head, parameters) = build(2.5, weight, bias)
    let (_, tape) = head.forward(map, parameters: parameters)
    let mapGradient = head.backward(upstream, tape: tape, parameters: &parameters)
    func loss(_ map: FeatureMap, _ p: Float, _ w: [Float], _ b: [Float]) -> Double {
        let (head, parameters) = build(p, w, b)
        return dot(head.forward(map, parameters: parameters).descriptor, upstream)
    }
    expectClose(mapGradient.storage, numericalGradient(map.storage) {
        loss(FeatureMap(channels: channels, height: height, width: width, storage: $0), 2.5, weight, bias)
    }, "map")
    expectClose(parameters["pool.p"]?.gradient ?? [], numericalGradient([2.5]) { loss(map, $0[0], weight, bias) }, "p")
    expectClose(parameters["whiten.weight"]?.gradient ?? [], numericalGradient(weight) { loss(map, 2.5, $0, bias) }, "W")
    expectClose(parameters["whiten.bias"]?.gradient ?? [], numericalGradient(bias) { loss(map, 2.5, weight, $0) }, "b")
}

@Test func lossGradientsAgreeWithFiniteDifferences() {
    let dimension = 4
    let descriptors = (0..<5).map { randomValues(dimension, seed: 10 + UInt64($0), low: -0.5, high: 0.5) }
    let labels = [-1, 1, 0, 0, 0]
    for (name, function) in [("contrastive", { ContrastiveLoss(margin: 1.2)($0, labels: labels) }),
                             ("triplet", { TripletLoss(margin: 0.5)($0, labels: labels) })]
        as [(String, ([[Float]]) -> (loss: Double, gradients: [[Float]]))] {
        let (loss, gradients) = function(descriptors)
        #expect(loss > 0, "\(name) must be active on this tuple")
        let numeric = numericalGradient(descriptors.flatMap { $0 }, h: 1e-3) { flat in
            function((0..<5).map { Array(flat[$0 * dimension..<($0 + 1) * dimension]) }).loss
        }
        expectClose(gradients.flatMap { $0 }, numeric, name)
    }
    let classes = 3
    let weights = randomValues(classes * dimension, seed: 30)
    let batch = (0..<4).map { randomValues(dimension, seed: 40 + UInt64($0)) }
    for margin in [CosineMarginHead.Margin.arcFace(easyMargin: false), .cosFace] {
        func run(_ x: [[Float]], _ w: [Float]) -> (Double, [[Float]], [Float]) {
            var parameters = ParameterSet()
            let head = CosineMarginHead(classes: classes, dimension: dimension, margin: margin, scale: 4, marginValue: 0.3, seed: 0,
                                        parameters: &parameters)
            parameters[head.weightPosition].value = w
            let (loss, gradients) = head(x, labels: [0, 1, 2, 1], parameters: &parameters)
            return (loss, gradients, parameters[head.weightPosition].gradient)
        }
        let (_, gradients, weightGradient) = run(batch, weights)
        expectClose(gradients.flatMap { $0 }, numericalGradient(batch.flatMap { $0 }, h: 1e-3) { flat in
            run((0..<4).map { Array(flat[$0 * dimension..<($0 + 1) * dimension]) }, weights).0
        }, "\(margin) descriptors")
        expectClose(weightGradient, numericalGradient(weights, h: 1e-3) { run(batch, $0).0 }, "\(margin) weights")
    }
}

@Test func trunkLayerGradientsAgreeWithFiniteDifferences() {
    let input = FeatureMap(channels: 3, height: 5, width: 6, storage: randomValues(90, seed: 50))
    for (kernel, stride, groups, outputs) in [(3, 2, 1, 4), (3, 1, 3, 3), (1, 1, 1, 2)] {
        var parameters = ParameterSet()
        let weightCount = outputs * (3 / groups) * kernel * kernel
        let weights = randomValues(weightCount, seed: 60)
        let position = parameters.append(Parameter(name: "w", shape: [outputs, 3 / groups, kernel, kernel], value: weights))
        let convolution = TrainableConvolution(weightPosition: position, outputChannels: outputs, inputChannels: 3, kernel: kernel,
                                               stride: stride, padding: .tensorFlowSame, groups: groups)
        let output = convolution.forward(input, parameters: parameters, workspace: TensorWorkspace())
        let upstream = randomValues(output.storage.count, seed: 70)
        let inputGradient = convolution.backward(FeatureMap(channels: output.channels, height: output.height, width: output.width,
                                                            storage: upstream), input: input, parameters: &parameters)
        func loss(_ x: [Float], _ w: [Float]) -> Double {
            var set = ParameterSet()
            _ = set.append(Parameter(name: "w", shape: [outputs, 3 / groups, kernel, kernel], value: w))
            return dot(convolution.forward(FeatureMap(channels: 3, height: 5, width: 6, storage: x), parameters: set,
                                           workspace: TensorWorkspace()).storage, upstream)
        }
        expectClose(inputGradient.storage, numericalGradient(input.storage) { loss($0, weights) }, "conv \(kernel)/\(stride)/\(groups) input")
        expectClose(parameters[position].gradient, numericalGradient(weights) { loss(input.storage, $0) }, "conv \(kernel)/\(stride)/\(groups) weight")
    }
    // BatchNorm with per-image statistics (ReLU6's kinks would break finite differences; its gradient is
    // checked against torch in TrunkReferenceTests).
    let scale = randomValues(3, seed: 80, low: 0.5, high: 1.5), shift = randomValues(3, seed: 81)
    let upstream = randomValues(90, seed: 82)
    func normalized(_ x: [Float], _ gamma: [Float], _ beta: [Float]) -> (FeatureMap, TrainableBatchNorm, ParameterSet, TrainableBatchNorm.Tape, FeatureMap) {
        var parameters = ParameterSet()
        let s = parameters.append(Parameter(name: "bn.weight", shape: [3], value: gamma))
        let b = parameters.append(Parameter(name: "bn.bias", shape: [3], value: beta))
        let norm = TrainableBatchNorm(scalePosition: s, shiftPosition: b, channels: 3, epsilon: 1e-3)
        var mean = [Float](repeating: 0, count: 3), variance = [Float](repeating: 1, count: 3)
        let (output, tape) = norm.forward(FeatureMap(channels: 3, height: 5, width: 6, storage: x), parameters: parameters,
                                          mode: .training(momentum: 0.1), runningMean: &mean, runningVariance: &variance)
        return (ClippedLinearUnit.forward(output), norm, parameters, tape, output)
    }
    var (_, norm, parameters, tape, _) = normalized(input.storage, scale, shift)
    let gradient = FeatureMap(channels: 3, height: 5, width: 6, storage: upstream)
    let inputGradient = norm.backward(gradient, tape: tape, parameters: &parameters)
    expectClose(inputGradient.storage, numericalGradient(input.storage, h: 1e-3) { dot(normalized($0, scale, shift).4.storage, upstream) },
                "batch norm input")
    expectClose(parameters[0].gradient, numericalGradient(scale, h: 1e-3) { dot(normalized(input.storage, $0, shift).4.storage, upstream) },
                "batch norm scale")
}
