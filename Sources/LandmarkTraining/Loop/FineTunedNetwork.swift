import Foundation
import LandmarkCheckpoint
import LandmarkDescriptors
import LandmarkImage
import LandmarkNetworks
import LandmarkTensor

/// The network being fine-tuned: a frozen trunk whose output is cached per image, optionally the top
/// trunk units in training form, and the retrieval head (GeM pooling, L2, whitening, L2), all reading
/// one ``ParameterSet``.
///
/// Splitting at the frozen point is what makes CPU training practical: the frozen part runs once per
/// image through the fast inference engine, and only the trainable top keeps activations for backward.
public struct FineTunedNetwork: Sendable {
    /// The inference trunk the frozen features come from (the whole trunk when only the head trains).
    public let frozenTrunk: any ConvolutionalBackbone
    /// The trainable top of the trunk (`configuration.trainableBlocks` > 0), above the frozen bottom.
    public private(set) var trainableTrunk: TrainableBackbone?
    public let batchNormMode: BatchNormMode
    public let head: TrainableRetrievalHead
    public let mean: [Float]
    public let standardDeviation: [Float]
    /// The architecture name the exported checkpoint's meta records (`efficientnet-lite2`, `resnet50`).
    public let architecture: String
    /// The loaded checkpoint's tensors, exported unchanged beside the trained ones.
    public let baseState: StateDictionary
    public var parameters: ParameterSet

    /// Loads `model` (a named model or a checkpoint path) and builds the trainable head on top of it:
    /// the checkpoint's own pooling p and whitening when it has them (continuing a previous run), else
    /// GeM with `configuration.gemP` and an identity whitening, so that epoch 0 is the plain descriptor.
    public static func load(_ configuration: FineTuningConfiguration) throws(TrainingDataError) -> FineTunedNetwork {
        let url: URL, architectureHint: String?
        do {
            (url, architectureHint) = try ModelCache.resolve(configuration.model)
        } catch {
            throw TrainingDataError(code: .unreadable, file: configuration.model, reason: error.description)
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(contentsOf: url)
        } catch {
            throw TrainingDataError(code: .unreadable, file: url.path, reason: error.reason)
        }
        return try load(configuration, checkpoint: checkpoint, architecture: architectureHint, file: url)
    }

    /// ``load(_:)`` from a checkpoint already in memory (benchmarks use seeded weights); `file` names it
    /// in errors.
    public static func load(_ configuration: FineTuningConfiguration, checkpoint: Checkpoint, architecture architectureHint: String?,
                            file url: URL) throws(TrainingDataError) -> FineTunedNetwork {
        let trunk: any ConvolutionalBackbone, retrievalHead: RetrievalHead
        do {
            trunk = try NetworkLoader.backbone(from: checkpoint, architecture: architectureHint)
            retrievalHead = try NetworkLoader.retrievalHead(from: checkpoint)
        } catch {
            throw TrainingDataError(code: .malformed, file: url.path, reason: error.reason)
        }
        let trained = Set(["pool.p", "whiten.weight", "whiten.bias"])
        let base = StateDictionary(checkpoint.tensorNames.compactMap { name in
            guard !trained.contains(name), let tensor = checkpoint.tensors[name] else { return nil }
            return StateTensor(name: name, shape: tensor.shape, values: tensor.values)
        })
        var network = build(trunk: trunk, retrievalHead: retrievalHead, baseState: base, configuration: configuration)
        if configuration.trainableBlocks > 0 {
            do {
                if let lite = trunk as? EfficientNetLite {
                    guard configuration.trainableBlocks <= lite.unitCount - 1 else {
                        throw TrainingDataError(code: .malformed, file: url.path,
                                                reason: "\(lite.architecture) has \(lite.unitCount - 1) trainable units above its stem, not \(configuration.trainableBlocks)")
                    }
                    network.trainableTrunk = try TrainableBackbone(frozen: lite, checkpoint: checkpoint,
                                                                   trainableUnits: configuration.trainableBlocks,
                                                                   parameters: &network.parameters)
                } else if let resNet = trunk as? ResNet {
                    let count = resNet.bottleneckLayouts.count
                    guard configuration.trainableBlocks <= count else {
                        throw TrainingDataError(code: .malformed, file: url.path,
                                                reason: "\(resNet.architecture) has \(count) bottlenecks, not \(configuration.trainableBlocks)")
                    }
                    network.trainableTrunk = try TrainableBackbone(frozen: resNet, checkpoint: checkpoint,
                                                                   trainableBottlenecks: configuration.trainableBlocks,
                                                                   parameters: &network.parameters)
                } else {
                    throw TrainingDataError(code: .malformed, file: url.path,
                                            reason: "training trunk blocks (--trainable-blocks) is implemented for EfficientNet-Lite and ResNet; \(trunk.architecture) can train its head only")
                }
            } catch let error as TrainingDataError {
                throw error
            } catch let error as CheckpointError {
                throw TrainingDataError(code: .malformed, file: url.path, reason: error.reason)
            } catch {
                throw TrainingDataError(code: .malformed, file: url.path, reason: "\(error)")
            }
        }
        return network
    }

    /// The network over an already loaded trunk (tests use a tiny one): the head starts from
    /// `retrievalHead`'s p and whitening when it has them, else GeM with `configuration.gemP` and, when
    /// asked for, an identity whitening.
    public static func build(trunk: any ConvolutionalBackbone, retrievalHead: RetrievalHead, baseState: StateDictionary,
                             configuration: FineTuningConfiguration) -> FineTunedNetwork {
        var parameters = ParameterSet()
        let channels = trunk.outputChannels
        var whitening: Linear?
        if let existing = retrievalHead.whitening {
            whitening = existing
        } else if configuration.whitening {
            var identity = [Float](repeating: 0, count: channels * channels)
            for index in 0..<channels { identity[index * channels + index] = 1 }
            whitening = Linear(weights: identity, outputCount: channels, inputCount: channels,
                               bias: [Float](repeating: 0, count: channels))
        }
        let pooling: TrainableRetrievalHead.Pooling
        switch retrievalHead.pooling.lowercased() {
        case "mac": pooling = .mac
        case "spoc": pooling = .spoc
        default: pooling = .gem
        }
        let head = TrainableRetrievalHead(pooling: pooling, gemP: retrievalHead.gemP ?? configuration.gemP,
                                          inputChannels: channels, whitening: whitening, parameters: &parameters)
        return FineTunedNetwork(frozenTrunk: trunk, trainableTrunk: nil,
                                batchNormMode: configuration.batchNormTraining ? .training(momentum: 0.01) : .frozen,
                                head: head, mean: retrievalHead.mean,
                                standardDeviation: retrievalHead.std, architecture: trunk.architecture,
                                baseState: baseState, parameters: parameters)
    }

    /// How many trunk units `trainableBlocks` can train: EfficientNet-Lite's units above the stem, ResNet's
    /// bottlenecks; 0 for other trunks.
    public var trainableUnitCount: Int {
        if let lite = frozenTrunk as? EfficientNetLite { return lite.unitCount - 1 }
        if let resNet = frozenTrunk as? ResNet { return resNet.bottleneckLayouts.count }
        return 0
    }

    /// The frozen bottom's output for an ImageNet-normalised input.
    public func frozenFeatures(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        if let trainableTrunk { return trainableTrunk.frozenFeatures(input, workspace: workspace) }
        return frozenTrunk.features(input, workspace: workspace)
    }

    /// Decodes `url`, resizes its longer side to `size`, applies `augmentation` drawn from `seed` when
    /// given, and runs the frozen trunk.
    public func frozenFeatures(of url: URL, size: Int, workspace: TensorWorkspace, augmentation: ImageAugmentation? = nil,
                               seed: UInt64 = 0) throws(TrainingDataError) -> FeatureMap {
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(contentsOf: url)
        } catch {
            throw TrainingDataError(code: .unreadable, file: url.path, reason: error.reason)
        }
        guard image.width >= 8, image.height >= 8 else {
            throw TrainingDataError(code: .unreadable, file: url.path, reason: "\(image.width)×\(image.height) pixels; at least 8×8 are needed")
        }
        var resized = image.resized(longerSide: size)
        if let augmentation { resized = augmentation.apply(resized, seed: seed) }
        let input = CNNGlobalDescriptor.normalizedInput(resized, mean: mean, standardDeviation: standardDeviation)
        return frozenFeatures(input, workspace: workspace)
    }

    /// What backward needs from one image's forward pass.
    public struct Tape: Sendable {
        let trunk: TrainableBackbone.Tape?
        let head: TrainableRetrievalHead.Tape
    }

    /// The descriptor of one image from its cached frozen features, and the tape for ``backward(_:tape:)``.
    /// In training BatchNorm mode this moves the running statistics.
    public mutating func forward(_ frozen: FeatureMap, workspace: TensorWorkspace,
                                 prepared: TrainableBackbone.PreparedConvolutions? = nil) -> (descriptor: [Float], tape: Tape) {
        var map = frozen, trunkTape: TrainableBackbone.Tape?
        if var trunk = trainableTrunk {
            (map, trunkTape) = trunk.forward(frozen, parameters: parameters, mode: batchNormMode, workspace: workspace, prepared: prepared)
            trainableTrunk = trunk
        }
        let (descriptor, headTape) = head.forward(map, parameters: parameters)
        return (descriptor, Tape(trunk: trunkTape, head: headTape))
    }

    /// The descriptor alone, BatchNorm on its running statistics (mining, validation).
    public func describe(_ frozen: FeatureMap, workspace: TensorWorkspace,
                         prepared: TrainableBackbone.PreparedConvolutions? = nil) -> [Float] {
        let map = trainableTrunk?.describe(frozen, parameters: parameters, workspace: workspace, prepared: prepared) ?? frozen
        return head.forward(map, parameters: parameters).descriptor
    }

    /// Accumulates the gradients of one image's descriptor into ``parameters``.
    public mutating func backward(_ descriptorGradient: [Float], tape: Tape) {
        let mapGradient = head.backward(descriptorGradient, tape: tape.head, parameters: &parameters)
        if let trunk = trainableTrunk, let trunkTape = tape.trunk {
            trunk.backward(mapGradient, tape: trunkTape, parameters: &parameters)
        }
    }

    /// Forward passes of several images: on every core when BatchNorm is frozen, in order otherwise
    /// (training-mode BatchNorm moves its statistics image by image).
    public mutating func forward(_ maps: [FeatureMap]) -> [(descriptor: [Float], tape: Tape)] {
        let prepared = trainableTrunk?.prepare(parameters)
        if case .training = batchNormMode {
            let workspace = TensorWorkspace()
            return maps.map { forward($0, workspace: workspace, prepared: prepared) }
        }
        let network = self
        return ParallelImageWork.map(maps.count) { index, workspace in
            var copy = network
            return copy.forward(maps[index], workspace: workspace, prepared: prepared)
        }
    }

    /// Backward passes of several images on every core: each worker accumulates its contiguous share
    /// of images into its own gradients, which are then added in worker order — the same sums whatever
    /// the threads' timing.
    public mutating func backward(_ gradients: [[Float]], tapes: [Tape]) {
        precondition(gradients.count == tapes.count, "one gradient per tape")
        var zeroed = self
        zeroed.parameters.zeroGradients()
        let start = zeroed
        let shares = ParallelImageWork.map(ParallelImageWork.chunks(tapes.count).count) { worker, _ in
            var local = start
            for index in ParallelImageWork.chunks(tapes.count)[worker] { local.backward(gradients[index], tape: tapes[index]) }
            return local.parameters
        }
        for share in shares { parameters.addGradients(of: share) }
    }

    /// Descriptors of several images on every core (`nil` stays `nil`).
    public func describe(_ maps: [FeatureMap?]) -> [[Float]?] {
        let network = self, prepared = trainableTrunk?.prepare(parameters)
        return ParallelImageWork.map(maps.count) { index, workspace in
            maps[index].map { network.describe($0, workspace: workspace, prepared: prepared) }
        }
    }

    /// The whole network's tensors under the checkpoint's names: the loaded checkpoint's, with the
    /// trained ones replaced — what `final.pth` holds.
    public func stateDictionary() -> StateDictionary {
        var replacements: [String: StateTensor] = [:]
        for parameter in parameters.parameters where !parameter.name.hasPrefix("arc.") {
            replacements[parameter.name] = StateTensor(name: parameter.name, shape: parameter.shape, values: parameter.value)
        }
        for buffer in trainableTrunk?.bufferTensors ?? [] { replacements[buffer.name] = buffer }
        var tensors = baseState.tensors.map { replacements.removeValue(forKey: $0.name) ?? $0 }
        // Tensors the loaded checkpoint did not have (a new head), in parameter order.
        for parameter in parameters.parameters {
            if let tensor = replacements.removeValue(forKey: parameter.name) { tensors.append(tensor) }
        }
        return StateDictionary(tensors)
    }
}
