import Foundation
import LandmarkDemo
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkNetworks
import LandmarkTensor
@testable import LandmarkTraining
import Testing

/// A tiny fixed trunk: 4×4 average pooling, then a seeded 3 → 12 mixing with ReLU. Untrained and
/// frozen, it leaves all the learning to the head, which is what these tests exercise.
private struct TinyTrunk: ConvolutionalBackbone {
    let architecture = "tiny"
    let outputChannels = 12
    let mixing: [Float]

    init() {
        var generator = SplitMix64(seed: 7)
        mixing = (0..<36).map { _ in Float(generator.nextUnit() * 2 - 1) }
    }

    func features(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        let height = max(1, input.height / 4), width = max(1, input.width / 4)
        var output = FeatureMap(channels: outputChannels, height: height, width: width)
        for y in 0..<height {
            for x in 0..<width {
                var colour: [Float] = [0, 0, 0]
                for channel in 0..<3 {
                    for dy in 0..<4 { for dx in 0..<4 { colour[channel] += input[channel, min(y * 4 + dy, input.height - 1), min(x * 4 + dx, input.width - 1)] } }
                    colour[channel] /= 16
                }
                for out in 0..<outputChannels {
                    let value = (0..<3).reduce(Float(0)) { $0 + mixing[out * 3 + $1] * colour[$1] }
                    output.storage[(out * height + y) * width + x] = max(0, value)
                }
            }
        }
        return output
    }
}

private func syntheticFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fine-tuning-\(UUID().uuidString)")
    let dataset = SyntheticLandmarkDataset(configuration: .init(landmarkCount: 4, viewsPerLandmark: 4, distractorCount: 3,
                                                                width: 96, height: 72, seed: 11))
    try dataset.write(to: folder)
    return folder
}

private func tinyNetwork(_ configuration: FineTuningConfiguration) -> FineTunedNetwork {
    let head = RetrievalHead(pooling: "gem", gemP: nil, whitening: nil, mean: RetrievalHead.imageNetMean, std: RetrievalHead.imageNetStd)
    return FineTunedNetwork.build(trunk: TinyTrunk(), retrievalHead: head, baseState: StateDictionary(), configuration: configuration)
}

private func tinyConfiguration(loss: FineTuningConfiguration.Loss = .contrastive) -> FineTuningConfiguration {
    var configuration = FineTuningConfiguration()
    configuration.model = "tiny"
    configuration.loss = loss
    configuration.epochs = 4
    configuration.imageSize = 64
    configuration.validationSize = 64
    configuration.learningRate = 0.01
    configuration.mining = TupleMining(queriesPerEpoch: 40, poolSize: 100, negativesPerTuple: 3)
    configuration.batches = ClassBalancedBatches(imagesPerBatch: 8, imagesPerClass: 2)
    configuration.seed = 5
    return configuration
}

@Test func contrastiveTrainingLowersTheLossAndWritesTheRun() throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let configuration = tinyConfiguration()
    let set = try TrainingSet.load(folder)
    let run = FineTuningRun(configuration: configuration, trainingSet: set, validation: try FolderBenchmark.load(folder),
                            directory: folder.appendingPathComponent("run"))
    let history = try run.run(network: tinyNetwork(configuration))
    #expect(history.map(\.epoch) == [0, 1, 2, 3, 4])
    let losses = history.compactMap(\.loss)
    #expect(losses.count == 4)
    #expect(try #require(losses.last) < losses[0], "loss \(losses)")
    #expect(history.allSatisfy { $0.validationMeanAveragePrecision != nil })
    for file in ["progress.json", "final.pth", "final.safetensors", "curves.png", "checkpoint-epoch-004.safetensors"] {
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run/\(file)").path), "\(file)")
    }
    #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("run/checkpoint-epoch-002.safetensors").path))
}

@Test(arguments: [FineTuningConfiguration.Loss.triplet, .arcface, .cosface])
func otherLossesTrain(_ loss: FineTuningConfiguration.Loss) throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    var configuration = tinyConfiguration(loss: loss)
    configuration.epochs = 3
    let run = FineTuningRun(configuration: configuration, trainingSet: try TrainingSet.load(folder), validation: nil,
                            directory: folder.appendingPathComponent("run"))
    let losses = try run.run(network: tinyNetwork(configuration)).compactMap(\.loss)
    #expect(losses.count == 3 && losses.allSatisfy(\.isFinite))
    #expect(try #require(losses.last) < losses[0], "\(loss) loss \(losses)")
}

/// A run stopped after two epochs and resumed ends with the same weights as one that never stopped.
@Test func resumedRunIsIdentical() throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let set = try TrainingSet.load(folder)
    var configuration = tinyConfiguration()
    let straight = FineTuningRun(configuration: configuration, trainingSet: set, validation: nil,
                                 directory: folder.appendingPathComponent("straight"))
    _ = try straight.run(network: tinyNetwork(configuration))

    // A run killed after epoch 2 is in the same state as a finished 2-epoch run: its progress file
    // names the epoch-2 checkpoint. Running again with 4 epochs continues from there.
    let resumedDirectory = folder.appendingPathComponent("resumed")
    configuration.epochs = 2
    _ = try FineTuningRun(configuration: configuration, trainingSet: set, validation: nil, directory: resumedDirectory)
        .run(network: tinyNetwork(configuration))
    configuration.epochs = 4
    let history = try FineTuningRun(configuration: configuration, trainingSet: set, validation: nil, directory: resumedDirectory)
        .run(network: tinyNetwork(configuration))
    #expect(history.map(\.epoch) == [0, 1, 2, 3, 4])

    let a = try Data(contentsOf: folder.appendingPathComponent("straight/final.safetensors"))
    let b = try Data(contentsOf: resumedDirectory.appendingPathComponent("final.safetensors"))
    #expect(a == b, "resumed weights differ from an uninterrupted run")
}

@Test func refusesAForeignDirectory() throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let configuration = tinyConfiguration()
    // The dataset folder itself is not empty and is not a run: it must be left alone.
    let run = FineTuningRun(configuration: configuration, trainingSet: try TrainingSet.load(folder), validation: nil, directory: folder)
    #expect(throws: TrainingDataError.self) { try run.run(network: tinyNetwork(configuration)) }
    #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("ground_truth.tsv").path))
}

@Test func curvesPictureHasTheCurves() {
    let history = [EpochRecord(epoch: 0, loss: nil, learningRate: nil, validationMeanAveragePrecision: 0.5, trainingMeanAveragePrecision: 0.6, seconds: 1),
                   EpochRecord(epoch: 1, loss: 1.0, learningRate: 0.1, validationMeanAveragePrecision: 0.7, trainingMeanAveragePrecision: 0.8, seconds: 1),
                   EpochRecord(epoch: 2, loss: 0.5, learningRate: 0.1, validationMeanAveragePrecision: 0.75, trainingMeanAveragePrecision: 0.9, seconds: 1)]
    let image = TrainingCurves.render(history)
    var blue = 0, red = 0
    for index in stride(from: 0, to: image.pixels.count, by: 3) {
        if image.pixels[index] == 31 && image.pixels[index + 2] == 180 { blue += 1 }
        if image.pixels[index] == 214 && image.pixels[index + 1] == 39 { red += 1 }
    }
    #expect(blue > 100 && red > 100)
}

/// With the warm-up + cosine schedule the epochs train at base·1/2, base·2/2, then anneal towards 0 at
/// `epochs` (torch's CosineAnnealingLR over the last 2: cos 0, cos π/2).
@Test func cosineScheduleDrivesTheEpochs() throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    var configuration = tinyConfiguration(loss: .arcface)
    configuration.epochs = 4
    configuration.warmupCosineEpochs = 2
    let run = FineTuningRun(configuration: configuration, trainingSet: try TrainingSet.load(folder), validation: nil,
                            directory: folder.appendingPathComponent("run"))
    let rates = try run.run(network: tinyNetwork(configuration)).compactMap(\.learningRate)
    let base = Double(configuration.learningRate.intendedDouble)
    let expected = [base / 2, base, base, base / 2]
    #expect(rates.count == 4)
    for (rate, value) in zip(rates, expected) { #expect(abs(Double(rate) - value) <= 1e-7, "\(rates)") }
}

/// With augmentation every epoch trains on changed images, deterministically: the same run twice gives
/// the same losses, and they differ from the plain run's.
@Test func augmentedTrainingIsDeterministic() throws {
    let folder = try syntheticFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    var configuration = tinyConfiguration()
    configuration.epochs = 2
    configuration.augmentation = ImageAugmentation()
    func losses(_ configuration: FineTuningConfiguration, _ name: String) throws -> [Double] {
        let run = FineTuningRun(configuration: configuration, trainingSet: try TrainingSet.load(folder), validation: nil,
                                directory: folder.appendingPathComponent(name))
        return try run.run(network: tinyNetwork(configuration)).compactMap(\.loss)
    }
    let first = try losses(configuration, "a"), second = try losses(configuration, "b")
    #expect(first.count == 2 && first.allSatisfy(\.isFinite))
    #expect(first == second)
    var plain = configuration
    plain.augmentation = nil
    #expect(try losses(plain, "c") != first)
}
