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

/// Depthwise convolution (one filter per channel), computed directly: for each output row and
/// kernel tap, one multiply-add sweep over the contiguous valid columns, then the epilogue on the
/// finished plane while it is in cache.
func depthwiseConvolution(input: UnsafePointer<Float>, weights: UnsafePointer<Float>,
                          output: UnsafeMutablePointer<Float>, channels: Int, geometry g: ConvolutionGeometry,
                          epilogue: OutputEpilogue, parallelism: Int) {
    let inputPlane = g.inputHeight * g.inputWidth
    let outputPlane = g.outputHeight * g.outputWidth
    let taps = g.kernelHeight * g.kernelWidth
    let pointers = SharedPointers(input: input, output: output)
    let shared = DepthwiseShared(weights: weights, epilogue: epilogue)
    let threads = channels * outputPlane * taps < 1 << 16 ? 1 : parallelism
    forEachChunk(of: channels, parallelism: threads) { channelRange in
        for channel in channelRange {
            let plane = pointers.input + channel * inputPlane
            let out = pointers.output + channel * outputPlane
            let kernel = shared.weights + channel * taps
            out.update(repeating: 0, count: outputPlane)
            for outputRow in 0 ..< g.outputHeight {
                let outRow = out + outputRow * g.outputWidth
                for ky in 0 ..< g.kernelHeight {
                    let inputRow = outputRow * g.stride - g.padTop + ky * g.dilation
                    guard inputRow >= 0 && inputRow < g.inputHeight else { continue }
                    let inRow = plane + inputRow * g.inputWidth
                    for kx in 0 ..< g.kernelWidth {
                        let weight = kernel[ky * g.kernelWidth + kx]
                        let valid = g.validColumns(offset: kx * g.dilation)
                        let source = inRow + (kx * g.dilation - g.padLeft)
                        if g.stride == 1 {
                            for x in valid { outRow[x] += weight * source[x] }
                        } else {
                            let s = g.stride
                            for x in valid { outRow[x] += weight * source[x * s] }
                        }
                    }
                }
            }
            shared.epilogue.apply(output: pointers.output, channels: channel ..< channel + 1, columns: 0 ..< outputPlane)
        }
    }
}

struct DepthwiseShared: @unchecked Sendable {
    let weights: UnsafePointer<Float>
    let epilogue: OutputEpilogue
}
