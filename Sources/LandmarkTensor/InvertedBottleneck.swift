import CVectorKernels
import Dispatch

/// A mobile inverted bottleneck (MobileNetV2, EfficientNet): an optional 1 × 1 expansion, a depthwise
/// convolution, a 1 × 1 projection and, when the shapes allow, the block's input added back.
///
/// Run layer by layer, the expanded map (six times the block's channels, at the block's full
/// resolution) is written out, read by the depthwise layer, whose output is written out again and read
/// by the projection: on EfficientNet-Lite at 512 px these maps are tens of MB, so the depthwise layer
/// spent most of its time waiting on memory. Where the processor has the engine's AVX-512 kernels the
/// block runs band by band instead: each band of output rows expands only the input rows it reads,
/// into a ring of rows that the next band continues (rows are never expanded twice on one thread), and
/// projects the filtered band while it is still in cache. Every output is summed in the same order as
/// the layer-by-layer vector kernels, so both ways give the same bits.
public struct InvertedBottleneck: Sendable {
    public let expand: Convolution2D?
    public let depthwise: Convolution2D
    public let project: Convolution2D
    /// Whether the block's input is added to the projection (stride 1, as many outputs as inputs).
    public let hasSkip: Bool
    /// The activation after the expansion and after the depthwise layer (the projection is linear).
    public let activation: Activation

    public init(expand: Convolution2D?, depthwise: Convolution2D, project: Convolution2D, hasSkip: Bool,
                activation: Activation = .relu6) {
        precondition(depthwise.isDepthwise, "the middle layer of an inverted bottleneck must be depthwise")
        precondition(expand.map { $0.outputChannels == depthwise.inputChannels } ?? true,
                     "the expansion gives \(expand?.outputChannels ?? 0) channels, the depthwise layer takes \(depthwise.inputChannels)")
        precondition(project.inputChannels == depthwise.outputChannels,
                     "the projection takes \(project.inputChannels) channels, the depthwise layer gives \(depthwise.outputChannels)")
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
        self.hasSkip = hasSkip
        self.activation = activation
    }

    /// The block's output; its storage comes from `workspace`, and `input` is left to the caller.
    public func callAsFunction(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        guard workspace.vectorKernels, let plan = FusedBottleneckPlan(block: self, input: input, workspace: workspace) else {
            return layerByLayer(input, workspace: workspace)
        }
        var output = workspace.makeFeatureMap(channels: project.outputChannels, height: plan.outputHeight,
                                              width: plan.outputWidth)
        workspace.multiplyAccumulateCount += plan.multiplyAccumulates
        let emptyWeights: [Float] = []
        input.storage.withUnsafeBufferPointer { inputBuffer in
            (expand?.weights ?? emptyWeights).withUnsafeBufferPointer { expandWeights in
                (expand?.biasOrZero ?? emptyWeights).withUnsafeBufferPointer { expandBias in
                    depthwise.weights.withUnsafeBufferPointer { depthwiseWeights in
                        depthwise.biasOrZero.withUnsafeBufferPointer { depthwiseBias in
                            project.weights.withUnsafeBufferPointer { projectWeights in
                                project.biasOrZero.withUnsafeBufferPointer { projectBias in
                                    output.storage.withUnsafeMutableBufferPointer { outputBuffer in
                                        guard let inputPointer = inputBuffer.baseAddress,
                                              let depthwiseWeightPointer = depthwiseWeights.baseAddress,
                                              let depthwiseBiasPointer = depthwiseBias.baseAddress,
                                              let projectWeightPointer = projectWeights.baseAddress,
                                              let projectBiasPointer = projectBias.baseAddress,
                                              let outputPointer = outputBuffer.baseAddress
                                        else { preconditionFailure("inverted bottleneck on empty storage") }
                                        let kernel = FusedBottleneckKernel(
                                            plan: plan, input: inputPointer, expandWeights: expandWeights.baseAddress,
                                            expandBias: expandBias.baseAddress, depthwiseWeights: depthwiseWeightPointer,
                                            depthwiseBias: depthwiseBiasPointer, projectWeights: projectWeightPointer,
                                            projectBias: projectBiasPointer, output: outputPointer,
                                            activation: activation.kernelCode)
                                        run(kernel, plan: plan, workspace: workspace)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    private func run(_ kernel: FusedBottleneckKernel, plan: FusedBottleneckPlan, workspace: TensorWorkspace) {
        // Contiguous row ranges, one per thread, so that each thread's bands continue its own ring; each
        // thread expands the few rows above its range again, so ranges of fewer than four rows do not pay.
        let workers = min(workspace.parallelism, max(1, plan.outputHeight / 4))
        let perWorker = plan.scratchCount
        workspace.withColumns(count: perWorker * workers) { scratch in
            if workers > 1 {
                let shared = SharedPointers(input: UnsafePointer(scratch), output: scratch)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let rows = plan.outputHeight * worker / workers ..< plan.outputHeight * (worker + 1) / workers
                    kernel.run(rows: rows, scratch: shared.output + worker * perWorker)
                }
            } else {
                kernel.run(rows: 0 ..< plan.outputHeight, scratch: scratch)
            }
        }
    }

    /// The three layers one after the other, each through the whole map: what the block runs on other
    /// processors and shapes, and what benchmarks compare the fused form with.
    public func layerByLayer(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        let expanded = expand.map { $0(input, activation: activation, workspace: workspace) }
        let filtered = depthwise(expanded ?? input, activation: activation, workspace: workspace)
        if let expanded { workspace.recycle(expanded) }
        let output = project(filtered, adding: hasSkip ? input : nil, workspace: workspace)
        workspace.recycle(filtered)
        return output
    }
}

/// Sizes of one fused run of an ``InvertedBottleneck`` on one input size; nil where the fused kernels do
/// not cover the block (a 1 × 1 layer that is not dense stride-1, a depthwise filter other than 3 × 3 or
/// 5 × 5 at stride 1 or 2).
struct FusedBottleneckPlan {
    let inputChannels: Int, expandedChannels: Int, outputChannels: Int
    let inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int
    let kernel: Int, stride: Int, padTop: Int, padLeft: Int
    let hasExpansion: Bool, hasSkip: Bool
    let rowsPerBand: Int
    /// Rows of expanded input held at once: the most one band reads.
    let ringRows: Int
    let multiplyAccumulates: Int

    init?(block: InvertedBottleneck, input: FeatureMap, workspace: TensorWorkspace) {
        let d = block.depthwise
        let zero = ResolvedPadding(top: 0, left: 0, bottom: 0, right: 0)
        func isDensePointwise(_ layer: Convolution2D) -> Bool {
            layer.kernelHeight == 1 && layer.kernelWidth == 1 && layer.stride == 1 && layer.groups == 1
                && layer.dilation == 1 && layer.resolvedPadding(height: input.height, width: input.width) == zero
        }
        guard d.kernelHeight == d.kernelWidth, d.kernelWidth == 3 || d.kernelWidth == 5, d.stride == 1 || d.stride == 2,
              d.dilation == 1, isDensePointwise(block.project), block.expand.map(isDensePointwise) ?? true,
              input.channels == (block.expand?.inputChannels ?? d.inputChannels)
        else { return nil }
        let pad = d.resolvedPadding(height: input.height, width: input.width)
        let (outputHeight, outputWidth) = d.outputSize(height: input.height, width: input.width)
        guard outputHeight > 0, outputWidth > 0 else { return nil }
        if block.hasSkip {
            guard outputHeight == input.height, outputWidth == input.width,
                  block.project.outputChannels == input.channels else { return nil }
        }
        inputChannels = input.channels
        expandedChannels = d.outputChannels
        outputChannels = block.project.outputChannels
        inputHeight = input.height
        inputWidth = input.width
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        kernel = d.kernelWidth
        stride = d.stride
        padTop = pad.top
        padLeft = pad.left
        hasExpansion = block.expand != nil
        hasSkip = block.hasSkip
        // Ring + filtered band within the limit: E·(W·((R − 1)s + k) + R·Wo) ≤ limit.
        let fixedRows = expandedChannels * inputWidth * (kernel - stride)
        let perRow = expandedChannels * (inputWidth * stride + outputWidth)
        rowsPerBand = max(1, min(outputHeight, (workspace.bottleneckBandLimit - fixedRows) / perRow))
        ringRows = min(inputHeight, (rowsPerBand - 1) * stride + kernel)
        multiplyAccumulates = (hasExpansion ? expandedChannels * inputChannels * inputHeight * inputWidth : 0)
            + expandedChannels * outputHeight * outputWidth * kernel * kernel
            + outputChannels * expandedChannels * outputHeight * outputWidth
    }

    var ringCount: Int { hasExpansion ? expandedChannels * ringRows * inputWidth : 0 }
    var bandCount: Int { expandedChannels * rowsPerBand * outputWidth }
    var panelCount: Int {
        max(hasExpansion ? landmark_pointwise_convolution_scratch_count(inputChannels) : 0,
            landmark_pointwise_convolution_scratch_count(expandedChannels))
    }
    /// Scratch floats one thread needs: the ring, the filtered band and the 1 × 1 kernel's panels.
    var scratchCount: Int { ringCount + bandCount + panelCount }
}

/// The fused block's pointers; each thread runs a disjoint range of output rows.
struct FusedBottleneckKernel: @unchecked Sendable {
    let plan: FusedBottleneckPlan
    let input: UnsafePointer<Float>
    let expandWeights: UnsafePointer<Float>?, expandBias: UnsafePointer<Float>?
    let depthwiseWeights: UnsafePointer<Float>, depthwiseBias: UnsafePointer<Float>
    let projectWeights: UnsafePointer<Float>, projectBias: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let activation: Int32

    func run(rows: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let p = plan
        let ring = scratch
        let band = scratch + p.ringCount
        let panels = band + p.bandCount
        let inputPlane = p.inputHeight * p.inputWidth
        let outputPlane = p.outputHeight * p.outputWidth
        let taps = p.kernel * p.kernel
        // Expanded rows below `expandedEnd` are in the ring (the oldest may have been overwritten).
        var expandedEnd = -1
        for firstRow in Swift.stride(from: rows.lowerBound, to: rows.upperBound, by: p.rowsPerBand) {
            let rowCount = min(p.rowsPerBand, rows.upperBound - firstRow)
            let needed = max(0, firstRow * p.stride - p.padTop)
                ..< min(p.inputHeight, (firstRow + rowCount - 1) * p.stride - p.padTop + p.kernel)
            if p.hasExpansion, let expandWeights, let expandBias {
                var row = max(needed.lowerBound, expandedEnd)
                while row < needed.upperBound {
                    // Rows up to the ring's wrap are contiguous in each channel's slot.
                    let slot = row % p.ringRows
                    let end = min(needed.upperBound, row + p.ringRows - slot)
                    landmark_pointwise_convolution(expandWeights, input + row * p.inputWidth, inputPlane, p.inputChannels,
                                                   p.expandedChannels, (end - row) * p.inputWidth, expandBias, nil, 0,
                                                   activation, ring + slot * p.inputWidth, p.ringRows * p.inputWidth,
                                                   panels)
                    row = end
                }
                expandedEnd = needed.upperBound
            }
            let source = p.hasExpansion ? UnsafePointer(ring) : input
            let sourcePlane = p.hasExpansion ? p.ringRows * p.inputWidth : inputPlane
            let bandPlane = p.rowsPerBand * p.outputWidth
            for channel in 0 ..< p.expandedChannels {
                landmark_depthwise_convolution_channel(source + channel * sourcePlane, p.inputHeight, p.inputWidth,
                                                       p.hasExpansion ? p.ringRows : 0, p.padTop, p.padLeft,
                                                       depthwiseWeights + channel * taps, p.kernel, p.stride, firstRow,
                                                       rowCount, p.outputWidth, depthwiseBias[channel], nil, activation,
                                                       band + channel * bandPlane)
            }
            let offset = firstRow * p.outputWidth
            landmark_pointwise_convolution(projectWeights, band, bandPlane, p.expandedChannels, p.outputChannels,
                                           rowCount * p.outputWidth, projectBias, p.hasSkip ? input + offset : nil,
                                           inputPlane, Activation.identity.kernelCode, output + offset, outputPlane,
                                           panels)
        }
    }
}
