import LandmarkCheckpoint
import LandmarkTensor

/// torchvision's ResNet-50/101/152 (Bottleneck v1.5: the stride sits on the 3 × 3 convolution),
/// without its average pool and fully connected layer — cirtorch's `features`.
///
/// Every BatchNorm is folded into its convolution at load time, so a bottleneck is three
/// convolutions (plus a projection on the first block of a stage) with ReLU and the residual sum
/// fused into the last one's output pass.
public struct ResNet: ConvolutionalBackbone {
    /// 50, 101 or 152.
    public let depth: Int
    public var architecture: String { "resnet\(depth)" }
    public let outputChannels: Int

    struct Bottleneck: Sendable {
        var reduce: Convolution2D
        var spatial: Convolution2D
        var expand: Convolution2D
        var projection: Convolution2D?
    }

    let stem: Convolution2D
    let stemPool = MaxPooling2D(kernel: 3, stride: 2, padding: .symmetric(1))
    let blocks: [Bottleneck]
    /// The checkpoint names its tensors as cirtorch's `features.N…` rather than torchvision's `layerN…`.
    public let usesCirtorchNames: Bool

    /// One bottleneck's geometry, for building its training form from the same checkpoint.
    public struct BottleneckLayout: Sendable, Equatable {
        /// torchvision's module name, `layer<stage>.<index>`; ``stateDictionaryKey(_:)`` gives the checkpoint's.
        public var name: String
        public var inputChannels: Int
        /// Channels of the 1 × 1 reduction and the 3 × 3 convolution.
        public var width: Int
        public var outputChannels: Int
        /// On the 3 × 3 convolution and the projection (v1.5).
        public var stride: Int
        /// The first bottleneck of a stage projects its input (`downsample`); the others add it unchanged.
        public var hasProjection: Bool
    }

    /// Every bottleneck's layout, in order.
    public var bottleneckLayouts: [BottleneckLayout] {
        var layouts: [BottleneckLayout] = []
        var inputs = 64
        for (stage, count) in (Self.stageBlocks[depth] ?? []).enumerated() {
            let width = 64 << stage
            for index in 0 ..< count {
                layouts.append(BottleneckLayout(name: "layer\(stage + 1).\(index)", inputChannels: inputs, width: width,
                                                outputChannels: width * 4, stride: (index == 0 && stage > 0) ? 2 : 1,
                                                hasProjection: index == 0))
                inputs = width * 4
            }
        }
        return layouts
    }

    /// The checkpoint's name for torchvision's module `name` (`layer4.2.conv1` → `features.7.2.conv1` in cirtorch's).
    public func stateDictionaryKey(_ name: String) -> String { usesCirtorchNames ? Self.cirtorchKey(name) : name }

    /// Bottlenecks per stage for each supported depth.
    static let stageBlocks: [Int: [Int]] = [50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]]
    static let batchNormEpsilon: Float = 1e-5

    /// Reads the network whose state-dict name for torchvision's module `name` ("conv1", "bn1",
    /// "layer3.4.conv2", …) is `key(name)` — the identity for torchvision, `features.N…` for cirtorch.
    init(depth: Int, reader: WeightReader, key: (String) -> String) throws(CheckpointError) {
        guard let stages = Self.stageBlocks[depth] else {
            throw reader.error(.unknownArchitecture, "ResNet-\(depth) is not supported (50, 101, 152 are)")
        }
        self.depth = depth
        usesCirtorchNames = key("conv1") != "conv1"
        stem = try reader.convolution(key("conv1"), batchNorm: key("bn1"), epsilon: Self.batchNormEpsilon,
                                      outputChannels: 64, inputChannels: 3, kernel: 7, stride: 2, padding: .symmetric(3))
        var blocks: [Bottleneck] = []
        var inputs = 64
        for (stage, count) in stages.enumerated() {
            let width = 64 << stage
            let outputs = width * 4
            let actual = reader.childCount(key("layer\(stage + 1)"), suffix: "conv1.weight")
            guard actual == count else {
                throw reader.error(.shapeMismatch,
                                   "\(key("layer\(stage + 1)")) has \(actual) bottlenecks, ResNet-\(depth) has \(count)")
            }
            for index in 0 ..< count {
                let name = "layer\(stage + 1).\(index)"
                let stride = (index == 0 && stage > 0) ? 2 : 1
                let epsilon = Self.batchNormEpsilon
                let reduce = try reader.convolution(key("\(name).conv1"), batchNorm: key("\(name).bn1"), epsilon: epsilon,
                                                    outputChannels: width, inputChannels: inputs, kernel: 1, padding: .symmetric(0))
                let spatial = try reader.convolution(key("\(name).conv2"), batchNorm: key("\(name).bn2"), epsilon: epsilon,
                                                     outputChannels: width, inputChannels: width, kernel: 3, stride: stride,
                                                     padding: .symmetric(1))
                let expand = try reader.convolution(key("\(name).conv3"), batchNorm: key("\(name).bn3"), epsilon: epsilon,
                                                    outputChannels: outputs, inputChannels: width, kernel: 1, padding: .symmetric(0))
                var projection: Convolution2D?
                if index == 0 {
                    projection = try reader.convolution(key("\(name).downsample.0"), batchNorm: key("\(name).downsample.1"),
                                                        epsilon: epsilon, outputChannels: outputs, inputChannels: inputs,
                                                        kernel: 1, stride: stride, padding: .symmetric(0))
                }
                blocks.append(Bottleneck(reduce: reduce, spatial: spatial, expand: expand, projection: projection))
                inputs = outputs
            }
        }
        self.blocks = blocks
        outputChannels = inputs
    }

    public func features(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        features(input, bottlenecks: blocks.count, workspace: workspace)
    }

    /// The output after the stem and the first `bottlenecks` bottlenecks, where fine-tuning the top ones
    /// takes over (`blocks.count`: the whole trunk).
    public func features(_ input: FeatureMap, bottlenecks: Int, workspace: TensorWorkspace) -> FeatureMap {
        precondition(bottlenecks >= 0 && bottlenecks <= blocks.count, "ResNet-\(depth) has \(blocks.count) bottlenecks, not \(bottlenecks)")
        let stemmed = stem(input, activation: .relu, workspace: workspace)
        var current = stemPool(stemmed, workspace: workspace)
        workspace.recycle(stemmed)
        for block in blocks.prefix(bottlenecks) {
            let reduced = block.reduce(current, activation: .relu, workspace: workspace)
            let spatial = block.spatial(reduced, activation: .relu, workspace: workspace)
            workspace.recycle(reduced)
            let output: FeatureMap
            if let projection = block.projection {
                let shortcut = projection(current, workspace: workspace)
                output = block.expand(spatial, activation: .relu, adding: shortcut, workspace: workspace)
                workspace.recycle(shortcut)
            } else {
                output = block.expand(spatial, activation: .relu, adding: current, workspace: workspace)
            }
            workspace.recycle(spatial)
            workspace.recycle(current)
            current = output
        }
        return current
    }

    /// Maps torchvision's module names onto cirtorch's `features` Sequential
    /// (conv1, bn1, relu, maxpool, layer1 … layer4 → features.0 … features.7).
    static func cirtorchKey(_ name: String) -> String {
        if name.hasPrefix("conv1") { return "features.0" + name.dropFirst("conv1".count) }
        if name.hasPrefix("bn1") { return "features.1" + name.dropFirst("bn1".count) }
        for stage in 1 ... 4 where name.hasPrefix("layer\(stage)") {
            return "features.\(stage + 3)" + name.dropFirst("layer\(stage)".count)
        }
        return name
    }
}
