/// Output length of a pooling window along one axis, torch's `pooling_output_shape_pad_lr`: with
/// `ceilMode` a last partial window counts, unless it would start inside the trailing padding.
func poolingOutputLength(input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, ceilMode: Bool) -> Int {
    let span = input + padBefore + padAfter - kernel + (ceilMode ? stride - 1 : 0)
    guard span >= 0 else { return 0 }
    var length = span / stride + 1
    if ceilMode && (length - 1) * stride >= input + padBefore {
        length -= 1
    }
    return length
}

/// Window placement shared by max and average pooling.
struct PoolingGeometry {
    let inputHeight: Int, inputWidth: Int, outputHeight: Int, outputWidth: Int
    let kernel: Int, stride: Int
    let padTop: Int, padLeft: Int, padBottom: Int, padRight: Int

    init(kernel: Int, stride: Int, padding: Padding, ceilMode: Bool, inputHeight: Int, inputWidth: Int) {
        let pad = padding.resolve(inputHeight: inputHeight, inputWidth: inputWidth, kernelHeight: kernel,
                                  kernelWidth: kernel, stride: stride, dilation: 1)
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernel = kernel
        self.stride = stride
        padTop = pad.top
        padLeft = pad.left
        padBottom = pad.bottom
        padRight = pad.right
        outputHeight = poolingOutputLength(input: inputHeight, kernel: kernel, stride: stride, padBefore: pad.top,
                                           padAfter: pad.bottom, ceilMode: ceilMode)
        outputWidth = poolingOutputLength(input: inputWidth, kernel: kernel, stride: stride, padBefore: pad.left,
                                          padAfter: pad.right, ceilMode: ceilMode)
    }
}

/// Max pooling with torch's `MaxPool2d` semantics: padding counts as −∞, so it never wins.
public struct MaxPooling2D: Sendable {
    public let kernel: Int
    public let stride: Int
    public let padding: Padding
    public let ceilMode: Bool

    public init(kernel: Int, stride: Int, padding: Padding = .symmetric(0), ceilMode: Bool = false) {
        precondition(kernel > 0 && stride > 0, "pooling kernel and stride must be positive")
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let g = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                                inputHeight: height, inputWidth: width)
        return (g.outputHeight, g.outputWidth)
    }

    /// The pooled map; its storage comes from `workspace`.
    public func callAsFunction(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        let g = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                                inputHeight: input.height, inputWidth: input.width)
        precondition(g.outputHeight > 0 && g.outputWidth > 0, "input \(input.height)×\(input.width) too small to pool")
        var output = workspace.makeFeatureMap(channels: input.channels, height: g.outputHeight, width: g.outputWidth)
        let inputPlane = input.planeSize
        let outputPlane = output.planeSize
        input.storage.withUnsafeBufferPointer { inputBuffer in
            output.storage.withUnsafeMutableBufferPointer { outputBuffer in
                guard let inputBase = inputBuffer.baseAddress, let outputBase = outputBuffer.baseAddress else { return }
                let pointers = SharedPointers(input: inputBase, output: outputBase)
                let threads = input.channels * outputPlane * kernel * kernel < 1 << 16 ? 1 : workspace.parallelism
                forEachChunk(of: input.channels, parallelism: threads) { channels in
                    // Vertical maxima of one output row's window rows first (contiguous, vectorised),
                    // then the horizontal windows over that single row.
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: g.inputWidth) { columnMaxima in
                        guard let columnMaxima = columnMaxima.baseAddress else { return }
                        for channel in channels {
                            let plane = pointers.input + channel * inputPlane
                            let out = pointers.output + channel * outputPlane
                            for outputRow in 0 ..< g.outputHeight {
                                let top = outputRow * g.stride - g.padTop
                                let rows = max(top, 0) ..< min(top + g.kernel, g.inputHeight)
                                columnMaxima.update(repeating: -.infinity, count: g.inputWidth)
                                for y in rows {
                                    let row = plane + y * g.inputWidth
                                    for x in 0 ..< g.inputWidth { columnMaxima[x] = max(columnMaxima[x], row[x]) }
                                }
                                let outRow = out + outputRow * g.outputWidth
                                for outputColumn in 0 ..< g.outputWidth {
                                    let left = outputColumn * g.stride - g.padLeft
                                    var best = -Float.infinity
                                    for x in max(left, 0) ..< min(left + g.kernel, g.inputWidth) {
                                        best = max(best, columnMaxima[x])
                                    }
                                    outRow[outputColumn] = best
                                }
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}

/// Average pooling with torch's `AvgPool2d` semantics; by default (`countIncludePad`, torch's
/// default) zero padding counts in the divisor, except where a `ceilMode` window runs past it.
public struct AveragePooling2D: Sendable {
    public let kernel: Int
    public let stride: Int
    public let padding: Padding
    public let ceilMode: Bool
    public let countIncludePad: Bool

    public init(kernel: Int, stride: Int, padding: Padding = .symmetric(0), ceilMode: Bool = false,
                countIncludePad: Bool = true) {
        precondition(kernel > 0 && stride > 0, "pooling kernel and stride must be positive")
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let g = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                                inputHeight: height, inputWidth: width)
        return (g.outputHeight, g.outputWidth)
    }

    /// The pooled map; its storage comes from `workspace`.
    public func callAsFunction(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        let g = PoolingGeometry(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                                inputHeight: input.height, inputWidth: input.width)
        precondition(g.outputHeight > 0 && g.outputWidth > 0, "input \(input.height)×\(input.width) too small to pool")
        var output = workspace.makeFeatureMap(channels: input.channels, height: g.outputHeight, width: g.outputWidth)
        let inputPlane = input.planeSize
        let outputPlane = output.planeSize
        let countIncludePad = self.countIncludePad
        input.storage.withUnsafeBufferPointer { inputBuffer in
            output.storage.withUnsafeMutableBufferPointer { outputBuffer in
                guard let inputBase = inputBuffer.baseAddress, let outputBase = outputBuffer.baseAddress else { return }
                let pointers = SharedPointers(input: inputBase, output: outputBase)
                let threads = input.channels * outputPlane * kernel * kernel < 1 << 16 ? 1 : workspace.parallelism
                forEachChunk(of: input.channels, parallelism: threads) { channels in
                    for channel in channels {
                        let plane = pointers.input + channel * inputPlane
                        let out = pointers.output + channel * outputPlane
                        for outputRow in 0 ..< g.outputHeight {
                            let top = outputRow * g.stride - g.padTop
                            let paddedBottom = min(top + g.kernel, g.inputHeight + g.padBottom)
                            let rows = max(top, 0) ..< min(top + g.kernel, g.inputHeight)
                            for outputColumn in 0 ..< g.outputWidth {
                                let left = outputColumn * g.stride - g.padLeft
                                let paddedRight = min(left + g.kernel, g.inputWidth + g.padRight)
                                let columns = max(left, 0) ..< min(left + g.kernel, g.inputWidth)
                                var sum: Float = 0
                                for y in rows {
                                    let row = plane + y * g.inputWidth
                                    for x in columns { sum += row[x] }
                                }
                                let divisor = countIncludePad
                                    ? (paddedBottom - top) * (paddedRight - left) : rows.count * columns.count
                                out[outputRow * g.outputWidth + outputColumn] = divisor > 0 ? sum / Float(divisor) : 0
                            }
                        }
                    }
                }
            }
        }
        return output
    }
}

/// The mean of each channel (torch's `adaptive_avg_pool2d(x, 1)` flattened), accumulated in
/// double precision so large planes lose nothing to summation order.
public func globalAveragePool(_ map: FeatureMap) -> [Float] {
    let plane = map.planeSize
    precondition(plane > 0, "global pooling of an empty map")
    var result = [Float](repeating: 0, count: map.channels)
    map.storage.withUnsafeBufferPointer { values in
        for channel in 0 ..< map.channels {
            var sum: Double = 0
            for index in channel * plane ..< (channel + 1) * plane { sum += Double(values[index]) }
            result[channel] = Float(sum / Double(plane))
        }
    }
    return result
}
