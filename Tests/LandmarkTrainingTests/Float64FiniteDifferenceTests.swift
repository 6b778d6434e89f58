import Foundation
import LandmarkLinearAlgebra
import LandmarkTensor
@testable import LandmarkTraining
import Testing

// Central finite differences in float64 (issue "Training in Swift", acceptance): every layer and loss is
// written again below as a plain float64 function of its inputs, straight from its definition (torch's,
// cirtorch's, the ArcFace/CosFace papers'), and differentiated numerically with h = 1e-6. The analytic
// float32 gradients of the training code are evaluated at the same points (inputs exact in Float) and
// must agree to 1e-4 of the largest gradient — far below what a wrong term would give, and above float32
// rounding of the analytic side.

private func centralDifferences(_ values: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
    values.indices.map { index in
        var plus = values, minus = values
        plus[index] += h
        minus[index] -= h
        return (f(plus) - f(minus)) / (2 * h)
    }
}

private func expectAgreement(_ analytic: [Float], _ numeric: [Double], _ label: String) {
    #expect(analytic.count == numeric.count, "\(label): \(analytic.count) vs \(numeric.count) values")
    let scale = max(numeric.map(abs).max() ?? 0, 1e-6)
    let error = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? 0
    #expect(error / scale < 1e-4, "\(label): relative error \(error / scale) against float64 central differences")
}

/// Values exact in Float, so that both sides look at the same point.
private func exactValues(_ count: Int, seed: UInt64, low: Double = -1, high: Double = 1) -> [Double] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in Double(Float(low + (high - low) * generator.nextUnit())) }
}

private func dot64(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

// MARK: float64 references

/// torch's conv2d (no bias) with explicit top/left padding (bottom/right implied by the output size).
private func convolution64(_ x: [Double], channels: Int, height: Int, width: Int, weight: [Double], outputs: Int, kernel: Int,
                           stride: Int, groups: Int, padTop: Int, padLeft: Int, outputHeight: Int, outputWidth: Int) -> [Double] {
    let groupInputs = channels / groups, groupOutputs = outputs / groups
    var y = [Double](repeating: 0, count: outputs * outputHeight * outputWidth)
    for o in 0..<outputs {
        let group = o / groupOutputs
        for oy in 0..<outputHeight {
            for ox in 0..<outputWidth {
                var sum = 0.0
                for ci in 0..<groupInputs {
                    let c = group * groupInputs + ci
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            let iy = oy * stride + ky - padTop, ix = ox * stride + kx - padLeft
                            guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                            sum += weight[((o * groupInputs + ci) * kernel + ky) * kernel + kx] * x[(c * height + iy) * width + ix]
                        }
                    }
                }
                y[(o * outputHeight + oy) * outputWidth + ox] = sum
            }
        }
    }
    return y
}

/// BatchNorm over one image: running statistics (frozen) or the image's own, biased variance (training).
private func batchNorm64(_ x: [Double], channels: Int, plane: Int, gamma: [Double], beta: [Double], mean: [Double]?,
                         variance: [Double]?, epsilon: Double) -> [Double] {
    var y = x
    for c in 0..<channels {
        let values = x[c * plane..<(c + 1) * plane]
        let mu = mean?[c] ?? values.reduce(0, +) / Double(plane)
        let sigma2 = variance?[c] ?? values.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(plane)
        for i in 0..<plane { y[c * plane + i] = (x[c * plane + i] - mu) / (sigma2 + epsilon).squareRoot() * gamma[c] + beta[c] }
    }
    return y
}

/// cirtorch's GeM, L2N, the whitening layer (linear with bias), L2N (eps 1e-6 in both L2Ns, clamp 1e-6 in GeM).
private func head64(_ map: [Double], channels: Int, plane: Int, p: Double, weight: [Double], bias: [Double], outputs: Int) -> [Double] {
    func l2n(_ v: [Double]) -> [Double] {
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot() + 1e-6
        return v.map { $0 / norm }
    }
    let pooled = (0..<channels).map { c in
        pow(map[c * plane..<(c + 1) * plane].reduce(0) { $0 + pow(max($1, 1e-6), p) } / Double(plane), 1 / p)
    }
    let x = l2n(pooled)
    return l2n((0..<outputs).map { o in bias[o] + (0..<channels).reduce(0) { $0 + weight[o * channels + $1] * x[$1] } })
}

/// cirtorch's contrastive loss: query first (label −1), then positives (1) and negatives (0); D = ‖q − x + ε‖.
private func contrastive64(_ descriptors: [[Double]], labels: [Int], margin: Double) -> Double {
    let q = descriptors[0]
    return zip(descriptors, labels).dropFirst().reduce(0) { total, item in
        let distance = zip(q, item.0).reduce(0) { $0 + pow($1.0 - $1.1 + 1e-6, 2) }.squareRoot()
        return total + (item.1 == 1 ? 0.5 * distance * distance : 0.5 * pow(max(margin - distance, 0), 2))
    }
}

/// cirtorch's triplet loss: Σ_n max(‖a − p‖² − ‖a − n‖² + margin, 0).
private func triplet64(_ descriptors: [[Double]], labels: [Int], margin: Double) -> Double {
    let anchor = descriptors[0]
    guard let positive = zip(descriptors, labels).first(where: { $0.1 == 1 })?.0 else { return 0 }
    let positiveDistance = zip(anchor, positive).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
    return zip(descriptors, labels).filter { $0.1 == 0 }.reduce(0) { total, item in
        total + max(positiveDistance - zip(anchor, item.0).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } + margin, 0)
    }
}

/// Mean cross-entropy of s·cos with the target's logit s·(cos(θ + m)) (ArcFace, with its fallback past π − m) or
/// s·(cos θ − m) (CosFace); inputs and class weights L2-normalised.
private func cosineMargin64(_ x: [[Double]], labels: [Int], weights: [Double], classes: Int, arcFace: Bool, s: Double, m: Double) -> Double {
    let dimension = x[0].count
    func normalised(_ v: [Double]) -> [Double] {
        let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return v.map { $0 / norm }
    }
    let w = (0..<classes).map { normalised(Array(weights[$0 * dimension..<($0 + 1) * dimension])) }
    var total = 0.0
    for (descriptor, label) in zip(x, labels) {
        let u = normalised(descriptor)
        var logits = w.map { s * dot64($0, u) }
        let cosine = dot64(w[label], u)
        if arcFace {
            let phi = cosine > cos(Double.pi - m) ? cos(acos(min(max(cosine, -1), 1)) + m) : cosine - sin(Double.pi - m) * m
            logits[label] = s * phi
        } else {
            logits[label] = s * (cosine - m)
        }
        let largest = logits.max() ?? 0
        total += -(logits[label] - largest) + log(logits.reduce(0) { $0 + exp($1 - largest) })
    }
    return total / Double(x.count)
}

// MARK: checks

@Test(arguments: [(3, 2, 1, 4, "symmetric"), (3, 1, 3, 3, "same"), (3, 2, 4, 4, "same"), (1, 1, 1, 2, "symmetric"), (3, 1, 2, 4, "symmetric")])
func convolutionAgreesWithFloat64Differences(_ kernel: Int, _ stride: Int, _ groups: Int, _ outputs: Int, _ paddingName: String) throws {
    let channels = groups == 3 ? 3 : 4, height = 5, width = 6
    let x = exactValues(channels * height * width, seed: 5)
    let weight = exactValues(outputs * (channels / groups) * kernel * kernel, seed: 6)
    var parameters = ParameterSet()
    let position = parameters.append(Parameter(name: "w", shape: [outputs, channels / groups, kernel, kernel], value: weight.map { Float($0) }))
    let padding: Padding = paddingName == "same" ? .tensorFlowSame : .symmetric(kernel / 2)
    let convolution = TrainableConvolution(weightPosition: position, outputChannels: outputs, inputChannels: channels, kernel: kernel,
                                           stride: stride, padding: padding, groups: groups)
    let input = FeatureMap(channels: channels, height: height, width: width, storage: x.map { Float($0) })
    let output = convolution.forward(input, parameters: parameters, workspace: TensorWorkspace())
    let pad = padding.resolve(inputHeight: height, inputWidth: width, kernelHeight: kernel, kernelWidth: kernel, stride: stride, dilation: 1)
    func reference(_ x: [Double], _ w: [Double]) -> [Double] {
        convolution64(x, channels: channels, height: height, width: width, weight: w, outputs: outputs, kernel: kernel, stride: stride,
                      groups: groups, padTop: pad.top, padLeft: pad.left, outputHeight: output.height, outputWidth: output.width)
    }
    let forward = reference(x, weight)
    #expect(zip(output.storage, forward).allSatisfy { abs(Double($0.0) - $0.1) < 1e-5 }, "forward")
    let upstream = exactValues(output.storage.count, seed: 7)
    let inputGradient = convolution.backward(FeatureMap(channels: output.channels, height: output.height, width: output.width,
                                                        storage: upstream.map { Float($0) }), input: input, parameters: &parameters)
    let label = "conv k\(kernel) s\(stride) g\(groups) \(paddingName)"
    expectAgreement(inputGradient.storage, centralDifferences(x) { dot64(reference($0, weight), upstream) }, "\(label) input")
    expectAgreement(parameters[position].gradient, centralDifferences(weight) { dot64(reference(x, $0), upstream) }, "\(label) weight")
}

@Test(arguments: [false, true])
func batchNormAndActivationsAgreeWithFloat64Differences(_ training: Bool) {
    let channels = 3, plane = 12
    let x = exactValues(channels * plane, seed: 20, low: -1.5, high: 2)
    let gamma = exactValues(channels, seed: 21, low: 0.5, high: 1.5), beta = exactValues(channels, seed: 22, low: -0.3, high: 0.3)
    let runningMean = exactValues(channels, seed: 23, low: -0.2, high: 0.2), runningVariance = exactValues(channels, seed: 24, low: 0.5, high: 1.5)
    let upstream = exactValues(channels * plane, seed: 25)
    for activation in ["none", "relu", "relu6"] {
        var parameters = ParameterSet()
        let s = parameters.append(Parameter(name: "bn.weight", shape: [channels], value: gamma.map { Float($0) }))
        let b = parameters.append(Parameter(name: "bn.bias", shape: [channels], value: beta.map { Float($0) }))
        let norm = TrainableBatchNorm(scalePosition: s, shiftPosition: b, channels: channels, epsilon: 1e-3)
        var mean = runningMean.map { Float($0) }, variance = runningVariance.map { Float($0) }
        let (normalized, tape) = norm.forward(FeatureMap(channels: channels, height: 3, width: 4, storage: x.map { Float($0) }),
                                              parameters: parameters, mode: training ? .training(momentum: 0.1) : .frozen,
                                              runningMean: &mean, runningVariance: &variance)
        // Scaled so that ReLU6's upper clip is reached too.
        func activate64(_ v: [Double]) -> [Double] {
            switch activation {
            case "relu": v.map { max($0, 0) }
            case "relu6": v.map { min(max($0 * 4, 0), 6) }
            default: v
            }
        }
        var gradient = FeatureMap(channels: channels, height: 3, width: 4, storage: upstream.map { Float($0) })
        switch activation {
        case "relu": gradient = RectifiedLinearUnit.backward(gradient, input: normalized)
        case "relu6":
            var scaled = normalized
            scaled.storage = normalized.storage.map { $0 * 4 }
            gradient = ClippedLinearUnit.backward(gradient, input: scaled)
            gradient.storage = gradient.storage.map { $0 * 4 }
        default: break
        }
        let inputGradient = norm.backward(gradient, tape: tape, parameters: &parameters)
        func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
            dot64(activate64(batchNorm64(x, channels: channels, plane: plane, gamma: g, beta: b, mean: training ? nil : runningMean,
                                         variance: training ? nil : runningVariance, epsilon: 1e-3)), upstream)
        }
        let label = "batch norm (\(training ? "training" : "frozen")) + \(activation)"
        expectAgreement(inputGradient.storage, centralDifferences(x) { loss($0, gamma, beta) }, "\(label) input")
        expectAgreement(parameters[s].gradient, centralDifferences(gamma) { loss(x, $0, beta) }, "\(label) scale")
        expectAgreement(parameters[b].gradient, centralDifferences(beta) { loss(x, gamma, $0) }, "\(label) shift")
    }
}

@Test func headAgreesWithFloat64Differences() {
    let channels = 4, plane = 9, outputs = 3
    let map = exactValues(channels * plane, seed: 30, low: 0.2, high: 2)
    let weight = exactValues(outputs * channels, seed: 31), bias = exactValues(outputs, seed: 32, low: -0.2, high: 0.2)
    let upstream = exactValues(outputs, seed: 33)
    var parameters = ParameterSet()
    let head = TrainableRetrievalHead(pooling: .gem, gemP: 2.5, inputChannels: channels,
                                      whitening: Linear(weights: weight.map { Float($0) }, outputCount: outputs, inputCount: channels,
                                                        bias: bias.map { Float($0) }),
                                      parameters: &parameters)
    let (descriptor, tape) = head.forward(FeatureMap(channels: channels, height: 3, width: 3, storage: map.map { Float($0) }), parameters: parameters)
    let reference = head64(map, channels: channels, plane: plane, p: 2.5, weight: weight, bias: bias, outputs: outputs)
    #expect(zip(descriptor, reference).allSatisfy { abs(Double($0.0) - $0.1) < 1e-5 }, "forward")
    let mapGradient = head.backward(upstream.map { Float($0) }, tape: tape, parameters: &parameters)
    func loss(_ m: [Double], _ p: Double, _ w: [Double], _ b: [Double]) -> Double {
        dot64(head64(m, channels: channels, plane: plane, p: p, weight: w, bias: b, outputs: outputs), upstream)
    }
    expectAgreement(mapGradient.storage, centralDifferences(map) { loss($0, 2.5, weight, bias) }, "head map")
    expectAgreement(parameters["pool.p"]?.gradient ?? [], centralDifferences([2.5]) { loss(map, $0[0], weight, bias) }, "GeM p")
    expectAgreement(parameters["whiten.weight"]?.gradient ?? [], centralDifferences(weight) { loss(map, 2.5, $0, bias) }, "whitening weight")
    expectAgreement(parameters["whiten.bias"]?.gradient ?? [], centralDifferences(bias) { loss(map, 2.5, weight, $0) }, "whitening bias")
}

@Test func lossesAgreeWithFloat64Differences() {
    let dimension = 4, labels = [-1, 1, 0, 0, 0]
    let descriptors = (0..<5).map { exactValues(dimension, seed: 40 + UInt64($0), low: -0.5, high: 0.5) }
    let flat = descriptors.flatMap { $0 }
    func split(_ values: [Double]) -> [[Double]] { (0..<5).map { Array(values[$0 * dimension..<($0 + 1) * dimension]) } }
    let floats = descriptors.map { $0.map { Float($0) } }
    let (contrastiveLoss, contrastive) = ContrastiveLoss(margin: 1.2)(floats, labels: labels)
    #expect(abs(contrastiveLoss - contrastive64(descriptors, labels: labels, margin: 1.2)) < 1e-5)
    expectAgreement(contrastive.flatMap { $0 }, centralDifferences(flat) { contrastive64(split($0), labels: labels, margin: 1.2) }, "contrastive")
    let (tripletLoss, triplet) = TripletLoss(margin: 0.5)(floats, labels: labels)
    #expect(tripletLoss > 0 && abs(tripletLoss - triplet64(descriptors, labels: labels, margin: 0.5)) < 1e-5)
    expectAgreement(triplet.flatMap { $0 }, centralDifferences(flat) { triplet64(split($0), labels: labels, margin: 0.5) }, "triplet")

    let classes = 3, batchLabels = [0, 1, 2, 1]
    let batch = (0..<4).map { exactValues(dimension, seed: 50 + UInt64($0)) }
    let weights = exactValues(classes * dimension, seed: 60)
    for arcFace in [true, false] {
        var parameters = ParameterSet()
        let head = CosineMarginHead(classes: classes, dimension: dimension, margin: arcFace ? .arcFace(easyMargin: false) : .cosFace,
                                    scale: 4, marginValue: 0.3, seed: 0, parameters: &parameters)
        parameters[head.weightPosition].value = weights.map { Float($0) }
        let (loss, gradients) = head(batch.map { $0.map { Float($0) } }, labels: batchLabels, parameters: &parameters)
        func reference(_ x: [[Double]], _ w: [Double]) -> Double {
            cosineMargin64(x, labels: batchLabels, weights: w, classes: classes, arcFace: arcFace, s: 4, m: 0.3)
        }
        let name = arcFace ? "ArcFace" : "CosFace"
        #expect(abs(loss - reference(batch, weights)) < 1e-5, "\(name) loss")
        expectAgreement(gradients.flatMap { $0 }, centralDifferences(batch.flatMap { $0 }) { values in
            reference((0..<4).map { Array(values[$0 * dimension..<($0 + 1) * dimension]) }, weights)
        }, "\(name) descriptors")
        expectAgreement(parameters[head.weightPosition].gradient, centralDifferences(weights) { reference(batch, $0) }, "\(name) weights")
    }
}
