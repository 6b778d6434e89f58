import LandmarkCheckpoint
import LandmarkNetworks
import LandmarkTensor

/// The top units of an EfficientNet-Lite trunk in training form (BatchNorm unfolded), above a frozen
/// bottom that runs through the inference engine (BatchNorm folded).
///
/// Units are the stem, each mobile inverted bottleneck, and the head convolution; the top
/// `trainableUnits` of the bottlenecks and head learn. Their weights join the ``ParameterSet`` under the
/// checkpoint's own names, so exporting is writing the set back over the loaded state dict; BatchNorm
/// running statistics are buffers, updated only in ``BatchNormMode/training(momentum:)``.
public struct TrainableBackbone: Sendable {
    /// The inference trunk; its first ``frozenUnits`` units produce what ``forward(_:parameters:mode:)`` takes.
    public let frozen: EfficientNetLite
    public let frozenUnits: Int
    public var architecture: String { frozen.architecture }
    public var outputChannels: Int { frozen.outputChannels }
    /// BatchNorm running statistics of the trainable units, by state-dict name.
    public private(set) var buffers: [String: [Float]]

    struct ConvolutionUnit: Sendable {
        var convolution: TrainableConvolution
        var batchNorm: TrainableBatchNorm
        var batchNormName: String
        var activates: Bool
    }

    struct Block: Sendable {
        var expand: ConvolutionUnit?
        var depthwise: ConvolutionUnit
        var project: ConvolutionUnit
        var hasSkip: Bool
    }

    let blocks: [Block]
    let head: ConvolutionUnit?

    static let batchNormEpsilon: Float = 1e-3

    /// Builds the trainable top from `checkpoint` (the same file the frozen trunk was loaded from).
    /// - Parameter trainableUnits: bottlenecks + head to train, from the top; at least 1, at most
    ///   `unitCount − 1` (the stem stays frozen).
    public init(frozen: EfficientNetLite, checkpoint: Checkpoint, trainableUnits: Int,
                parameters: inout ParameterSet) throws(CheckpointError) {
        precondition(trainableUnits >= 1 && trainableUnits <= frozen.unitCount - 1,
                     "between 1 and \(frozen.unitCount - 1) units of \(frozen.architecture) can train")
        self.frozen = frozen
        frozenUnits = frozen.unitCount - trainableUnits
        var buffers: [String: [Float]] = [:]

        func unit(_ convolutionName: String, _ batchNormName: String, outputs: Int, inputs: Int, kernel: Int, stride: Int,
                  groups: Int, padding: Padding, activates: Bool) throws(CheckpointError) -> ConvolutionUnit {
            let weight = try checkpoint.tensor("\(convolutionName).weight", shape: [outputs, inputs / groups, kernel, kernel])
            let weightPosition = parameters.append(Parameter(name: "\(convolutionName).weight", shape: weight.shape, value: weight.values))
            let scale = try checkpoint.tensor("\(batchNormName).weight", shape: [outputs])
            let shift = try checkpoint.tensor("\(batchNormName).bias", shape: [outputs])
            buffers["\(batchNormName).running_mean"] = try checkpoint.tensor("\(batchNormName).running_mean", shape: [outputs]).values
            buffers["\(batchNormName).running_var"] = try checkpoint.tensor("\(batchNormName).running_var", shape: [outputs]).values
            let scalePosition = parameters.append(Parameter(name: "\(batchNormName).weight", shape: [outputs], value: scale.values))
            let shiftPosition = parameters.append(Parameter(name: "\(batchNormName).bias", shape: [outputs], value: shift.values))
            return ConvolutionUnit(
                convolution: TrainableConvolution(weightPosition: weightPosition, outputChannels: outputs, inputChannels: inputs,
                                                  kernel: kernel, stride: stride, padding: padding, groups: groups),
                batchNorm: TrainableBatchNorm(scalePosition: scalePosition, shiftPosition: shiftPosition, channels: outputs,
                                              epsilon: Self.batchNormEpsilon),
                batchNormName: batchNormName, activates: activates)
        }

        var blocks: [Block] = []
        let layouts = frozen.blockLayouts
        let firstBlock = frozenUnits - 1  // units: stem = 0, blocks 1…n, head = n + 1
        for layout in layouts.dropFirst(max(firstBlock, 0)) {
            let name = layout.name
            let expand = layout.hasExpansion
                ? try unit("\(name)._expand_conv", "\(name)._bn0", outputs: layout.expandedChannels, inputs: layout.inputChannels,
                           kernel: 1, stride: 1, groups: 1, padding: .symmetric(0), activates: true)
                : nil
            let depthwise = try unit("\(name)._depthwise_conv", "\(name)._bn1", outputs: layout.expandedChannels,
                                     inputs: layout.expandedChannels, kernel: layout.kernel, stride: layout.stride,
                                     groups: layout.expandedChannels, padding: .tensorFlowSame, activates: true)
            let project = try unit("\(name)._project_conv", "\(name)._bn2", outputs: layout.outputChannels,
                                   inputs: layout.expandedChannels, kernel: 1, stride: 1, groups: 1, padding: .symmetric(0),
                                   activates: false)
            blocks.append(Block(expand: expand, depthwise: depthwise, project: project, hasSkip: layout.hasSkip))
        }
        let headInputs = layouts.last?.outputChannels ?? 0
        head = try unit("_conv_head", "_bn1", outputs: frozen.outputChannels, inputs: headInputs, kernel: 1, stride: 1, groups: 1,
                        padding: .symmetric(0), activates: true)
        self.blocks = blocks
        self.buffers = buffers
    }

    /// The frozen bottom's output for one ImageNet-normalised image: what the training loop caches.
    public func frozenFeatures(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        frozen.features(input, units: frozenUnits, workspace: workspace)
    }

    /// Per-layer inputs the backward pass needs.
    public struct Tape: Sendable {
        struct UnitTape: Sendable {
            var input: FeatureMap
            var batchNorm: TrainableBatchNorm.Tape
            var preActivation: FeatureMap?
        }
        struct BlockTape: Sendable {
            var expand: UnitTape?
            var depthwise: UnitTape
            var project: UnitTape
        }
        var blocks: [BlockTape]
        var head: UnitTape?
    }

    private func run(_ unit: ConvolutionUnit, _ input: FeatureMap, parameters: ParameterSet, mode: BatchNormMode,
                     buffers: inout [String: [Float]], workspace: TensorWorkspace) -> (FeatureMap, Tape.UnitTape) {
        let convolved = unit.convolution.forward(input, parameters: parameters, workspace: workspace)
        let meanName = "\(unit.batchNormName).running_mean", varianceName = "\(unit.batchNormName).running_var"
        var mean = buffers[meanName] ?? [], variance = buffers[varianceName] ?? []
        let (normalized, tape) = unit.batchNorm.forward(convolved, parameters: parameters, mode: mode,
                                                        runningMean: &mean, runningVariance: &variance)
        if case .training = mode {
            buffers[meanName] = mean
            buffers[varianceName] = variance
        }
        guard unit.activates else { return (normalized, Tape.UnitTape(input: input, batchNorm: tape, preActivation: nil)) }
        return (ClippedLinearUnit.forward(normalized), Tape.UnitTape(input: input, batchNorm: tape, preActivation: normalized))
    }

    private func back(_ unit: ConvolutionUnit, _ gradient: FeatureMap, tape: Tape.UnitTape, parameters: inout ParameterSet) -> FeatureMap {
        var current = gradient
        if let preActivation = tape.preActivation { current = ClippedLinearUnit.backward(current, input: preActivation) }
        current = unit.batchNorm.backward(current, tape: tape.batchNorm, parameters: &parameters)
        return unit.convolution.backward(current, input: tape.input, parameters: &parameters)
    }

    /// The trunk's output from the frozen bottom's; in training BatchNorm mode the running statistics move.
    public mutating func forward(_ frozenOutput: FeatureMap, parameters: ParameterSet, mode: BatchNormMode = .frozen,
                                 workspace: TensorWorkspace) -> (FeatureMap, Tape) {
        var buffers = self.buffers
        var current = frozenOutput
        var tapes: [Tape.BlockTape] = []
        for block in blocks {
            var expanded = current, expandTape: Tape.UnitTape?
            if let expand = block.expand {
                (expanded, expandTape) = run(expand, current, parameters: parameters, mode: mode, buffers: &buffers, workspace: workspace)
            }
            let (filtered, depthwiseTape) = run(block.depthwise, expanded, parameters: parameters, mode: mode, buffers: &buffers,
                                                workspace: workspace)
            var (projected, projectTape) = run(block.project, filtered, parameters: parameters, mode: mode, buffers: &buffers,
                                               workspace: workspace)
            if block.hasSkip {
                for index in projected.storage.indices { projected.storage[index] += current.storage[index] }
            }
            tapes.append(Tape.BlockTape(expand: expandTape, depthwise: depthwiseTape, project: projectTape))
            current = projected
        }
        var headTape: Tape.UnitTape?
        if let head { (current, headTape) = run(head, current, parameters: parameters, mode: mode, buffers: &buffers, workspace: workspace) }
        self.buffers = buffers
        return (current, Tape(blocks: tapes, head: headTape))
    }

    /// The output without keeping a tape or moving statistics (mining, validation).
    public func describe(_ frozenOutput: FeatureMap, parameters: ParameterSet, workspace: TensorWorkspace) -> FeatureMap {
        var copy = self
        return copy.forward(frozenOutput, parameters: parameters, mode: .frozen, workspace: workspace).0
    }

    /// Accumulates every trainable unit's gradients and returns the gradient of the frozen bottom's output
    /// (which nothing below uses; it is what tests compare with autograd).
    @discardableResult
    public func backward(_ outputGradient: FeatureMap, tape: Tape, parameters: inout ParameterSet) -> FeatureMap {
        var gradient = outputGradient
        if let head, let headTape = tape.head { gradient = back(head, gradient, tape: headTape, parameters: &parameters) }
        for (block, blockTape) in zip(blocks, tape.blocks).reversed() {
            let skipGradient = block.hasSkip ? gradient : nil
            var current = back(block.project, gradient, tape: blockTape.project, parameters: &parameters)
            current = back(block.depthwise, current, tape: blockTape.depthwise, parameters: &parameters)
            if let expand = block.expand, let expandTape = blockTape.expand {
                current = back(expand, current, tape: expandTape, parameters: &parameters)
            }
            if let skipGradient {
                for index in current.storage.indices { current.storage[index] += skipGradient.storage[index] }
            }
            gradient = current
        }
        return gradient
    }

    /// The running statistics as state-dict tensors, for export beside the parameters.
    public var bufferTensors: [StateTensor] {
        buffers.keys.sorted().compactMap { name in buffers[name].map { StateTensor(name: name, shape: [$0.count], values: $0) } }
    }
}
