import CVectorKernels
import Foundation

/// Runs `body` over `0 ..< count` split into at most `parallelism` contiguous chunks, on the
/// caller's thread when one chunk suffices.
@inline(__always)
func forEachChunk(of count: Int, parallelism: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(max(parallelism, 1), count)
    guard chunks > 1 else {
        if count > 0 { body(0 ..< count) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        body(count * chunk / chunks ..< count * (chunk + 1) / chunks)
    }
}

/// Pointers shared by the chunks of one parallel loop; each chunk writes a disjoint part.
struct SharedPointers: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

/// im2col for output rows `firstRow ..< firstRow + rowCount` of `channels` input channels: row
/// (c · kh + ky) · kw + kx of `columns` holds, for each output position of the tile, the input value
/// that kernel tap meets there (zero in the padding).
func unfold(input: UnsafePointer<Float>, channels: Int, geometry g: ConvolutionGeometry, firstRow: Int,
            rowCount: Int, into columns: UnsafeMutablePointer<Float>, parallelism: Int) {
    let tileColumns = rowCount * g.outputWidth
    let inputPlane = g.inputHeight * g.inputWidth
    let taps = g.kernelHeight * g.kernelWidth
    let pointers = SharedPointers(input: input, output: columns)
    // Small tiles are not worth waking threads for.
    let threads = channels * taps * tileColumns < 1 << 16 ? 1 : parallelism
    forEachChunk(of: channels, parallelism: threads) { channelRange in
        for channel in channelRange {
            let plane = pointers.input + channel * inputPlane
            for ky in 0 ..< g.kernelHeight {
                for kx in 0 ..< g.kernelWidth {
                    let destination = pointers.output + ((channel * g.kernelHeight + ky) * g.kernelWidth + kx) * tileColumns
                    let valid = g.validColumns(offset: kx * g.dilation)
                    let inputShift = kx * g.dilation - g.padLeft
                    for row in 0 ..< rowCount {
                        let out = destination + row * g.outputWidth
                        let inputRow = (firstRow + row) * g.stride - g.padTop + ky * g.dilation
                        guard inputRow >= 0 && inputRow < g.inputHeight && !valid.isEmpty else {
                            out.update(repeating: 0, count: g.outputWidth)
                            continue
                        }
                        if valid.lowerBound > 0 { out.update(repeating: 0, count: valid.lowerBound) }
                        if valid.upperBound < g.outputWidth {
                            (out + valid.upperBound).update(repeating: 0, count: g.outputWidth - valid.upperBound)
                        }
                        let source = plane + inputRow * g.inputWidth + inputShift
                        if g.stride == 1 {
                            (out + valid.lowerBound).update(from: source + valid.lowerBound, count: valid.count)
                        } else {
                            let s = g.stride
                            for x in valid { out[x] = source[x * s] }
                        }
                    }
                }
            }
        }
    }
}

/// Depthwise convolution (one filter per channel), computed directly. Where the processor has AVX-512
/// and the shape is EfficientNet's, each channel runs `landmark_depthwise_convolution_channel` in one
/// pass. Otherwise each channel is first copied
/// into a zero-bordered plane (workspace scratch), so every tap is in bounds; then each output row
/// accumulates one kernel row at a time, with the common 3- and 5-wide kernels unrolled so the
/// accumulator is loaded and stored once per kernel row instead of once per tap. The epilogue runs
/// on each finished plane while it is in cache.
func depthwiseConvolution(input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                          output: UnsafeMutablePointer<Float>, channels: Int, geometry g: ConvolutionGeometry,
                          epilogue: OutputEpilogue, workspace: TensorWorkspace) {
    let outputPlane = g.outputHeight * g.outputWidth
    let taps = g.kernelHeight * g.kernelWidth
    let threads = min(channels * outputPlane * taps < 1 << 16 ? 1 : workspace.parallelism, channels)
    // The padded plane covers every input position any tap reads.
    let paddedWidth = (g.outputWidth - 1) * g.stride + (g.kernelWidth - 1) * g.dilation + 1
    let paddedHeight = (g.outputHeight - 1) * g.stride + (g.kernelHeight - 1) * g.dilation + 1
    let vectorized = workspace.vectorKernels && DepthwiseKernel.hasVectorKernel(for: g)
    // The vector kernel reads the input in place and needs no padded planes.
    let paddedPlane = vectorized ? 0 : paddedWidth * paddedHeight
    workspace.withColumns(count: max(1, paddedPlane * threads)) { scratch in
        let kernel = DepthwiseKernel(input: input, weights: weights, output: output, scratch: scratch,
                                     geometry: g, epilogue: epilogue, paddedWidth: paddedWidth,
                                     paddedHeight: paddedHeight, vectorized: vectorized)
        if threads > 1 {
            DispatchQueue.concurrentPerform(iterations: threads) { worker in
                kernel.run(channels: channels * worker / threads ..< channels * (worker + 1) / threads,
                           scratch: kernel.scratch + worker * paddedPlane)
            }
        } else {
            kernel.run(channels: 0 ..< channels, scratch: scratch)
        }
    }
}

struct DepthwiseKernel: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let weights: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let geometry: ConvolutionGeometry
    let epilogue: OutputEpilogue
    let paddedWidth: Int, paddedHeight: Int
    /// Whether each channel runs the AVX-512 kernel (`landmark_depthwise_convolution_channel`).
    let vectorized: Bool

    /// Whether the AVX-512 kernel covers this shape: square 3 × 3 or 5 × 5 filters, stride 1 or 2,
    /// no dilation (EfficientNet-Lite's depthwise layers).
    static func hasVectorKernel(for g: ConvolutionGeometry) -> Bool {
        g.kernelHeight == g.kernelWidth && (g.kernelWidth == 3 || g.kernelWidth == 5) && (g.stride == 1 || g.stride == 2)
            && g.dilation == 1
    }

    func run(channels: Range<Int>, scratch padded: UnsafeMutablePointer<Float>) {
        let g = geometry
        let inputPlane = g.inputHeight * g.inputWidth
        let outputPlane = g.outputHeight * g.outputWidth
        let taps = g.kernelHeight * g.kernelWidth
        for channel in channels {
            let out = output + channel * outputPlane
            let kernel = weights + channel * taps
            if vectorized {
                landmark_depthwise_convolution_channel(input + channel * inputPlane, g.inputHeight, g.inputWidth, 0,
                                                       g.padTop, g.padLeft, kernel, g.kernelWidth, g.stride, 0,
                                                       g.outputHeight, g.outputWidth, epilogue.bias[channel],
                                                       epilogue.residual.map { $0 + channel * outputPlane },
                                                       epilogue.activation.kernelCode, out)
                continue
            }
            pad(input + channel * inputPlane, into: padded)
            for outputRow in 0 ..< g.outputHeight {
                let accumulator = out + outputRow * g.outputWidth
                accumulator.update(repeating: 0, count: g.outputWidth)
                for ky in 0 ..< g.kernelHeight {
                    let source = UnsafePointer(padded + (outputRow * g.stride + ky * g.dilation) * paddedWidth)
                    accumulate(row: source, weights: kernel + ky * g.kernelWidth, into: accumulator)
                }
            }
            epilogue.apply(output: output, channels: channel ..< channel + 1, columns: 0 ..< outputPlane)
        }
    }

    /// Copies one channel into the zero-bordered plane (borders beyond the input are zero; rows or
    /// columns of the input no tap reads are left out).
    @inline(__always)
    func pad(_ plane: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        let g = geometry
        let firstColumn = max(0, -g.padLeft)      // input column copied to padded column 0 + offset
        let offset = max(0, g.padLeft)
        let copied = max(0, min(g.inputWidth - firstColumn, paddedWidth - offset))
        for row in 0 ..< paddedHeight {
            let destination = padded + row * paddedWidth
            let inputRow = row - g.padTop
            guard inputRow >= 0 && inputRow < g.inputHeight && copied > 0 else {
                destination.update(repeating: 0, count: paddedWidth)
                continue
            }
            if offset > 0 { destination.update(repeating: 0, count: offset) }
            (destination + offset).update(from: plane + inputRow * g.inputWidth + firstColumn, count: copied)
            let tail = paddedWidth - offset - copied
            if tail > 0 { (destination + offset + copied).update(repeating: 0, count: tail) }
        }
    }

    /// accumulator[x] += Σ_kx weights[kx] · row[x·s + kx·d].
    @inline(__always)
    func accumulate(row: UnsafePointer<Float>, weights: UnsafePointer<Float>, into accumulator: UnsafeMutablePointer<Float>) {
        let g = geometry
        let count = g.outputWidth
        if g.dilation == 1 && g.stride == 1 && g.kernelWidth == 3 {
            let (w0, w1, w2) = (weights[0], weights[1], weights[2])
            for x in 0 ..< count {
                accumulator[x] += w0 * row[x] + w1 * row[x + 1] + w2 * row[x + 2]
            }
        } else if g.dilation == 1 && g.stride == 1 && g.kernelWidth == 5 {
            let (w0, w1, w2, w3, w4) = (weights[0], weights[1], weights[2], weights[3], weights[4])
            for x in 0 ..< count {
                accumulator[x] += w0 * row[x] + w1 * row[x + 1] + w2 * row[x + 2] + w3 * row[x + 3] + w4 * row[x + 4]
            }
        } else if g.dilation == 1 && g.stride == 2 && g.kernelWidth == 3 {
            let (w0, w1, w2) = (weights[0], weights[1], weights[2])
            for x in 0 ..< count {
                let r = row + 2 * x
                accumulator[x] += w0 * r[0] + w1 * r[1] + w2 * r[2]
            }
        } else if g.dilation == 1 && g.stride == 2 && g.kernelWidth == 5 {
            let (w0, w1, w2, w3, w4) = (weights[0], weights[1], weights[2], weights[3], weights[4])
            for x in 0 ..< count {
                let r = row + 2 * x
                accumulator[x] += w0 * r[0] + w1 * r[1] + w2 * r[2] + w3 * r[3] + w4 * r[4]
            }
        } else {
            for kx in 0 ..< g.kernelWidth {
                let weight = weights[kx]
                let source = row + kx * g.dilation
                let s = g.stride
                for x in 0 ..< count { accumulator[x] += weight * source[x * s] }
            }
        }
    }
}
