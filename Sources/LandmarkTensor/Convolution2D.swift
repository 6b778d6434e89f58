import CVectorKernels
import Foundation
import LandmarkLinearAlgebra

/// A 2-D convolution over a ``FeatureMap`` with torch's `Conv2d` semantics (cross-correlation,
/// weights `[out][in / groups][kh][kw]`), plus TensorFlow "SAME" padding.
///
/// Each call picks its kernel by shape: a 1 × 1 stride-1 unpadded convolution is one matrix product
/// on the input as it lies (W[out × in] · X[in × HW]); dense 3 × 3 stride-1 layers with enough
/// channels run Winograd F(4 × 4, 3 × 3) or F(2 × 2, 3 × 3) (``WinogradTile``,
/// ``TensorWorkspace/winogradMinimumChannels``); other dense
/// and grouped convolutions unfold the input (im2col) tile by tile of output rows and multiply per
/// group; depthwise convolutions (groups = in = out) run a direct per-channel kernel, where a
/// product would be all overhead. Bias, residual and activation are applied in one pass over each
/// output tile while it is in cache.
///
/// Layers that can run Winograd keep their transformed weights too (36/9 of the weights' size for
/// the default 4 × 4 tile, 16/9 for 2 × 2), computed once at initialisation, so the per-image path
/// does no weight work. The 4 × 4 tile measured 2.1–2.3× faster than the 2 × 2 one on ResNet-101's
/// 64-channel 3 × 3 layers at 1024 px, 1.6–1.9× on the 128- and 256-channel ones and 1.0–1.1× on the
/// 512-channel ones (`landmark bench conv --winograd-tile 2|4`).
public struct Convolution2D: Sendable {
    /// `[outputChannels][inputChannels / groups][kernelHeight][kernelWidth]`, torch's layout, which is
    /// also the row-major weight matrix of the product.
    public let weights: [Float]
    public let bias: [Float]?
    public let outputChannels: Int
    public let inputChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let stride: Int
    public let padding: Padding
    public let dilation: Int
    public let groups: Int
    /// The bias, or zeros: the output pass always adds one value per channel.
    let biasOrZero: [Float]
    /// Winograd-transformed weights (`[ξ][out][in]`) for dense 3 × 3 stride-1 layers, else nil.
    let winogradWeights: [Float]?
    /// The tile `winogradWeights` were transformed for.
    public let winogradTile: WinogradTile

    public init(weights: [Float], outputChannels: Int, inputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                bias: [Float]?, stride: Int = 1, padding: Padding = .symmetric(0), dilation: Int = 1,
                groups: Int = 1, winogradTile: WinogradTile = .four) {
        precondition(outputChannels > 0 && inputChannels > 0 && kernelHeight > 0 && kernelWidth > 0,
                     "convolution sizes must be positive")
        precondition(stride > 0 && dilation > 0 && groups > 0, "stride, dilation and groups must be positive")
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0,
                     "groups (\(groups)) must divide input (\(inputChannels)) and output (\(outputChannels)) channels")
        precondition(weights.count == outputChannels * (inputChannels / groups) * kernelHeight * kernelWidth,
                     "convolution has \(weights.count) weights, not \(outputChannels)×\(inputChannels / groups)×\(kernelHeight)×\(kernelWidth)")
        if let bias {
            precondition(bias.count == outputChannels, "bias has \(bias.count) values for \(outputChannels) channels")
        }
        self.weights = weights
        self.bias = bias
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        biasOrZero = bias ?? [Float](repeating: 0, count: outputChannels)
        self.winogradTile = winogradTile
        if kernelHeight == 3 && kernelWidth == 3 && stride == 1 && dilation == 1 && groups == 1 {
            winogradWeights = Winograd.transformWeights(weights, outputChannels: outputChannels,
                                                        inputChannels: inputChannels, tile: winogradTile)
        } else {
            winogradWeights = nil
        }
    }

    /// Whether the layer can run as Winograd (dense 3 × 3, stride 1, no dilation);
    /// it does when it also has `TensorWorkspace.winogradMinimumChannels` channels.
    public var supportsWinograd: Bool { winogradWeights != nil }

    /// Whether each output channel sees exactly its own input channel.
    public var isDepthwise: Bool { groups > 1 && groups == inputChannels && groups == outputChannels }

    /// Folds an inference-mode BatchNorm that follows this convolution into its weights and bias:
    /// BN(y) = (y − mean) · scale / √(variance + ε) + shift is affine per channel, so it scales that
    /// channel's weights and moves its bias, and the network runs one layer instead of two.
    public func foldingBatchNorm(scale: [Float], shift: [Float], mean: [Float], variance: [Float],
                                 epsilon: Float) -> Convolution2D {
        let count = outputChannels
        precondition(scale.count == count && shift.count == count && mean.count == count && variance.count == count,
                     "batch norm statistics must have \(count) values each")
        let perChannel = weights.count / count
        var folded = weights
        var newBias = [Float](repeating: 0, count: count)
        for channel in 0 ..< count {
            // Double keeps the fold itself from adding rounding beyond the final float store.
            let factor = Double(scale[channel]) / (Double(variance[channel]) + Double(epsilon)).squareRoot()
            for index in channel * perChannel ..< (channel + 1) * perChannel {
                folded[index] = Float(Double(weights[index]) * factor)
            }
            newBias[channel] = Float((Double(biasOrZero[channel]) - Double(mean[channel])) * factor + Double(shift[channel]))
        }
        return Convolution2D(weights: folded, outputChannels: outputChannels, inputChannels: inputChannels,
                             kernelHeight: kernelHeight, kernelWidth: kernelWidth, bias: newBias, stride: stride,
                             padding: padding, dilation: dilation, groups: groups, winogradTile: winogradTile)
    }

    /// The padding applied to an input of this size.
    public func resolvedPadding(height: Int, width: Int) -> ResolvedPadding {
        padding.resolve(inputHeight: height, inputWidth: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                        stride: stride, dilation: dilation)
    }

    /// Output size for an input of `height` × `width`, torch's floor((in + pads − d(k − 1) − 1) / s) + 1.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let pad = resolvedPadding(height: height, width: width)
        let outputHeight = (height + pad.top + pad.bottom - dilation * (kernelHeight - 1) - 1) / stride + 1
        let outputWidth = (width + pad.left + pad.right - dilation * (kernelWidth - 1) - 1) / stride + 1
        return (max(outputHeight, 0), max(outputWidth, 0))
    }

    /// output = activation(conv(input) + bias [+ residual]); the residual is added before the
    /// activation, as ResNet's relu(bn3(conv3(x)) + identity). The output's storage comes from
    /// `workspace` (see ``TensorWorkspace`` for handing maps back).
    public func callAsFunction(_ input: FeatureMap, activation: Activation = .identity, adding residual: FeatureMap? = nil,
                               workspace: TensorWorkspace) -> FeatureMap {
        precondition(input.channels == inputChannels,
                     "convolution expects \(inputChannels) input channels, got \(input.channels)")
        let pad = resolvedPadding(height: input.height, width: input.width)
        let (outputHeight, outputWidth) = outputSize(height: input.height, width: input.width)
        precondition(outputHeight > 0 && outputWidth > 0,
                     "input \(input.height)×\(input.width) is too small for a \(kernelHeight)×\(kernelWidth) kernel")
        if let residual {
            precondition(residual.channels == outputChannels && residual.height == outputHeight && residual.width == outputWidth,
                         "residual is \(residual.channels)×\(residual.height)×\(residual.width), output \(outputChannels)×\(outputHeight)×\(outputWidth)")
        }
        var output = workspace.makeFeatureMap(channels: outputChannels, height: outputHeight, width: outputWidth)
        // Counted as the direct convolution's work, whichever kernel runs, so GFLOP/s compare with other tools.
        workspace.multiplyAccumulateCount += outputChannels * outputHeight * outputWidth
            * (inputChannels / groups) * kernelHeight * kernelWidth
        let geometry = ConvolutionGeometry(
            inputHeight: input.height, inputWidth: input.width, outputHeight: outputHeight, outputWidth: outputWidth,
            kernelHeight: kernelHeight, kernelWidth: kernelWidth, stride: stride, dilation: dilation,
            padTop: pad.top, padLeft: pad.left)
        let emptyResidual: [Float] = []
        input.storage.withUnsafeBufferPointer { inputBuffer in
            weights.withUnsafeBufferPointer { weightBuffer in
                biasOrZero.withUnsafeBufferPointer { biasBuffer in
                    (residual?.storage ?? emptyResidual).withUnsafeBufferPointer { residualBuffer in
                        output.storage.withUnsafeMutableBufferPointer { outputBuffer in
                            guard let inputPointer = inputBuffer.baseAddress, let weightPointer = weightBuffer.baseAddress,
                                  let biasPointer = biasBuffer.baseAddress, let outputPointer = outputBuffer.baseAddress
                            else { preconditionFailure("convolution on empty storage") }
                            let epilogue = OutputEpilogue(bias: biasPointer, residual: residual == nil ? nil : residualBuffer.baseAddress,
                                                          activation: activation, planeSize: outputHeight * outputWidth)
                            if let winogradWeights,
                               min(inputChannels, outputChannels) >= workspace.winogradMinimumChannels {
                                winogradWeights.withUnsafeBufferPointer { transformed in
                                    guard let transformed = transformed.baseAddress else { return }
                                    winogradConvolution(input: inputPointer, weights: transformed, output: outputPointer,
                                                        geometry: geometry, epilogue: epilogue, workspace: workspace)
                                }
                            } else if isDepthwise {
                                depthwiseConvolution(input: inputPointer, weights: weightPointer, output: outputPointer,
                                                     channels: outputChannels, geometry: geometry, epilogue: epilogue,
                                                     workspace: workspace)
                            } else {
                                productConvolution(input: inputPointer, weights: weightPointer, output: outputPointer,
                                                   geometry: geometry, epilogue: epilogue, workspace: workspace)
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Winograd band by band (see ``WinogradBands``), bands in parallel when BLAS is single-threaded.
    private func winogradConvolution(input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                                     output: UnsafeMutablePointer<Float>, geometry: ConvolutionGeometry,
                                     epilogue: OutputEpilogue, workspace: TensorWorkspace) {
        let size = winogradTile.outputSize
        let tileColumns = (geometry.outputWidth + size - 1) / size
        let tileRows = (geometry.outputHeight + size - 1) / size
        let perTileRow = winogradTile.positions * (inputChannels + outputChannels) * tileColumns
        // A band's products are as wide as its tiles, and each tile stands for size² outputs.
        let minimumTiles = workspace.minimumTileColumns * 3 / (size * size)
        let minimumRows = (minimumTiles + tileColumns - 1) / tileColumns
        var rowsPerBand = max(1, min(tileRows, max(workspace.winogradLimit / perTileRow, minimumRows)))
        let workers = BLAS.threadCount == 1 ? min(workspace.parallelism, tileRows) : 1
        rowsPerBand = balancedRowsPerPart(rows: tileRows, rowsPerPart: rowsPerBand, workers: TensorWorkspace.partitionThreads)
        let bandCount = (tileRows + rowsPerBand - 1) / rowsPerBand
        // With a multi-threaded BLAS the bands run one after the other, and the engine's threads
        // share each band's transforms instead.
        let transformThreads = workers > 1 ? 1 : workspace.parallelism
        let scratchCount = WinogradBands.scratchCount(inputChannels: inputChannels, outputChannels: outputChannels,
                                                      tile: winogradTile, tileColumns: tileColumns, tileRowsPerBand: rowsPerBand,
                                                      transformThreads: transformThreads)
        let bands = WinogradBands(input: input, weights: weights, output: output, geometry: geometry, epilogue: epilogue,
                                  inputChannels: inputChannels, outputChannels: outputChannels,
                                  tile: winogradTile, vectorizedTransforms: workspace.vectorKernels,
                                  tileColumns: tileColumns, tileRowsPerBand: rowsPerBand)
        workspace.withColumns(count: scratchCount * workers) { scratch in
            if workers > 1 {
                let shared = SharedPointers(input: UnsafePointer(scratch), output: scratch)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    for band in Swift.stride(from: worker, to: bandCount, by: workers) {
                        bands.run(band: band, scratch: shared.output + worker * scratchCount)
                    }
                }
            } else {
                for band in 0 ..< bandCount {
                    bands.run(band: band, scratch: scratch, transformThreads: transformThreads)
                }
            }
        }
    }

    /// im2col (or the input itself) times the weights, per group and per tile of output rows.
    private func productConvolution(input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                                    output: UnsafeMutablePointer<Float>, geometry: ConvolutionGeometry,
                                    epilogue: OutputEpilogue, workspace: TensorWorkspace) {
        let inputPerGroup = inputChannels / groups
        let outputPerGroup = outputChannels / groups
        let depth = inputPerGroup * kernelHeight * kernelWidth
        let outputWidth = geometry.outputWidth
        let isPointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && geometry.padTop == 0
            && geometry.padLeft == 0 && geometry.inputHeight == geometry.outputHeight
            && geometry.inputWidth == geometry.outputWidth
        // Tiles small enough to stay in cache between the unfolding, the product and the epilogue
        // win by 10–40 % on ResNet shapes, but below about a thousand columns the product itself
        // slows. Pointwise products read the input in place; their tiles only keep the epilogue in cache.
        let limit = isPointwise ? workspace.pointwiseTileLimit : workspace.im2colLimit
        let rowsForLimit = limit / max(1, (isPointwise ? outputPerGroup : depth) * outputWidth)
        let rowsForMinimumWidth = (workspace.minimumTileColumns + outputWidth - 1) / outputWidth
        var rowsPerTile = max(1, min(geometry.outputHeight, max(rowsForLimit, rowsForMinimumWidth)))
        // With a single-threaded BLAS and several engine threads, whole tiles (unfold, product,
        // epilogue) run in parallel: one fork per layer instead of one per product, and no BLAS
        // threads spinning while the unfolding runs.
        let workers = BLAS.threadCount == 1 ? min(workspace.parallelism, geometry.outputHeight) : 1
        rowsPerTile = balancedRowsPerPart(rows: geometry.outputHeight, rowsPerPart: rowsPerTile, workers: TensorWorkspace.partitionThreads)
        let directPointwise = isPointwise && groups == 1 && workspace.vectorKernels
        let columnCapacity = directPointwise ? landmark_pointwise_convolution_scratch_count(depth)
            : isPointwise ? 1 : depth * rowsPerTile * outputWidth
        let tiles = ProductTiles(
            input: input, weights: weights, output: output, geometry: geometry, epilogue: epilogue,
            groups: groups, inputPerGroup: inputPerGroup, outputPerGroup: outputPerGroup, depth: depth,
            isPointwise: isPointwise, directPointwise: directPointwise, rowsPerTile: rowsPerTile)
        let tileCount = (geometry.outputHeight + rowsPerTile - 1) / rowsPerTile
        workspace.withColumns(count: columnCapacity * workers) { columns in
            if workers > 1 {
                let shared = SharedPointers(input: UnsafePointer(columns), output: columns)
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let own = shared.output + worker * columnCapacity
                    for tile in Swift.stride(from: worker, to: tileCount, by: workers) {
                        tiles.run(tile: tile, columns: own, parallelism: 1)
                    }
                }
            } else {
                for tile in 0 ..< tileCount {
                    tiles.run(tile: tile, columns: columns, parallelism: workspace.parallelism)
                }
            }
        }
    }
}

/// Rows per tile (or band) such that `workers` threads taking every `workers`-th part get equal
/// shares: the part count is rounded up to a multiple of `workers`. Three tiles on two threads, as
/// ResNet's 1 × 1 convolutions at 1/16 scale had, kept one thread idle for a third of each layer.
func balancedRowsPerPart(rows: Int, rowsPerPart: Int, workers: Int) -> Int {
    let parts = (rows + rowsPerPart - 1) / rowsPerPart
    let balancedParts = min(rows, (parts + workers - 1) / workers * workers)
    return max(1, (rows + balancedParts - 1) / balancedParts)
}

/// One convolution's product tiles: rows `tile · rowsPerTile ..<` of the output, every group.
struct ProductTiles: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let weights: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let geometry: ConvolutionGeometry
    let epilogue: OutputEpilogue
    let groups: Int, inputPerGroup: Int, outputPerGroup: Int, depth: Int
    let isPointwise: Bool
    /// Whether a pointwise tile runs the register-blocked C kernel (product and epilogue in one pass)
    /// instead of sgemm and the epilogue.
    let directPointwise: Bool
    let rowsPerTile: Int

    func run(tile: Int, columns: UnsafeMutablePointer<Float>, parallelism: Int) {
        let outputWidth = geometry.outputWidth
        let planeSize = geometry.outputHeight * outputWidth
        let inputPlane = geometry.inputHeight * geometry.inputWidth
        let firstRow = tile * rowsPerTile
        let rowCount = min(rowsPerTile, geometry.outputHeight - firstRow)
        let tileColumns = rowCount * outputWidth
        let columnOffset = firstRow * outputWidth
        if directPointwise {
            landmark_pointwise_convolution(weights, input + columnOffset, planeSize, depth, outputPerGroup, tileColumns,
                                           epilogue.bias, epilogue.residual.map { $0 + columnOffset }, planeSize,
                                           epilogue.activation.kernelCode, output + columnOffset, planeSize, columns)
            return
        }
        for group in 0 ..< groups {
            let matrix: UnsafePointer<Float>
            let matrixStride: Int
            if isPointwise {
                matrix = input + group * inputPerGroup * inputPlane + columnOffset
                matrixStride = inputPlane
            } else {
                unfold(input: input + group * inputPerGroup * inputPlane, channels: inputPerGroup,
                       geometry: geometry, firstRow: firstRow, rowCount: rowCount, into: columns,
                       parallelism: parallelism)
                matrix = UnsafePointer(columns)
                matrixStride = tileColumns
            }
            let firstChannel = group * outputPerGroup
            BLAS.gemm(transposeA: false, transposeB: false, m: outputPerGroup, n: tileColumns, k: depth,
                      alpha: 1, a: weights + firstChannel * depth, lda: depth, b: matrix, ldb: matrixStride,
                      beta: 0, c: output + firstChannel * planeSize + columnOffset, ldc: planeSize)
            epilogue.apply(output: output, channels: firstChannel ..< firstChannel + outputPerGroup,
                           columns: columnOffset ..< columnOffset + tileColumns)
        }
    }
}

/// Sizes and offsets shared by the convolution kernels.
struct ConvolutionGeometry {
    let inputHeight: Int, inputWidth: Int
    let outputHeight: Int, outputWidth: Int
    let kernelHeight: Int, kernelWidth: Int
    let stride: Int, dilation: Int
    let padTop: Int, padLeft: Int

    /// Output columns x whose input column x·s − padLeft + offset lies inside the input.
    @inline(__always)
    func validColumns(offset: Int) -> Range<Int> {
        // x·s + shift ∈ [0, W) with shift = offset − padLeft.
        let shift = offset - padLeft
        let first = shift >= 0 ? 0 : (-shift + stride - 1) / stride
        let lastExclusive = inputWidth - 1 - shift < 0 ? 0 : (inputWidth - 1 - shift) / stride + 1
        let lower = min(first, outputWidth)
        return lower ..< max(lower, min(lastExclusive, outputWidth))
    }
}

extension Activation {
    /// The activation's number in the C kernels' interface.
    var kernelCode: Int32 {
        switch self {
        case .identity: 0
        case .relu: 1
        case .relu6: 2
        }
    }
}

/// Bias, residual and activation applied to a finished block of output.
struct OutputEpilogue {
    let bias: UnsafePointer<Float>
    let residual: UnsafePointer<Float>?
    let activation: Activation
    let planeSize: Int

    @inline(__always)
    func apply(output: UnsafeMutablePointer<Float>, channels: Range<Int>, columns: Range<Int>) {
        for channel in channels {
            let offset = channel * planeSize + columns.lowerBound
            apply(values: output + offset, count: columns.count, bias: bias[channel],
                  residual: residual.map { $0 + offset })
        }
    }

    @inline(__always)
    func apply(values: UnsafeMutablePointer<Float>, count: Int, bias: Float, residual: UnsafePointer<Float>?) {
        // One loop per case so that each inner loop is branch-free and vectorises.
        if let residual {
            switch activation {
            case .identity: for i in 0 ..< count { values[i] = values[i] + bias + residual[i] }
            case .relu: for i in 0 ..< count { values[i] = max(values[i] + bias + residual[i], 0) }
            case .relu6: for i in 0 ..< count { values[i] = min(max(values[i] + bias + residual[i], 0), 6) }
            }
        } else {
            switch activation {
            case .identity: for i in 0 ..< count { values[i] = values[i] + bias }
            case .relu: for i in 0 ..< count { values[i] = max(values[i] + bias, 0) }
            case .relu6: for i in 0 ..< count { values[i] = min(max(values[i] + bias, 0), 6) }
            }
        }
    }
}
