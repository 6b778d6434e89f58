import Foundation
@_spi(Benchmarks) import LandmarkLinearAlgebra
import LandmarkTensor

/// A whole ResNet-101 trunk (torchvision layout, batch norm folded) with random weights, timed end
/// to end through one ``TensorWorkspace``: the figure the speed target of issue 3 is about, and a
/// check that steady-state extraction allocates nothing per layer.
public struct ConvolutionNetworkBenchmarkResult: Sendable, CustomStringConvertible {
    public let height: Int, width: Int
    public let threadCount: Int, parallelism: Int
    public let winograd: Bool
    /// Best of the timed passes (after one warm-up pass).
    /// GFLOP/s figures count direct-convolution operations, so Winograd layers show above sgemm's rate.
    public let seconds: Double
    public let floatingPointOperations: Double
    /// Buffers waiting in the workspace pool after the last pass: constant from pass to pass when
    /// storage is reused.
    public let pooledBuffers: Int
    /// Output buffers the workspace had to allocate during the timed passes (0 in steady state).
    public let allocationsAfterWarmUp: Int

    public var description: String {
        String(format: "ResNet-101 trunk %d×%d: %.3f s (%.1f GFLOP, %.1f GFLOP/s) with %d BLAS thread(s), "
               + "parallelism %d, Winograd %@; %d buffer allocations after warm-up", height, width, seconds,
               floatingPointOperations / 1e9, floatingPointOperations / seconds / 1e9, threadCount, parallelism,
               winograd ? "on" : "off", allocationsAfterWarmUp)
    }
}

public enum ConvolutionNetworkBenchmark {
    public static func runResNet101(height: Int = 1024, width: Int = 768,
                                    threadCount: Int = ProcessInfo.processInfo.activeProcessorCount,
                                    parallelism: Int? = nil, winograd: Bool = true,
                                    repetitions: Int = 2) -> ConvolutionNetworkBenchmarkResult {
        let previousThreadCount = BLAS.threadCount
        defer { BLAS.setThreadCount(previousThreadCount) }
        BLAS.setThreadCount(threadCount)
        let network = ResidualTrunk(blocksPerStage: [3, 4, 23, 3])
        let workspace = TensorWorkspace(parallelism: parallelism ?? threadCount)
        if !winograd { workspace.winogradMinimumChannels = Int.max }
        let image = FeatureMap(channels: 3, height: height, width: width,
                               storage: randomMatrix(rows: 3, columns: height * width, seed: 7).storage)
        var best = Double.infinity
        var operations = 0.0
        var allocationsAfterWarmUp = 0
        for pass in 0 ... max(1, repetitions) {
            if pass == 1 { allocationsAfterWarmUp = -workspace.allocatedBufferCount }
            var output: FeatureMap?
            var counted = 0.0
            let seconds = measure { output = network.forward(image, workspace: workspace, operations: &counted) }
            if let output { workspace.recycle(output) }
            operations = counted
            if pass > 0 { best = min(best, seconds) }
        }
        allocationsAfterWarmUp += workspace.allocatedBufferCount
        return ConvolutionNetworkBenchmarkResult(height: height, width: width, threadCount: threadCount,
                                                 parallelism: workspace.parallelism, winograd: winograd, seconds: best,
                                                 floatingPointOperations: operations,
                                                 pooledBuffers: workspace.pooledBufferCount,
                                                 allocationsAfterWarmUp: allocationsAfterWarmUp)
    }
}

/// torchvision's ResNet bottleneck trunk (stride on the 3 × 3 convolution) with random weights.
struct ResidualTrunk {
    struct Bottleneck {
        let reduce: Convolution2D, spatial: Convolution2D, expand: Convolution2D
        let downsample: Convolution2D?
    }

    let stem: Convolution2D
    let blocks: [Bottleneck]

    init(blocksPerStage: [Int]) {
        var seed: UInt64 = 11
        func layer(_ input: Int, _ output: Int, kernel: Int, stride: Int = 1) -> Convolution2D {
            seed += 1
            let weights = randomMatrix(rows: output, columns: input * kernel * kernel, seed: seed).storage
            let scale = (2 / Float(input * kernel * kernel)).squareRoot()
            return Convolution2D(weights: weights.map { $0 * scale }, outputChannels: output, inputChannels: input,
                                 kernelHeight: kernel, kernelWidth: kernel, bias: [Float](repeating: 0.01, count: output),
                                 stride: stride, padding: .symmetric(kernel / 2))
        }
        let stem = layer(3, 64, kernel: 7, stride: 2)
        var blocks: [Bottleneck] = []
        var channels = 64
        for (stage, count) in blocksPerStage.enumerated() {
            let width = 64 << stage
            for index in 0 ..< count {
                let stride = index == 0 && stage > 0 ? 2 : 1
                let downsample = index == 0 ? layer(channels, width * 4, kernel: 1, stride: stride) : nil
                blocks.append(Bottleneck(reduce: layer(channels, width, kernel: 1),
                                         spatial: layer(width, width, kernel: 3, stride: stride),
                                         expand: layer(width, width * 4, kernel: 1), downsample: downsample))
                channels = width * 4
            }
        }
        self.stem = stem
        self.blocks = blocks
    }

    func forward(_ image: FeatureMap, workspace: TensorWorkspace, operations: inout Double) -> FeatureMap {
        func run(_ layer: Convolution2D, _ input: FeatureMap, _ activation: Activation,
                 adding residual: FeatureMap? = nil) -> FeatureMap {
            let size = layer.outputSize(height: input.height, width: input.width)
            operations += 2 * Double(layer.outputChannels * size.height * size.width * layer.inputChannels
                * layer.kernelHeight * layer.kernelWidth)
            return layer(input, activation: activation, adding: residual, workspace: workspace)
        }
        let stemOutput = run(stem, image, .relu)
        var x = MaxPooling2D(kernel: 3, stride: 2, padding: .symmetric(1))(stemOutput, workspace: workspace)
        workspace.recycle(stemOutput)
        for block in blocks {
            let reduced = run(block.reduce, x, .relu)
            let spatial = run(block.spatial, reduced, .relu)
            workspace.recycle(reduced)
            let identity = block.downsample.map { run($0, x, .identity) } ?? x
            let output = run(block.expand, spatial, .relu, adding: identity)
            workspace.recycle(spatial)
            if block.downsample != nil { workspace.recycle(identity) }
            workspace.recycle(x)
            x = output
        }
        return x
    }
}
