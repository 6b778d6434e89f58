import LandmarkCheckpoint
import LandmarkNetworks
import LandmarkTensor

/// The top blocks of a trunk in training form (BatchNorm unfolded), above a frozen bottom that runs
/// through the inference engine (BatchNorm folded): EfficientNet-Lite's mobile inverted bottlenecks and
/// head convolution, or ResNet's bottlenecks.
///
/// Both architectures' blocks are one shape here: a chain of convolution + BatchNorm (+ activation)
/// units, a shortcut (none, the input, or a projection unit), and for ResNet a ReLU after the sum. The
/// trained weights join the ``ParameterSet`` under the checkpoint's own names, so exporting is writing
/// the set back over the loaded state dict; BatchNorm running statistics are buffers, updated only in
/// ``BatchNormMode/training(momentum:)``.
public struct TrainableBackbone: Sendable {
    enum Bottom: Sendable {
        /// The first `units` units of EfficientNet-Lite (stem = 1).
        case lite(EfficientNetLite, units: Int)
        /// The stem and the first `bottlenecks` bottlenecks of ResNet.
        case resNet(ResNet, bottlenecks: Int)
    }

    let bottom: Bottom
    public let architecture: String
    public let outputChannels: Int
    /// BatchNorm running statistics of the trainable units, by state-dict name.
    public private(set) var buffers: [String: [Float]]

    enum Activation: Sendable { case identity, rectified, clipped }

    struct ConvolutionUnit: Sendable {
        var convolution: TrainableConvolution
        var batchNorm: TrainableBatchNorm
        var batchNormName: String
        var activation: Activation
    }

    enum Shortcut: Sendable {
        case none
        case identity
        case projection(ConvolutionUnit)
    }

    struct Block: Sendable {
        var main: [ConvolutionUnit]
        var shortcut: Shortcut
        /// ResNet applies ReLU to the sum of the branch and the shortcut.
        var activatesAfterSum: Bool
    }

    let blocks: [Block]
    let head: ConvolutionUnit?

    /// Reads one convolution + BatchNorm unit from the checkpoint into `parameters`.
    private struct UnitReader {
        let checkpoint: Checkpoint
        let epsilon: Float
        var buffers: [String: [Float]] = [:]

        mutating func unit(_ convolutionName: String, _ batchNormName: String, outputs: Int, inputs: Int, kernel: Int, stride: Int,
                           groups: Int = 1, padding: Padding, activation: Activation,
                           parameters: inout ParameterSet) throws(CheckpointError) -> ConvolutionUnit {
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
                                              epsilon: epsilon),
                batchNormName: batchNormName, activation: activation)
        }
    }

    /// The top of EfficientNet-Lite from `checkpoint` (the same file the frozen trunk was loaded from).
    /// - Parameter trainableUnits: bottlenecks + head to train, from the top; at least 1, at most
    ///   `unitCount − 1` (the stem stays frozen).
    public init(frozen: EfficientNetLite, checkpoint: Checkpoint, trainableUnits: Int,
                parameters: inout ParameterSet) throws(CheckpointError) {
        precondition(trainableUnits >= 1 && trainableUnits <= frozen.unitCount - 1,
                     "between 1 and \(frozen.unitCount - 1) units of \(frozen.architecture) can train")
        let frozenUnits = frozen.unitCount - trainableUnits
        var reader = UnitReader(checkpoint: checkpoint, epsilon: 1e-3)
        var blocks: [Block] = []
        let layouts = frozen.blockLayouts
        let firstBlock = frozenUnits - 1  // units: stem = 0, blocks 1…n, head = n + 1
        for layout in layouts.dropFirst(max(firstBlock, 0)) {
            let name = layout.name
            var main: [ConvolutionUnit] = []
            if layout.hasExpansion {
                main.append(try reader.unit("\(name)._expand_conv", "\(name)._bn0", outputs: layout.expandedChannels,
                                            inputs: layout.inputChannels, kernel: 1, stride: 1, padding: .symmetric(0),
                                            activation: .clipped, parameters: &parameters))
            }
            main.append(try reader.unit("\(name)._depthwise_conv", "\(name)._bn1", outputs: layout.expandedChannels,
                                        inputs: layout.expandedChannels, kernel: layout.kernel, stride: layout.stride,
                                        groups: layout.expandedChannels, padding: .tensorFlowSame, activation: .clipped,
                                        parameters: &parameters))
            main.append(try reader.unit("\(name)._project_conv", "\(name)._bn2", outputs: layout.outputChannels,
                                        inputs: layout.expandedChannels, kernel: 1, stride: 1, padding: .symmetric(0),
                                        activation: .identity, parameters: &parameters))
            blocks.append(Block(main: main, shortcut: layout.hasSkip ? .identity : .none, activatesAfterSum: false))
        }
        let headInputs = layouts.last?.outputChannels ?? 0
        head = try reader.unit("_conv_head", "_bn1", outputs: frozen.outputChannels, inputs: headInputs, kernel: 1, stride: 1,
                               padding: .symmetric(0), activation: .clipped, parameters: &parameters)
        self.blocks = blocks
        buffers = reader.buffers
        bottom = .lite(frozen, units: frozenUnits)
        architecture = frozen.architecture
        outputChannels = frozen.outputChannels
    }

    /// The top `trainableBottlenecks` bottlenecks of ResNet from `checkpoint` (torchvision or cirtorch
    /// names, as the frozen trunk read them).
    public init(frozen: ResNet, checkpoint: Checkpoint, trainableBottlenecks: Int,
                parameters: inout ParameterSet) throws(CheckpointError) {
        let layouts = frozen.bottleneckLayouts
        precondition(trainableBottlenecks >= 1 && trainableBottlenecks <= layouts.count,
                     "between 1 and \(layouts.count) bottlenecks of \(frozen.architecture) can train")
        var reader = UnitReader(checkpoint: checkpoint, epsilon: 1e-5)
        var blocks: [Block] = []
        for layout in layouts.suffix(trainableBottlenecks) {
            func key(_ module: String) -> String { frozen.stateDictionaryKey("\(layout.name).\(module)") }
            let reduce = try reader.unit(key("conv1"), key("bn1"), outputs: layout.width, inputs: layout.inputChannels, kernel: 1,
                                         stride: 1, padding: .symmetric(0), activation: .rectified, parameters: &parameters)
            let spatial = try reader.unit(key("conv2"), key("bn2"), outputs: layout.width, inputs: layout.width, kernel: 3,
                                          stride: layout.stride, padding: .symmetric(1), activation: .rectified, parameters: &parameters)
            let expand = try reader.unit(key("conv3"), key("bn3"), outputs: layout.outputChannels, inputs: layout.width, kernel: 1,
                                         stride: 1, padding: .symmetric(0), activation: .identity, parameters: &parameters)
            var shortcut = Shortcut.identity
            if layout.hasProjection {
                shortcut = .projection(try reader.unit(key("downsample.0"), key("downsample.1"), outputs: layout.outputChannels,
                                                       inputs: layout.inputChannels, kernel: 1, stride: layout.stride,
                                                       padding: .symmetric(0), activation: .identity, parameters: &parameters))
            }
            blocks.append(Block(main: [reduce, spatial, expand], shortcut: shortcut, activatesAfterSum: true))
        }
        self.blocks = blocks
        head = nil
        buffers = reader.buffers
        bottom = .resNet(frozen, bottlenecks: layouts.count - trainableBottlenecks)
        architecture = frozen.architecture
        outputChannels = frozen.outputChannels
    }

    /// The frozen bottom's output for one ImageNet-normalised image: what the training loop caches.
    public func frozenFeatures(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        switch bottom {
        case .lite(let network, let units): return network.features(input, units: units, workspace: workspace)
        case .resNet(let network, let bottlenecks): return network.features(input, bottlenecks: bottlenecks, workspace: workspace)
        }
    }

    /// Per-layer inputs the backward pass needs.
    public struct Tape: Sendable {
        struct UnitTape: Sendable {
            var input: FeatureMap
            var batchNorm: TrainableBatchNorm.Tape
            /// The BatchNorm output, when an activation followed it.
            var preActivation: FeatureMap?
        }
        struct BlockTape: Sendable {
            var main: [UnitTape]
            var shortcut: UnitTape?
            /// The sum before ResNet's ReLU.
            var sum: FeatureMap?
        }
        var blocks: [BlockTape]
        var head: UnitTape?
    }

    private static func activate(_ map: FeatureMap, _ activation: Activation) -> FeatureMap {
        switch activation {
        case .identity: return map
        case .rectified: return RectifiedLinearUnit.forward(map)
        case .clipped: return ClippedLinearUnit.forward(map)
        }
    }

    private static func deactivate(_ gradient: FeatureMap, input: FeatureMap, _ activation: Activation) -> FeatureMap {
        switch activation {
        case .identity: return gradient
        case .rectified: return RectifiedLinearUnit.backward(gradient, input: input)
        case .clipped: return ClippedLinearUnit.backward(gradient, input: input)
        }
    }

    /// The inference engine's form of every trainable convolution for the current weights. Building one
    /// repacks its weights (Winograd transforms for 3 × 3 layers), so a step builds them once for all its
    /// images instead of once per image.
    public struct PreparedConvolutions: Sendable {
        var layers: [Int: Convolution2D]
    }

    /// Every unit's convolution for `parameters` (valid until they change).
    public func prepare(_ parameters: ParameterSet) -> PreparedConvolutions {
        var units = blocks.flatMap { block -> [ConvolutionUnit] in
            if case .projection(let projection) = block.shortcut { return block.main + [projection] }
            return block.main
        }
        if let head { units.append(head) }
        return PreparedConvolutions(layers: Dictionary(units.map { ($0.convolution.weightPosition, $0.convolution.layer(parameters)) },
                                                       uniquingKeysWith: { first, _ in first }))
    }

    private func run(_ unit: ConvolutionUnit, _ input: FeatureMap, parameters: ParameterSet, mode: BatchNormMode,
                     buffers: inout [String: [Float]], workspace: TensorWorkspace,
                     prepared: PreparedConvolutions?) -> (FeatureMap, Tape.UnitTape) {
        let convolved = prepared?.layers[unit.convolution.weightPosition].map { $0(input, workspace: workspace) }
            ?? unit.convolution.forward(input, parameters: parameters, workspace: workspace)
        let meanName = "\(unit.batchNormName).running_mean", varianceName = "\(unit.batchNormName).running_var"
        var mean = buffers[meanName] ?? [], variance = buffers[varianceName] ?? []
        let (normalized, tape) = unit.batchNorm.forward(convolved, parameters: parameters, mode: mode,
                                                        runningMean: &mean, runningVariance: &variance)
        if case .training = mode {
            buffers[meanName] = mean
            buffers[varianceName] = variance
        }
        if case .identity = unit.activation {
            return (normalized, Tape.UnitTape(input: input, batchNorm: tape, preActivation: nil))
        }
        return (Self.activate(normalized, unit.activation), Tape.UnitTape(input: input, batchNorm: tape, preActivation: normalized))
    }

    private func back(_ unit: ConvolutionUnit, _ gradient: FeatureMap, tape: Tape.UnitTape, parameters: inout ParameterSet) -> FeatureMap {
        var current = gradient
        if let preActivation = tape.preActivation { current = Self.deactivate(current, input: preActivation, unit.activation) }
        current = unit.batchNorm.backward(current, tape: tape.batchNorm, parameters: &parameters)
        return unit.convolution.backward(current, input: tape.input, parameters: &parameters)
    }

    /// The trunk's output from the frozen bottom's; in training BatchNorm mode the running statistics move.
    /// - Parameter prepared: the step's ``prepare(_:)`` result for `parameters`, if built.
    public mutating func forward(_ frozenOutput: FeatureMap, parameters: ParameterSet, mode: BatchNormMode = .frozen,
                                 workspace: TensorWorkspace, prepared: PreparedConvolutions? = nil) -> (FeatureMap, Tape) {
        var buffers = self.buffers
        var current = frozenOutput
        var tapes: [Tape.BlockTape] = []
        for block in blocks {
            var branch = current, mainTapes: [Tape.UnitTape] = []
            for unit in block.main {
                let (output, tape) = run(unit, branch, parameters: parameters, mode: mode, buffers: &buffers, workspace: workspace,
                                         prepared: prepared)
                branch = output
                mainTapes.append(tape)
            }
            var shortcutTape: Tape.UnitTape?
            switch block.shortcut {
            case .none:
                break
            case .identity:
                for index in branch.storage.indices { branch.storage[index] += current.storage[index] }
            case .projection(let unit):
                let (projected, tape) = run(unit, current, parameters: parameters, mode: mode, buffers: &buffers, workspace: workspace,
                                             prepared: prepared)
                for index in branch.storage.indices { branch.storage[index] += projected.storage[index] }
                shortcutTape = tape
            }
            var sum: FeatureMap?
            if block.activatesAfterSum {
                sum = branch
                branch = RectifiedLinearUnit.forward(branch)
            }
            tapes.append(Tape.BlockTape(main: mainTapes, shortcut: shortcutTape, sum: sum))
            current = branch
        }
        var headTape: Tape.UnitTape?
        if let head {
            (current, headTape) = run(head, current, parameters: parameters, mode: mode, buffers: &buffers, workspace: workspace,
                                      prepared: prepared)
        }
        self.buffers = buffers
        return (current, Tape(blocks: tapes, head: headTape))
    }

    /// The output without keeping a tape or moving statistics (mining, validation).
    public func describe(_ frozenOutput: FeatureMap, parameters: ParameterSet, workspace: TensorWorkspace,
                         prepared: PreparedConvolutions? = nil) -> FeatureMap {
        var copy = self
        return copy.forward(frozenOutput, parameters: parameters, mode: .frozen, workspace: workspace, prepared: prepared).0
    }

    /// Accumulates every trainable unit's gradients and returns the gradient of the frozen bottom's output
    /// (which nothing below uses; it is what tests compare with autograd).
    @discardableResult
    public func backward(_ outputGradient: FeatureMap, tape: Tape, parameters: inout ParameterSet) -> FeatureMap {
        var gradient = outputGradient
        if let head, let headTape = tape.head { gradient = back(head, gradient, tape: headTape, parameters: &parameters) }
        for (block, blockTape) in zip(blocks, tape.blocks).reversed() {
            if let sum = blockTape.sum { gradient = RectifiedLinearUnit.backward(gradient, input: sum) }
            var current = gradient
            for (unit, unitTape) in zip(block.main, blockTape.main).reversed() {
                current = back(unit, current, tape: unitTape, parameters: &parameters)
            }
            switch block.shortcut {
            case .none:
                break
            case .identity:
                for index in current.storage.indices { current.storage[index] += gradient.storage[index] }
            case .projection(let unit):
                if let shortcutTape = blockTape.shortcut {
                    let projected = back(unit, gradient, tape: shortcutTape, parameters: &parameters)
                    for index in current.storage.indices { current.storage[index] += projected.storage[index] }
                }
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
