import LandmarkPickle

/// cirtorch's `meta` dict: what its `init_network` needs to rebuild the network around a state dict, and
/// what this project's `NetworkLoader` reads to build the descriptor (pooling, whitening, normalisation).
public struct RetrievalNetworkMetadata: Sendable, Equatable {
    /// `resnet50`, `resnet101`, `vgg16`, `efficientnet-lite2` …
    public var architecture: String
    public var localWhitening: Bool
    /// `gem`, `mac`, `spoc` …
    public var pooling: String
    public var regional: Bool
    /// Whether the state dict holds the learned whitening `whiten.weight` / `whiten.bias`.
    public var whitening: Bool
    /// Input normalisation (RGB), as the Python floats cirtorch stores.
    public var mean: [Double]
    public var std: [Double]
    /// The descriptor's dimension (cirtorch: the backbone's output channels; whitening keeps it).
    public var outputDimension: Int

    public init(architecture: String, localWhitening: Bool = false, pooling: String, regional: Bool = false, whitening: Bool,
                mean: [Double] = [0.485, 0.456, 0.406], std: [Double] = [0.229, 0.224, 0.225], outputDimension: Int) {
        self.architecture = architecture
        self.localWhitening = localWhitening
        self.pooling = pooling
        self.regional = regional
        self.whitening = whitening
        self.mean = mean
        self.std = std
        self.outputDimension = outputDimension
    }

    /// The dict in cirtorch's key order.
    public var pickleValue: PickleValue {
        .dictionary(entries.map { PickleDictionaryEntry(key: .string($0.key), value: $0.value) })
    }

    var entries: [(key: String, value: PickleValue)] {
        [
            ("architecture", .string(architecture)), ("local_whitening", .bool(localWhitening)), ("pooling", .string(pooling)),
            ("regional", .bool(regional)), ("whitening", .bool(whitening)), ("mean", .list(mean.map { .float($0) })),
            ("std", .list(std.map { .float($0) })), ("outputdim", .int(outputDimension)),
        ]
    }
}

/// A trained network as cirtorch's `train.py` saves it each epoch:
/// `{'epoch', 'meta', 'state_dict', 'min_loss' (and/or 'best_score'), 'optimizer'}`.
public struct RetrievalCheckpoint: Sendable {
    /// Epochs completed.
    public var epoch: Int
    public var metadata: RetrievalNetworkMetadata
    /// Parameters and buffers (BatchNorm running statistics) under the state-dict names.
    public var stateDictionary: StateDictionary
    /// cirtorch's `min_loss`: the lowest epoch loss so far.
    public var minimumLoss: Double?
    /// The best validation score so far (mAP), for runs that select by validation.
    public var bestScore: Double?

    public init(epoch: Int, metadata: RetrievalNetworkMetadata, stateDictionary: StateDictionary,
                minimumLoss: Double? = nil, bestScore: Double? = nil) {
        self.epoch = epoch
        self.metadata = metadata
        self.stateDictionary = stateDictionary
        self.minimumLoss = minimumLoss
        self.bestScore = bestScore
    }
}

/// An optimiser with the parameters and groups it steps, for writing its state in torch's layout.
public struct OptimizerSnapshot: Sendable {
    public var optimizer: any Optimizer
    public var parameters: ParameterSet
    public var groups: [ParameterGroup]

    public init(optimizer: any Optimizer, parameters: ParameterSet, groups: [ParameterGroup]) {
        self.optimizer = optimizer
        self.parameters = parameters
        self.groups = groups
    }
}

/// A checkpoint that could not be written: the file and why.
public struct ExportError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var reason: String

    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
