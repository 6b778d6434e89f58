import LandmarkCheckpoint
import LandmarkTensor

/// Builds networks from checkpoints: torchvision state dicts, cirtorch retrieval checkpoints and the
/// EfficientNet-Lite ImageNet weights.
///
/// The architecture comes from the caller, else from cirtorch's `meta['architecture']`, else from
/// the tensor names and shapes; every tensor's shape is checked against it, so a checkpoint that
/// does not fit fails here with the tensor's name rather than later with a crash.
public enum NetworkLoader {
    /// The architectures ``backbone(from:architecture:)`` builds.
    public static let supportedArchitectures = ["resnet50", "resnet101", "resnet152", "vgg16"]
        + EfficientNetLite.Variant.allCases.map { "efficientnet-\($0.rawValue)" }

    /// Which naming scheme a state dict follows.
    enum Layout: String {
        case torchvisionResNet = "torchvision ResNet"
        case cirtorchResNet = "cirtorch ResNet"
        case vgg = "VGG"
        case efficientNet = "EfficientNet"
    }

    /// Builds the convolutional backbone of `checkpoint`, every BatchNorm folded into its convolution.
    ///
    /// - Parameter architecture: "resnet50", "resnet101", "resnet152", "vgg16", "efficientnet-lite0" …
    ///   (case and `_`/`-` are not significant); `nil` uses `meta['architecture']` or infers it.
    /// - Throws: `CheckpointError` `.unknownArchitecture` when the name is not supported or does not
    ///   fit the tensors, `.missingTensor` / `.shapeMismatch` naming the first tensor that does not fit.
    public static func backbone(from checkpoint: Checkpoint, architecture: String? = nil) throws(CheckpointError)
        -> any ConvolutionalBackbone
    {
        let requested = architecture ?? metadataText(checkpoint, "architecture")
        let reader = WeightReader(checkpoint: checkpoint, architecture: requested ?? "the network")
        guard let layout = layout(of: checkpoint) else {
            let sample = checkpoint.tensors.keys.sorted().prefix(4).joined(separator: ", ")
            throw reader.error(.unknownArchitecture,
                               "the tensor names (\(sample), …) are none of torchvision ResNet, cirtorch ResNet/VGG16 or EfficientNet-Lite; "
                               + "pass a checkpoint of one of \(supportedArchitectures.joined(separator: ", "))")
        }
        let name = try resolvedArchitecture(requested, layout: layout, reader: reader)
        let named = WeightReader(checkpoint: checkpoint, architecture: name)
        switch layout {
        case .torchvisionResNet:
            return try ResNet(depth: resNetDepth(name), reader: named, key: { $0 })
        case .cirtorchResNet:
            return try ResNet(depth: resNetDepth(name), reader: named, key: ResNet.cirtorchKey)
        case .vgg:
            return try VGG16(reader: named)
        case .efficientNet:
            let variant = EfficientNetLite.Variant(rawValue: String(name.dropFirst("efficientnet-".count))) ?? .lite0
            return try EfficientNetLite(variant: variant, reader: named)
        }
    }

    /// The backbone with its ImageNet classifier (torchvision ResNet `fc`, EfficientNet `_fc`).
    ///
    /// - Throws: as ``backbone(from:architecture:)``; `.missingTensor` for checkpoints without a
    ///   classifier (cirtorch's), `.unknownArchitecture` for VGG16 (its three-layer head is not built).
    public static func classifier(from checkpoint: Checkpoint, architecture: String? = nil) throws(CheckpointError)
        -> ImageNetClassifier
    {
        let backbone = try backbone(from: checkpoint, architecture: architecture)
        let reader = WeightReader(checkpoint: checkpoint, architecture: backbone.architecture)
        let name: String
        switch backbone {
        case is ResNet: name = "fc"
        case is EfficientNetLite: name = "_fc"
        default:
            throw reader.error(.unknownArchitecture, "no ImageNet classifier is built for \(backbone.architecture)")
        }
        let linear = try reader.linear(name, inputCount: backbone.outputChannels)
        return ImageNetClassifier(backbone: backbone, classifier: linear)
    }

    /// What cirtorch's metadata and head tensors say about pooling and whitening. Checkpoints without
    /// `meta` (torchvision, EfficientNet) get GeM without a learned p, no whitening, ImageNet statistics.
    ///
    /// - Throws: `.shapeMismatch` / `.missingTensor` when `meta['whitening']` is set but
    ///   `whiten.weight` / `whiten.bias` are absent or do not fit, or `pool.p` is not one value.
    public static func retrievalHead(from checkpoint: Checkpoint) throws(CheckpointError) -> RetrievalHead {
        let reader = WeightReader(checkpoint: checkpoint, architecture: metadataText(checkpoint, "architecture") ?? "the network")
        let pooling = metadataText(checkpoint, "pooling")?.lowercased() ?? "gem"
        var gemP: Float?
        if reader.has("pool.p") {
            gemP = try reader.tensor("pool.p", shape: [1]).values[0]
        }
        var whitening: Linear?
        if metadataFlag(checkpoint, "whitening") {
            let linear = try reader.linear("whiten", inputCount: nil)
            guard linear.bias != nil else {
                throw reader.error(.missingTensor, "meta['whitening'] is set but 'whiten.bias' is not in the checkpoint")
            }
            whitening = linear
        }
        let mean = metadataFloats(checkpoint, "mean").flatMap { $0.count == 3 ? $0 : nil } ?? RetrievalHead.imageNetMean
        let std = metadataFloats(checkpoint, "std").flatMap { $0.count == 3 ? $0 : nil } ?? RetrievalHead.imageNetStd
        return RetrievalHead(pooling: pooling, gemP: gemP, regional: metadataFlag(checkpoint, "regional"),
                             whitening: whitening, mean: mean, std: std)
    }

    // MARK: - Architecture resolution

    static func layout(of checkpoint: Checkpoint) -> Layout? {
        let tensors = checkpoint.tensors
        if tensors["_conv_stem.weight"] != nil { return .efficientNet }
        if tensors["conv1.weight"] != nil, tensors["layer1.0.conv1.weight"] != nil { return .torchvisionResNet }
        if tensors["features.4.0.conv1.weight"] != nil { return .cirtorchResNet }
        if let first = tensors["features.0.weight"], first.shape == [64, 3, 3, 3], tensors["features.28.weight"] != nil {
            return .vgg
        }
        return nil
    }

    /// Canonical spelling: lower case, `efficientnet_lite0` → `efficientnet-lite0`.
    static func canonical(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "_", with: "-")
    }

    static func resolvedArchitecture(_ requested: String?, layout: Layout, reader: WeightReader) throws(CheckpointError) -> String {
        let inferred = inferredArchitecture(layout: layout, reader: reader)
        guard let requested else {
            guard let inferred else {
                throw reader.error(.unknownArchitecture,
                                   "the \(layout.rawValue) tensors match none of \(supportedArchitectures.joined(separator: ", ")); pass the architecture explicitly")
            }
            return inferred
        }
        let name = canonical(requested)
        guard supportedArchitectures.contains(name) else {
            throw reader.error(.unknownArchitecture,
                               "architecture '\(requested)' is not supported; supported: \(supportedArchitectures.joined(separator: ", "))")
        }
        let fits: Bool
        switch layout {
        case .torchvisionResNet, .cirtorchResNet: fits = name.hasPrefix("resnet")
        case .vgg: fits = name == "vgg16"
        case .efficientNet: fits = name.hasPrefix("efficientnet-")
        }
        guard fits else {
            throw reader.error(.unknownArchitecture, "architecture '\(requested)' was asked for, but the tensors are named as a \(layout.rawValue)")
        }
        return name
    }

    /// The architecture the tensor shapes imply, when they imply one.
    static func inferredArchitecture(layout: Layout, reader: WeightReader) -> String? {
        switch layout {
        case .torchvisionResNet, .cirtorchResNet:
            let stage3 = layout == .torchvisionResNet ? "layer3" : "features.6"
            let blocks = reader.childCount(stage3, suffix: "conv1.weight")
            return ResNet.stageBlocks.first { $0.value[2] == blocks }.map { "resnet\($0.key)" }
        case .vgg:
            return "vgg16"
        case .efficientNet:
            let blocks = reader.childCount("_blocks", suffix: "_depthwise_conv.weight")
            let headInputs = reader.checkpoint.tensors["_conv_head.weight"]?.shape.dropFirst().first
            return EfficientNetLite.Variant.allCases
                .first { $0.stageRepeats.reduce(0, +) == blocks && $0.headInputChannels == headInputs }
                .map { "efficientnet-\($0.rawValue)" }
        }
    }

    static func resNetDepth(_ name: String) -> Int {
        Int(name.dropFirst("resnet".count)) ?? 0
    }

    // MARK: - Metadata (cirtorch's 'meta' dict)

    static func metadataText(_ checkpoint: Checkpoint, _ key: String) -> String? {
        checkpoint.metadata[key]?.text
    }

    static func metadataFlag(_ checkpoint: Checkpoint, _ key: String) -> Bool {
        guard let value = checkpoint.metadata[key] else { return false }
        if case .bool(let flag) = value { return flag }
        return (value.integers?.first ?? 0) != 0
    }

    static func metadataFloats(_ checkpoint: Checkpoint, _ key: String) -> [Float]? {
        checkpoint.metadata[key]?.doubles.map { $0.map(Float.init) }
    }
}
