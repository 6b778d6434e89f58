import LandmarkTensor
import Testing

/// The fused inverted bottleneck against the same three layers run one after the other. Both take the
/// same AVX-512 kernels and sum every output in the same order, so they must agree to the bit, whatever
/// the band height (down to one row, which wraps the ring of expanded rows on every band) and the
/// number of threads. The layers themselves are checked against torch in `TensorOperationTests`, and
/// EfficientNet-Lite's descriptors, which run through the fused blocks, in `ReferenceEquivalenceTests`.
@Suite struct InvertedBottleneckTests {
    struct Shape: CustomTestStringConvertible, Sendable {
        var inputChannels: Int, expandedChannels: Int?, outputChannels: Int
        var kernel: Int, stride: Int, height: Int, width: Int
        var skip: Bool { stride == 1 && inputChannels == outputChannels }
        var testDescription: String {
            "\(inputChannels)→\(expandedChannels ?? inputChannels)→\(outputChannels) \(kernel)×\(kernel)/\(stride) @\(height)×\(width)"
        }
    }

    static let shapes: [Shape] = [
        Shape(inputChannels: 8, expandedChannels: 48, outputChannels: 8, kernel: 3, stride: 1, height: 23, width: 37),
        Shape(inputChannels: 16, expandedChannels: 96, outputChannels: 24, kernel: 3, stride: 2, height: 30, width: 41),
        Shape(inputChannels: 24, expandedChannels: 144, outputChannels: 40, kernel: 5, stride: 2, height: 33, width: 29),
        Shape(inputChannels: 20, expandedChannels: 120, outputChannels: 20, kernel: 5, stride: 1, height: 17, width: 70),
        Shape(inputChannels: 32, expandedChannels: nil, outputChannels: 16, kernel: 3, stride: 1, height: 20, width: 20),
        Shape(inputChannels: 12, expandedChannels: 72, outputChannels: 12, kernel: 5, stride: 1, height: 3, width: 5),
        Shape(inputChannels: 12, expandedChannels: 72, outputChannels: 16, kernel: 5, stride: 2, height: 2, width: 9),
        // Stride-2 rows wider than the depthwise kernel's stack buffers (512 outputs) take its other path.
        Shape(inputChannels: 8, expandedChannels: 16, outputChannels: 8, kernel: 3, stride: 2, height: 6, width: 1100),
    ]

    /// Seeded values in [−scale, scale).
    static func values(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0 ..< count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    static func block(_ shape: Shape) -> InvertedBottleneck {
        let expanded = shape.expandedChannels ?? shape.inputChannels
        let expand = shape.expandedChannels.map { channels in
            Convolution2D(weights: values(channels * shape.inputChannels, seed: 1, scale: 0.3), outputChannels: channels,
                          inputChannels: shape.inputChannels, kernelHeight: 1, kernelWidth: 1,
                          bias: values(channels, seed: 2, scale: 0.5))
        }
        let taps = shape.kernel * shape.kernel
        let depthwise = Convolution2D(weights: values(expanded * taps, seed: 3, scale: 0.4), outputChannels: expanded,
                                      inputChannels: expanded, kernelHeight: shape.kernel, kernelWidth: shape.kernel,
                                      bias: values(expanded, seed: 4, scale: 0.5), stride: shape.stride,
                                      padding: .tensorFlowSame, groups: expanded)
        let project = Convolution2D(weights: values(shape.outputChannels * expanded, seed: 5, scale: 0.2),
                                    outputChannels: shape.outputChannels, inputChannels: expanded, kernelHeight: 1,
                                    kernelWidth: 1, bias: values(shape.outputChannels, seed: 6, scale: 0.5))
        return InvertedBottleneck(expand: expand, depthwise: depthwise, project: project, hasSkip: shape.skip)
    }

    @Test(.enabled(if: TensorWorkspace.hasVectorKernels, "no AVX-512 here: blocks run layer by layer only"),
          arguments: shapes)
    func fusedBlockGivesTheLayersBits(_ shape: Shape) {
        let block = Self.block(shape)
        let input = FeatureMap(channels: shape.inputChannels, height: shape.height, width: shape.width,
                               storage: Self.values(shape.inputChannels * shape.height * shape.width, seed: 7, scale: 3))
        let layers = TensorWorkspace(parallelism: 1)
        let expanded = block.expand.map { $0(input, activation: .relu6, workspace: layers) } ?? input
        let filtered = block.depthwise(expanded, activation: .relu6, workspace: layers)
        let expected = block.project(filtered, adding: shape.skip ? input : nil, workspace: layers)
        #expect(expected.storage.contains { $0 != 0 } && expected.storage.allSatisfy(\.isFinite))
        for parallelism in [1, 2] {
            for bandLimit in [1, 1 << 12, TensorWorkspace().bottleneckBandLimit] {
                let workspace = TensorWorkspace(parallelism: parallelism)
                workspace.bottleneckBandLimit = bandLimit
                let output = block(input, workspace: workspace)
                #expect(output.channels == expected.channels && output.height == expected.height
                        && output.width == expected.width)
                #expect(output.storage == expected.storage, "parallelism \(parallelism), band limit \(bandLimit)")
            }
        }
    }

    /// Without the vector kernels the block runs layer by layer, within float rounding of the fused form.
    @Test(arguments: shapes)
    func portableBlockAgreesWithTheFusedOne(_ shape: Shape) {
        let block = Self.block(shape)
        let input = FeatureMap(channels: shape.inputChannels, height: shape.height, width: shape.width,
                               storage: Self.values(shape.inputChannels * shape.height * shape.width, seed: 8, scale: 3))
        let portable = TensorWorkspace(parallelism: 1)
        portable.vectorKernels = false
        let reference = block(input, workspace: portable)
        let fused = block(input, workspace: TensorWorkspace(parallelism: 2))
        #expect(reference.storage.count == fused.storage.count)
        let largest = zip(reference.storage, fused.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(largest <= 1e-4, "max |Δ| \(largest)")
    }
}
