import Foundation
import LandmarkCheckpoint
import LandmarkDescriptors
import LandmarkNetworks
import LandmarkTensor
@testable import LandmarkTraining
import Testing

/// The upstream gradient the fixture script uses: sin(0.37·i + 0.1).
private func upstream(count: Int) -> [Float] {
    (0..<count).map { Float(Foundation.sin(Double($0) * 0.37 + 0.1)) }
}

private struct TrunkLayerFixture: Decodable {
    struct Convolution: Decodable {
        let name: String
        let inputChannels: Int, outputChannels: Int, kernel: Int, stride: Int, groups: Int
        let padding: PaddingValue
        let height: Int, width: Int
        let input: [Float], weight: [Float], output: [Float]
        let outputShape: [Int]
        let inputGradient: [Float], weightGradient: [Float]
    }
    enum PaddingValue: Decodable {
        case same, symmetric(Int)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let amount = try? container.decode(Int.self) { self = .symmetric(amount) } else { self = .same }
        }
        var padding: Padding {
            switch self {
            case .same: .tensorFlowSame
            case .symmetric(let amount): .symmetric(amount)
            }
        }
    }
    struct BatchNorm: Decodable {
        let training: Bool
        let channels: Int, height: Int, width: Int
        let input: [Float], scale: [Float], shift: [Float], runningMean: [Float], runningVariance: [Float]
        let updatedMean: [Float], updatedVariance: [Float], output: [Float]
        let inputGradient: [Float], scaleGradient: [Float], shiftGradient: [Float]
    }
    let convolutions: [Convolution]
    let batchNorms: [BatchNorm]
}

@Test func convolutionGradientsMatchTorch() throws {
    let fixture = try TrainingFixture.load("trunk_layers", as: TrunkLayerFixture.self)
    #expect(fixture.convolutions.count == 6)
    for layer in fixture.convolutions {
        var parameters = ParameterSet()
        let position = parameters.append(Parameter(name: "w", shape: [layer.outputChannels, layer.inputChannels / layer.groups, layer.kernel, layer.kernel],
                                                    value: layer.weight))
        let convolution = TrainableConvolution(weightPosition: position, outputChannels: layer.outputChannels,
                                               inputChannels: layer.inputChannels, kernel: layer.kernel, stride: layer.stride,
                                               padding: layer.padding.padding, groups: layer.groups)
        let input = FeatureMap(channels: layer.inputChannels, height: layer.height, width: layer.width, storage: layer.input)
        let output = convolution.forward(input, parameters: parameters, workspace: TensorWorkspace())
        #expect([output.channels, output.height, output.width] == layer.outputShape, "\(layer.name)")
        #expect(relativeError(output.storage, layer.output) < 1e-5, "\(layer.name) forward")
        var gradient = output
        gradient.storage = upstream(count: output.storage.count)
        let inputGradient = convolution.backward(gradient, input: input, parameters: &parameters)
        #expect(relativeError(inputGradient.storage, layer.inputGradient) < 1e-4, "\(layer.name) input gradient")
        #expect(relativeError(parameters[position].gradient, layer.weightGradient) < 1e-4, "\(layer.name) weight gradient")
    }
}

@Test func batchNormAndReLU6GradientsMatchTorch() throws {
    let fixture = try TrainingFixture.load("trunk_layers", as: TrunkLayerFixture.self)
    for reference in fixture.batchNorms {
        var parameters = ParameterSet()
        let scale = parameters.append(Parameter(name: "bn.weight", shape: [reference.channels], value: reference.scale))
        let shift = parameters.append(Parameter(name: "bn.bias", shape: [reference.channels], value: reference.shift))
        let norm = TrainableBatchNorm(scalePosition: scale, shiftPosition: shift, channels: reference.channels, epsilon: 1e-3)
        var mean = reference.runningMean, variance = reference.runningVariance
        let input = FeatureMap(channels: reference.channels, height: reference.height, width: reference.width, storage: reference.input)
        let mode: BatchNormMode = reference.training ? .training(momentum: 0.01) : .frozen
        let (normalized, tape) = norm.forward(input, parameters: parameters, mode: mode, runningMean: &mean, runningVariance: &variance)
        var scaled = normalized
        for index in scaled.storage.indices { scaled.storage[index] *= 3 }
        let output = ClippedLinearUnit.forward(scaled)
        #expect(relativeError(output.storage, reference.output) < 1e-5)
        #expect(relativeError(mean, reference.updatedMean) < 1e-6 && relativeError(variance, reference.updatedVariance) < 1e-6)
        var gradient = ClippedLinearUnit.backward(FeatureMap(channels: output.channels, height: output.height, width: output.width,
                                                             storage: upstream(count: output.storage.count)), input: scaled)
        for index in gradient.storage.indices { gradient.storage[index] *= 3 }
        let inputGradient = norm.backward(gradient, tape: tape, parameters: &parameters)
        #expect(relativeError(inputGradient.storage, reference.inputGradient) < 1e-4, "training \(reference.training)")
        #expect(relativeError(parameters[scale].gradient, reference.scaleGradient) < 1e-4)
        #expect(relativeError(parameters[shift].gradient, reference.shiftGradient) < 1e-4)
    }
}

private struct LiteTopFixture: Decodable {
    struct Sample: Decodable {
        let indices: [Int]
        let values: [Float]
        let norm: Double
    }
    struct Case: Decodable {
        let outputPrefix: [Float]
        let outputShape: [Int]
        let inputGradient: [Float]
        let parameterGradients: [String: Sample]
        let updatedHeadMean: [Float]
    }
    let input: [Float]
    let inputShape: [Int]
    let cases: [String: Case]
}

private var liteWeightsPresent: Bool {
    (try? ModelCache.resolve("lite0")) != nil
}

/// The top of EfficientNet-Lite0 with its real weights (blocks 14, 15, head): forward, the gradient of the
/// frozen bottom's output, and every trainable parameter's gradient (64 sampled entries and the norm).
@Test(.enabled(if: liteWeightsPresent, "EfficientNet-Lite0 weights absent (scripts/setup.sh fetches them)"),
      arguments: ["frozen", "training"])
func liteTopMatchesTorch(_ mode: String) throws {
    let fixture = try TrainingFixture.load("trunk_lite0_top", as: LiteTopFixture.self)
    let reference = try #require(fixture.cases[mode])
    let checkpoint = try Checkpoint.load(contentsOf: try ModelCache.resolve("lite0").url)
    let lite = try #require(try NetworkLoader.backbone(from: checkpoint, architecture: "efficientnet-lite0") as? EfficientNetLite)
    var parameters = ParameterSet()
    var trunk = try TrainableBackbone(frozen: lite, checkpoint: checkpoint, trainableUnits: 3, parameters: &parameters)
    #expect(parameters.count == 2 * 9 + 3, "blocks 14 and 15 (3 convolutions + 3 BatchNorms each) and the head")
    let input = FeatureMap(channels: fixture.inputShape[0], height: fixture.inputShape[1], width: fixture.inputShape[2], storage: fixture.input)
    let (output, tape) = trunk.forward(input, parameters: parameters, mode: mode == "training" ? .training(momentum: 0.01) : .frozen,
                                       workspace: TensorWorkspace())
    #expect([output.channels, output.height, output.width] == reference.outputShape)
    #expect(relativeError(Array(output.storage.prefix(reference.outputPrefix.count)), reference.outputPrefix) < 1e-4)
    var gradient = output
    gradient.storage = upstream(count: output.storage.count)
    let inputGradient = trunk.backward(gradient, tape: tape, parameters: &parameters)
    #expect(relativeError(inputGradient.storage, reference.inputGradient) < 1e-4)
    // Some gradients are zero in exact arithmetic (a BatchNorm shift feeding, through 1 × 1 convolutions,
    // a training-mode BatchNorm that subtracts every constant again): both sides hold only rounding noise
    // there, so errors are measured against the largest gradient of the whole network.
    let largest = reference.parameterGradients.values.flatMap(\.values).map(abs).max() ?? 1
    let largestNorm = reference.parameterGradients.values.map(\.norm).max() ?? 1
    for (name, sample) in reference.parameterGradients {
        let parameter = try #require(parameters[name], "no trainable \(name)")
        let values = sample.indices.map { parameter.gradient[$0] }
        let norm = parameter.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(relativeError(values, sample.values, floor: largest * 1e-3) < 1e-3, "\(name)")
        #expect(abs(norm - sample.norm) <= 1e-3 * max(sample.norm, largestNorm * 1e-3), "\(name) norm \(norm) vs \(sample.norm)")
    }
    #expect(reference.parameterGradients.count == parameters.count)
    if mode == "training" {
        let mean = try #require(trunk.buffers["_bn1.running_mean"])
        #expect(relativeError(Array(mean.prefix(16)), reference.updatedHeadMean) < 1e-5)
    }
}

private struct LiteStepFixture: Decodable {
    struct Sample: Decodable {
        let indices: [Int]
        let values: [Float]
    }
    struct Step: Decodable {
        let loss: Double
        let updated: [String: Sample]
    }
    let inputs: [[Float]]
    let inputShape: [Int]
    let steps: [String: Step]
}

/// One whole training step of Lite0's top (blocks 14, 15, head) + GeM + whitening on a contrastive tuple,
/// with cirtorch's parameter groups, against torch: every trained tensor after one SGD or Adam step.
@Test(.enabled(if: liteWeightsPresent, "EfficientNet-Lite0 weights absent (scripts/setup.sh fetches them)"),
      arguments: ["sgd", "adam"])
func liteTrainingStepMatchesTorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("trunk_lite0_step", as: LiteStepFixture.self)
    let reference = try #require(fixture.steps[name])
    let checkpoint = try Checkpoint.load(contentsOf: try ModelCache.resolve("lite0").url)
    let lite = try #require(try NetworkLoader.backbone(from: checkpoint, architecture: "efficientnet-lite0") as? EfficientNetLite)
    var parameters = ParameterSet()
    var trunk = try TrainableBackbone(frozen: lite, checkpoint: checkpoint, trainableUnits: 3, parameters: &parameters)
    let inputs = fixture.inputs.map {
        FeatureMap(channels: fixture.inputShape[0], height: fixture.inputShape[1], width: fixture.inputShape[2], storage: $0)
    }
    try checkTrainingStep(&trunk, parameters: &parameters, inputs: inputs, optimizer: name, reference: reference)
}

private struct ResNetStepFixture: Decodable {
    let inputShape: [Int]
    let seed: String
    let steps: [String: LiteStepFixture.Step]
}

/// One whole training step of ResNet-50's layer4 (three bottlenecks, the first with its stride-2
/// projection) + GeM + whitening, on seeded weights both sides generate (SeededParameters), against torch.
@Test(arguments: ["sgd", "adam"])
func resNetTrainingStepMatchesTorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("trunk_resnet50_step", as: ResNetStepFixture.self)
    let reference = try #require(fixture.steps[name])
    let generator = SeededParameters(seed: try #require(UInt64(fixture.seed)))
    let checkpoint = generator.checkpoint(shapes: try #require(ResNet.stateDictionaryShapes(depth: 50)))
    let resNet = try #require(try NetworkLoader.backbone(from: checkpoint, architecture: "resnet50") as? ResNet)
    var parameters = ParameterSet()
    var trunk = try TrainableBackbone(frozen: resNet, checkpoint: checkpoint, trainableBottlenecks: 3, parameters: &parameters)
    #expect(parameters.count == 3 * 9 + 3, "three bottlenecks (3 convolutions + 3 BatchNorms each) and layer4.0's projection")
    let count = fixture.inputShape.reduce(1, *)
    let values = upstream(count: 3 * count).map { Float(0.8) * $0 }
    let inputs = (0..<3).map {
        FeatureMap(channels: fixture.inputShape[0], height: fixture.inputShape[1], width: fixture.inputShape[2],
                   storage: Array(values[$0 * count..<($0 + 1) * count]))
    }
    try checkTrainingStep(&trunk, parameters: &parameters, inputs: inputs, optimizer: name, reference: reference)
}

/// Forward of a query, positive and negative through `trunk` and a GeM + whitening head, cirtorch's
/// contrastive loss, backward, one optimiser step; then every sampled trained value against torch's.
private func checkTrainingStep(_ trunk: inout TrainableBackbone, parameters: inout ParameterSet, inputs: [FeatureMap],
                               optimizer name: String, reference: LiteStepFixture.Step) throws {
    let dimension = trunk.outputChannels
    let noise = upstream(count: dimension * dimension)
    var whitenWeight = [Float](repeating: 0, count: dimension * dimension)
    for index in whitenWeight.indices {
        whitenWeight[index] = (index / dimension == index % dimension ? 1 : 0) + Float(0.01) * noise[index]
    }
    let whitenBias = upstream(count: dimension).map { Float(0.01) * $0 }
    let head = TrainableRetrievalHead(pooling: .gem, gemP: 3, inputChannels: dimension,
                                      whitening: Linear(weights: whitenWeight, outputCount: dimension, inputCount: dimension, bias: whitenBias),
                                      parameters: &parameters)
    let workspace = TensorWorkspace()
    var descriptors: [[Float]] = [], tapes: [(TrainableBackbone.Tape, TrainableRetrievalHead.Tape)] = []
    for map in inputs {
        let (features, trunkTape) = trunk.forward(map, parameters: parameters, mode: .frozen, workspace: workspace)
        let (descriptor, headTape) = head.forward(features, parameters: parameters)
        descriptors.append(descriptor)
        tapes.append((trunkTape, headTape))
    }
    let (loss, gradients) = ContrastiveLoss(margin: 0.7)(descriptors, labels: [-1, 1, 0])
    #expect(abs(loss - reference.loss) <= 1e-4 * max(reference.loss, 1e-3), "loss \(loss) vs \(reference.loss)")
    for (gradient, tape) in zip(gradients, tapes) {
        let mapGradient = head.backward(gradient, tape: tape.1, parameters: &parameters)
        trunk.backward(mapGradient, tape: tape.0, parameters: &parameters)
    }
    let before = parameters
    let groups = ParameterGroup.cirtorch(parameters: parameters, learningRate: 1e-4, weightDecay: 1e-4)
    if name == "sgd" {
        var optimizer = StochasticGradientDescent(momentum: 0.9)
        optimizer.step(&parameters, groups: groups)
    } else {
        var optimizer = Adam()
        optimizer.step(&parameters, groups: groups)
    }
    #expect(reference.updated.count == parameters.count)
    for (tensor, sample) in reference.updated {
        let parameter = try #require(parameters[tensor], "no trainable \(tensor)")
        let values = sample.indices.map { parameter.value[$0] }
        #expect(relativeError(values, sample.values) < 1e-4, "\(tensor) after one \(name) step")
        if name == "sgd", let old = before[tensor] {
            // The step itself (−lr·(g + wd·w)), not only the weights it moved, agrees with torch's.
            let ours = sample.indices.map { parameter.value[$0] - old.value[$0] }
            let theirs = zip(sample.indices, sample.values).map { $1 - old.value[$0] }
            #expect(relativeError(ours, theirs, floor: 1e-9) < 2e-2, "\(tensor): SGD update")
        }
    }
}
