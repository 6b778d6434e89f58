import Foundation
import LandmarkTensor
@testable import LandmarkTraining
import Testing

/// Fixtures from `scripts/fixtures/training_make_fixtures.py` (torch 1.13 autograd, cirtorch's functions).
enum TrainingFixture {
    static func load<Value: Decodable>(_ name: String, as type: Value.Type) throws -> Value {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures/training"),
                               "missing fixture \(name).json")
        return try JSONDecoder().decode(Value.self, from: Data(contentsOf: url))
    }
}

/// max |a − b| / max(max |b|, floor): one relative error over a whole tensor, so that entries near zero
/// do not dominate.
func relativeError(_ a: [Float], _ b: [Float], floor: Float = 1e-6) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    let scale = max(b.map(abs).max() ?? 0, floor)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

private struct HeadFixture: Decodable {
    struct Case: Decodable {
        let pooling: String
        let whitening: Bool
        let p: Float
        let weight: [Float], bias: [Float], descriptor: [Float], upstream: [Float]
        let mapGradient: [Float], pGradient: [Float], weightGradient: [Float], biasGradient: [Float]
    }
    let channels: Int, height: Int, width: Int, outputDimension: Int
    let map: [Float]
    let cases: [String: Case]
}

@Test(arguments: ["gem-whiten", "gem", "mac-whiten", "mac", "spoc-whiten", "spoc"])
func headMatchesCirtorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("head", as: HeadFixture.self)
    let reference = try #require(fixture.cases[name])
    var parameters = ParameterSet()
    let whitening = reference.whitening
        ? Linear(weights: reference.weight, outputCount: fixture.outputDimension, inputCount: fixture.channels, bias: reference.bias)
        : nil
    let head = TrainableRetrievalHead(pooling: try #require(TrainableRetrievalHead.Pooling(rawValue: reference.pooling)),
                                      gemP: reference.p, inputChannels: fixture.channels, whitening: whitening,
                                      parameters: &parameters)
    let map = FeatureMap(channels: fixture.channels, height: fixture.height, width: fixture.width, storage: fixture.map)
    let (descriptor, tape) = head.forward(map, parameters: parameters)
    #expect(relativeError(descriptor, reference.descriptor) < 1e-5)
    let mapGradient = head.backward(reference.upstream, tape: tape, parameters: &parameters)
    #expect(relativeError(mapGradient.storage, reference.mapGradient) < 1e-4)
    if reference.pooling == "gem" {
        #expect(relativeError(try #require(parameters["pool.p"]).gradient, reference.pGradient) < 1e-4)
    }
    if reference.whitening {
        #expect(relativeError(try #require(parameters["whiten.weight"]).gradient, reference.weightGradient) < 1e-4)
        #expect(relativeError(try #require(parameters["whiten.bias"]).gradient, reference.biasGradient) < 1e-4)
    }
}

private struct TupleLossFixture: Decodable {
    struct Case: Decodable {
        let margin: Float
        let loss: Double
        let gradients: [[Float]]
    }
    let descriptors: [[Float]]
    let labels: [Int]
    let cases: [String: Case]
}

@Test(arguments: ["contrastive", "contrastive-wide", "triplet", "triplet-wide"])
func tupleLossesMatchCirtorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("tuple_losses", as: TupleLossFixture.self)
    let reference = try #require(fixture.cases[name])
    let (loss, gradients) = name.hasPrefix("contrastive")
        ? ContrastiveLoss(margin: reference.margin)(fixture.descriptors, labels: fixture.labels)
        : TripletLoss(margin: reference.margin)(fixture.descriptors, labels: fixture.labels)
    #expect(abs(loss - reference.loss) <= 1e-5 * max(abs(reference.loss), 1e-3), "loss \(loss) vs \(reference.loss)")
    #expect(reference.loss > 0, "the fixture must exercise the loss")
    #expect(relativeError(gradients.flatMap { $0 }, reference.gradients.flatMap { $0 }) < 1e-4)
}

private struct CosineFixture: Decodable {
    struct Case: Decodable {
        let kind: String
        let easyMargin: Bool
        let margin: Float, scale: Float
        let loss: Double
        let descriptorGradients: [[Float]]
        let weightGradient: [Float]
    }
    let classes: Int, dimension: Int
    let descriptors: [[Float]]
    let weight: [Float]
    let labels: [Int]
    let cases: [String: Case]
}

@Test(arguments: ["arcface", "arcface-easy", "arcface-wide", "cosface"])
func cosineMarginHeadsMatchTorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("cosine_heads", as: CosineFixture.self)
    let reference = try #require(fixture.cases[name])
    var parameters = ParameterSet()
    let head = CosineMarginHead(classes: fixture.classes, dimension: fixture.dimension,
                                margin: reference.kind == "cos" ? .cosFace : .arcFace(easyMargin: reference.easyMargin),
                                scale: reference.scale, marginValue: reference.margin, seed: 0, parameters: &parameters)
    parameters[head.weightPosition].value = fixture.weight
    let (loss, gradients) = head(fixture.descriptors, labels: fixture.labels, parameters: &parameters)
    #expect(abs(loss - reference.loss) <= 1e-5 * max(abs(reference.loss), 1e-3), "loss \(loss) vs \(reference.loss)")
    #expect(relativeError(gradients.flatMap { $0 }, reference.descriptorGradients.flatMap { $0 }) < 1e-4)
    #expect(relativeError(parameters[head.weightPosition].gradient, reference.weightGradient) < 1e-4)
}

private struct OptimiserFixture: Decodable {
    struct Case: Decodable {
        let learningRate: Float
        let weightDecay: Float
        let steps: [[[Float]]]
    }
    let shapes: [[Int]]
    let initial: [[Float]]
    let gradients: [[[Float]]]
    let cases: [String: Case]
}

@Test(arguments: ["sgd", "sgd-nesterov", "sgd-dampening", "adam", "adamw"])
func optimisersMatchTorch(_ name: String) throws {
    let fixture = try TrainingFixture.load("optimisers", as: OptimiserFixture.self)
    let reference = try #require(fixture.cases[name])
    var parameters = ParameterSet()
    for (index, (shape, values)) in zip(fixture.shapes, fixture.initial).enumerated() {
        parameters.append(Parameter(name: index == 2 ? "pool.p" : "layer.\(index)", shape: shape, value: values))
    }
    // cirtorch's grouping gives exactly the fixture's groups: the backbone at lr, pool.p at 10·lr, no decay.
    let groups = ParameterGroup.cirtorch(parameters: parameters, learningRate: reference.learningRate, weightDecay: reference.weightDecay)
    var optimizer: any Optimizer
    switch name {
    case "sgd": optimizer = StochasticGradientDescent(momentum: 0.9)
    case "sgd-nesterov": optimizer = StochasticGradientDescent(momentum: 0.9, nesterov: true)
    case "sgd-dampening": optimizer = StochasticGradientDescent(momentum: 0.5, dampening: 0.3)
    case "adam": optimizer = Adam()
    default: optimizer = Adam(decoupledWeightDecay: true)
    }
    for (step, gradients) in fixture.gradients.enumerated() {
        for position in 0..<parameters.count { parameters[position].gradient = gradients[position] }
        optimizer.step(&parameters, groups: groups)
        for position in 0..<parameters.count {
            let error = relativeError(parameters[position].value, reference.steps[step][position])
            #expect(error < 1e-5, "\(name) step \(step + 1) parameter \(position): relative error \(error)")
        }
    }
}
