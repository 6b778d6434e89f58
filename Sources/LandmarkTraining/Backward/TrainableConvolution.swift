import LandmarkLinearAlgebra
import LandmarkTensor

/// A convolution whose weight lives in a ``ParameterSet``: the forward pass runs the inference engine's
/// kernels on the current weights, the backward pass accumulates dL/dW and returns dL/dinput.
///
/// Dense and grouped layers go through im2col and BLAS (a 1 × 1, stride-1 layer needs no im2col at
/// all); depthwise layers — one filter per channel, as in MobileNet / EfficientNet blocks — use direct
/// loops, which beat a product with an inner dimension of k².
public struct TrainableConvolution: Sendable {
    public let weightPosition: Int
    public let outputChannels: Int
    public let inputChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Padding
    public let groups: Int

    public init(weightPosition: Int, outputChannels: Int, inputChannels: Int, kernel: Int, stride: Int = 1,
                padding: Padding = .symmetric(0), groups: Int = 1) {
        precondition(inputChannels % groups == 0 && outputChannels % groups == 0, "groups must divide the channels")
        self.weightPosition = weightPosition
        self.outputChannels = outputChannels
        self.inputChannels = inputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.groups = groups
    }

    var isDepthwise: Bool { groups > 1 && groups == inputChannels && groups == outputChannels }

    /// The inference form for the current weights. Training keeps Winograd's 2 × 2 tile: the weights
    /// change every step, so the transform runs every step, and the 4 × 4 tile's writes 36 matrices
    /// instead of 16; its rounding is also the larger, and the gradient checks hold the 2 × 2 tile's.
    func layer(_ parameters: ParameterSet) -> Convolution2D {
        Convolution2D(weights: parameters[weightPosition].value, outputChannels: outputChannels, inputChannels: inputChannels,
                      kernelHeight: kernel, kernelWidth: kernel, bias: nil, stride: stride, padding: padding, groups: groups,
                      winogradTile: .two)
    }

    public func forward(_ input: FeatureMap, parameters: ParameterSet, workspace: TensorWorkspace) -> FeatureMap {
        layer(parameters)(input, workspace: workspace)
    }

    /// Accumulates dL/dW into `parameters` and returns dL/dinput.
    public func backward(_ outputGradient: FeatureMap, input: FeatureMap, parameters: inout ParameterSet) -> FeatureMap {
        let pad = padding.resolve(inputHeight: input.height, inputWidth: input.width, kernelHeight: kernel,
                                  kernelWidth: kernel, stride: stride, dilation: 1)
        precondition(outputGradient.channels == outputChannels, "gradient has \(outputGradient.channels) channels, not \(outputChannels)")
        var inputGradient = FeatureMap(channels: inputChannels, height: input.height, width: input.width)
        let weights = parameters[weightPosition].value
        parameters.withGradient(at: weightPosition) { weightGradient in
            if isDepthwise {
                depthwiseBackward(outputGradient, input: input, pad: pad, weights: weights, weightGradient: &weightGradient,
                                  inputGradient: &inputGradient)
            } else {
                denseBackward(outputGradient, input: input, pad: pad, weights: weights, weightGradient: &weightGradient,
                              inputGradient: &inputGradient)
            }
        }
        return inputGradient
    }

    private func depthwiseBackward(_ outputGradient: FeatureMap, input: FeatureMap, pad: ResolvedPadding, weights: [Float],
                                   weightGradient: inout [Float], inputGradient: inout FeatureMap) {
        let outputHeight = outputGradient.height, outputWidth = outputGradient.width
        let inputHeight = input.height, inputWidth = input.width, kernel = kernel, stride = stride
        let taps = kernel * kernel
        input.storage.withUnsafeBufferPointer { x in
            outputGradient.storage.withUnsafeBufferPointer { dy in
                inputGradient.storage.withUnsafeMutableBufferPointer { dx in
                    weights.withUnsafeBufferPointer { w in
                        weightGradient.withUnsafeMutableBufferPointer { dw in
                            for channel in 0..<inputChannels {
                                let xBase = channel * inputHeight * inputWidth
                                let yBase = channel * outputHeight * outputWidth
                                for ky in 0..<kernel {
                                    for kx in 0..<kernel {
                                        let weight = w[channel * taps + ky * kernel + kx]
                                        var accumulated: Float = 0
                                        for oy in 0..<outputHeight {
                                            let iy = oy * stride + ky - pad.top
                                            guard iy >= 0, iy < inputHeight else { continue }
                                            let xRow = xBase + iy * inputWidth, yRow = yBase + oy * outputWidth
                                            for ox in 0..<outputWidth {
                                                let ix = ox * stride + kx - pad.left
                                                guard ix >= 0, ix < inputWidth else { continue }
                                                let g = dy[yRow + ox]
                                                accumulated += g * x[xRow + ix]
                                                dx[xRow + ix] += g * weight
                                            }
                                        }
                                        dw[channel * taps + ky * kernel + kx] += accumulated
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func denseBackward(_ outputGradient: FeatureMap, input: FeatureMap, pad: ResolvedPadding, weights: [Float],
                               weightGradient: inout [Float], inputGradient: inout FeatureMap) {
        let groupInputs = inputChannels / groups, groupOutputs = outputChannels / groups
        let outputPlane = outputGradient.height * outputGradient.width
        let patch = groupInputs * kernel * kernel
        let pointwise = kernel == 1 && stride == 1 && pad == ResolvedPadding(top: 0, left: 0, bottom: 0, right: 0)
        // Columns [patch, outputPlane] of one group; a 1 × 1 stride-1 layer uses the input and writes its
        // gradient in place, without columns.
        var columns = pointwise ? [] : [Float](repeating: 0, count: patch * outputPlane)
        var columnGradient = pointwise ? [] : [Float](repeating: 0, count: patch * outputPlane)
        for group in 0..<groups {
            if !pointwise {
                im2col(input, group: group, pad: pad, outputHeight: outputGradient.height, outputWidth: outputGradient.width,
                       into: &columns)
            }
            outputGradient.storage.withUnsafeBufferPointer { dy in
                input.storage.withUnsafeBufferPointer { x in
                    columns.withUnsafeBufferPointer { columns in
                        weights.withUnsafeBufferPointer { w in
                            weightGradient.withUnsafeMutableBufferPointer { dw in
                                columnGradient.withUnsafeMutableBufferPointer { dc in
                                    inputGradient.storage.withUnsafeMutableBufferPointer { dx in
                                        guard let dy = dy.baseAddress, let x = x.baseAddress, let w = w.baseAddress,
                                              let dw = dw.baseAddress, let dx = dx.baseAddress else { return }
                                        let source = pointwise ? x + group * groupInputs * outputPlane : columns.baseAddress
                                        let target = pointwise ? dx + group * groupInputs * outputPlane : dc.baseAddress
                                        guard let source, let target else { return }
                                        let dyGroup = dy + group * groupOutputs * outputPlane
                                        // dW_g += dY_g · columnsᵀ ; dColumns = W_gᵀ · dY_g.
                                        BLAS.gemm(transposeA: false, transposeB: true, m: groupOutputs, n: patch, k: outputPlane,
                                                  alpha: 1, a: dyGroup, lda: outputPlane, b: source, ldb: outputPlane, beta: 1,
                                                  c: dw + group * groupOutputs * patch, ldc: patch)
                                        BLAS.gemm(transposeA: true, transposeB: false, m: patch, n: outputPlane, k: groupOutputs,
                                                  alpha: 1, a: w + group * groupOutputs * patch, lda: patch, b: dyGroup,
                                                  ldb: outputPlane, beta: 0, c: target, ldc: outputPlane)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if !pointwise {
                col2im(columnGradient, into: &inputGradient, group: group, pad: pad, outputHeight: outputGradient.height,
                       outputWidth: outputGradient.width)
            }
        }
    }

    /// The output columns `ox` whose input column `ox · stride + offset` lies inside `0..<width`.
    private static func validColumns(offset: Int, stride: Int, width: Int, outputWidth: Int) -> Range<Int> {
        // ox · stride + offset ≥ 0  ⇔  ox ≥ ⌈−offset / stride⌉;  ox · stride + offset < width  ⇔  ox ≤ ⌊(width − 1 − offset) / stride⌋.
        let first = offset >= 0 ? 0 : (-offset + stride - 1) / stride
        let last = width - 1 - offset < 0 ? -1 : (width - 1 - offset) / stride
        return first..<max(first, min(outputWidth, last + 1))
    }

    private func im2col(_ input: FeatureMap, group: Int, pad: ResolvedPadding, outputHeight: Int, outputWidth: Int,
                        into columns: inout [Float]) {
        let groupInputs = inputChannels / groups, outputPlane = outputHeight * outputWidth
        let height = input.height, width = input.width, kernel = kernel, stride = stride
        input.storage.withUnsafeBufferPointer { x in
            columns.withUnsafeMutableBufferPointer { columns in
                guard let x = x.baseAddress, let columns = columns.baseAddress else { return }
                for channel in 0..<groupInputs {
                    let plane = x + (group * groupInputs + channel) * height * width
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            let row = columns + ((channel * kernel + ky) * kernel + kx) * outputPlane
                            let valid = Self.validColumns(offset: kx - pad.left, stride: stride, width: width, outputWidth: outputWidth)
                            for oy in 0..<outputHeight {
                                let target = row + oy * outputWidth
                                let iy = oy * stride + ky - pad.top
                                guard iy >= 0, iy < height, !valid.isEmpty else {
                                    target.update(repeating: 0, count: outputWidth)
                                    continue
                                }
                                if valid.lowerBound > 0 { target.update(repeating: 0, count: valid.lowerBound) }
                                if valid.upperBound < outputWidth {
                                    (target + valid.upperBound).update(repeating: 0, count: outputWidth - valid.upperBound)
                                }
                                let start = iy * width + kx - pad.left  // ≥ 0 at every valid ox
                                for ox in valid { target[ox] = plane[start + ox * stride] }
                            }
                        }
                    }
                }
            }
        }
    }

    private func col2im(_ columns: [Float], into gradient: inout FeatureMap, group: Int, pad: ResolvedPadding,
                        outputHeight: Int, outputWidth: Int) {
        let groupInputs = inputChannels / groups, outputPlane = outputHeight * outputWidth
        let height = gradient.height, width = gradient.width, kernel = kernel, stride = stride
        columns.withUnsafeBufferPointer { columns in
            gradient.storage.withUnsafeMutableBufferPointer { dx in
                guard let columns = columns.baseAddress, let dx = dx.baseAddress else { return }
                for channel in 0..<groupInputs {
                    let plane = dx + (group * groupInputs + channel) * height * width
                    for ky in 0..<kernel {
                        for kx in 0..<kernel {
                            let row = columns + ((channel * kernel + ky) * kernel + kx) * outputPlane
                            let valid = Self.validColumns(offset: kx - pad.left, stride: stride, width: width, outputWidth: outputWidth)
                            for oy in 0..<outputHeight {
                                let iy = oy * stride + ky - pad.top
                                guard iy >= 0, iy < height else { continue }
                                let source = row + oy * outputWidth
                                let start = iy * width + kx - pad.left  // ≥ 0 at every valid ox
                                for ox in valid { plane[start + ox * stride] += source[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}
