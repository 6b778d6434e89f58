import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkNetworks
import LandmarkTensor
import LandmarkTraining

/// Training speed on real photographs, measured as PyTorch's side is
/// (scripts/reference/pytorch_training_bench.py): per image, the whole network forward (frozen bottom
/// included), the backward pass through the trainable top, the head and an Adam step — and, apart, the
/// same with the frozen bottom's output cached, which is how `landmark train` runs.
public struct TrainingBenchmarkResult: Sendable, Codable {
    public var label: String
    public var trainableUnits: Int
    public var trainableValues: Int
    public var images: Int
    /// Forward (whole network) + backward + Adam step, images in pairs on both cores.
    public var secondsPerImage: Double
    /// The same with the frozen bottom cached (trainable top, head, backward, step).
    public var cachedSecondsPerImage: Double
    public var peakResidentMegabytes: Double

    public var description: String {
        String(format: "%@ (%d trainable units, %.1f M values): %.3f s/image forward+backward+step (%.2f images/s); with the frozen bottom cached %.3f s/image; peak RSS %.0f MB",
               label, trainableUnits, Double(trainableValues) / 1e6, secondsPerImage, secondsPerImage > 0 ? 1 / secondsPerImage : 0,
               cachedSecondsPerImage, peakResidentMegabytes)
    }
}

public enum TrainingBenchmark {
    /// The depth of a `resnet50` / `resnet101` model name, which the benchmark builds with seeded weights.
    public static func seededResNetDepth(_ model: String) -> Int? {
        ["resnet50": 50, "resnet101": 101][model.lowercased()]
    }

    /// Times fine-tuning steps of `model` with its top `trainableUnits` units (0: head only) at `size` px.
    /// `resnet50` and `resnet101` use seeded weights (as fast as trained ones, nothing to download); their
    /// units are bottlenecks.
    public static func run(label: String, model: String, size: Int, trainableUnits: Int, files: [URL]) throws -> TrainingBenchmarkResult {
        var configuration = FineTuningConfiguration()
        configuration.model = model
        configuration.trainableBlocks = trainableUnits
        var network: FineTunedNetwork
        if let depth = seededResNetDepth(model), let shapes = ResNet.stateDictionaryShapes(depth: depth) {
            let checkpoint = SeededParameters().checkpoint(shapes: shapes, file: "seeded-\(model)")
            network = try FineTunedNetwork.load(configuration, checkpoint: checkpoint, architecture: model,
                                                file: URL(fileURLWithPath: "seeded-\(model)"))
        } else {
            network = try FineTunedNetwork.load(configuration)
        }
        let inputs = try files.map { url in
            let image = try ImageDecoder.decode(contentsOf: url).resized(longerSide: size)
            return CNNGlobalDescriptor.normalizedInput(image, mean: network.mean, standardDeviation: network.standardDeviation)
        }
        let groups = ParameterGroup.cirtorch(parameters: network.parameters, learningRate: 1e-6, weightDecay: 1e-6)
        var optimizer = Adam()
        let gradient = (0..<network.head.outputDimension).map { Float(sin(Double($0))) }

        func step(_ frozen: [FeatureMap]) {
            network.parameters.zeroGradients()
            let outputs = network.forward(frozen)
            network.backward([[Float]](repeating: gradient, count: outputs.count), tapes: outputs.map(\.tape))
            optimizer.step(&network.parameters, groups: groups)
        }
        func frozenBottom(_ batch: [FeatureMap]) -> [FeatureMap] {
            let trunk = network
            return ParallelImageWork.map(batch.count) { index, workspace in trunk.frozenFeatures(batch[index], workspace: workspace) }
        }
        let pairs = stride(from: 0, to: inputs.count, by: 2).map { Array(inputs[$0..<min($0 + 2, inputs.count)]) }
        if let first = pairs.first { step(frozenBottom(first)) }  // warm-up
        let start = DispatchTime.now().uptimeNanoseconds
        var cached: [[FeatureMap]] = []
        for pair in pairs {
            let frozen = frozenBottom(pair)
            cached.append(frozen)
            step(frozen)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cachedStart = DispatchTime.now().uptimeNanoseconds
        for frozen in cached { step(frozen) }
        let cachedSeconds = Double(DispatchTime.now().uptimeNanoseconds - cachedStart) / 1e9
        let count = Double(max(inputs.count, 1))
        return TrainingBenchmarkResult(label: label, trainableUnits: trainableUnits, trainableValues: network.parameters.scalarCount,
                                       images: inputs.count, secondsPerImage: seconds / count, cachedSecondsPerImage: cachedSeconds / count,
                                       peakResidentMegabytes: CNNExtractionBenchmark.peakResidentMegabytes())
    }
}
