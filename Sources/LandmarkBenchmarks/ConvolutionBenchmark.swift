import Foundation
@_spi(Benchmarks) import LandmarkLinearAlgebra
import LandmarkTensor

/// One convolution layer shape to time.
public struct ConvolutionBenchmarkShape: Sendable {
    public var name: String
    public var inputChannels: Int, outputChannels: Int
    public var inputHeight: Int, inputWidth: Int
    public var kernel: Int, stride: Int, groups: Int
    public var padding: Padding

    public init(name: String, inputChannels: Int, outputChannels: Int, inputHeight: Int, inputWidth: Int,
                kernel: Int, stride: Int = 1, groups: Int = 1, padding: Padding? = nil) {
        self.name = name
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernel = kernel
        self.stride = stride
        self.groups = groups
        self.padding = padding ?? .symmetric(kernel / 2)
    }

    /// The layers that dominate ResNet-101 at 1024 × 768 (stem, bottleneck 1 × 1 / 3 × 3 of stages
    /// 1–4) and EfficientNet-Lite's depthwise layers at 512 × 384.
    public static let resnetAndEfficientNet: [ConvolutionBenchmarkShape] = [
        .init(name: "stem 7×7/2 3→64 @1024×768", inputChannels: 3, outputChannels: 64, inputHeight: 1024,
              inputWidth: 768, kernel: 7, stride: 2),
        .init(name: "3×3 64→64 @256×192", inputChannels: 64, outputChannels: 64, inputHeight: 256, inputWidth: 192, kernel: 3),
        .init(name: "1×1 256→64 @256×192", inputChannels: 256, outputChannels: 64, inputHeight: 256, inputWidth: 192, kernel: 1),
        .init(name: "1×1 64→256 @256×192", inputChannels: 64, outputChannels: 256, inputHeight: 256, inputWidth: 192, kernel: 1),
        .init(name: "3×3/2 128→128 @256×192", inputChannels: 128, outputChannels: 128, inputHeight: 256, inputWidth: 192,
              kernel: 3, stride: 2),
        .init(name: "3×3 128→128 @128×96", inputChannels: 128, outputChannels: 128, inputHeight: 128, inputWidth: 96, kernel: 3),
        .init(name: "3×3 256→256 @64×48", inputChannels: 256, outputChannels: 256, inputHeight: 64, inputWidth: 48, kernel: 3),
        .init(name: "1×1 1024→256 @64×48", inputChannels: 1024, outputChannels: 256, inputHeight: 64, inputWidth: 48, kernel: 1),
        .init(name: "1×1 256→1024 @64×48", inputChannels: 256, outputChannels: 1024, inputHeight: 64, inputWidth: 48, kernel: 1),
        .init(name: "1×1/2 512→1024 @128×96", inputChannels: 512, outputChannels: 1024, inputHeight: 128, inputWidth: 96,
              kernel: 1, stride: 2),
        .init(name: "3×3 512→512 @32×24", inputChannels: 512, outputChannels: 512, inputHeight: 32, inputWidth: 24, kernel: 3),
        .init(name: "1×1 24→144 @128×96", inputChannels: 24, outputChannels: 144, inputHeight: 128, inputWidth: 96, kernel: 1),
        .init(name: "1×1 144→24 @128×96", inputChannels: 144, outputChannels: 24, inputHeight: 128, inputWidth: 96, kernel: 1),
        .init(name: "1×1 48→288 @64×48", inputChannels: 48, outputChannels: 288, inputHeight: 64, inputWidth: 48, kernel: 1),
        .init(name: "1×1 288→48 @64×48", inputChannels: 288, outputChannels: 48, inputHeight: 64, inputWidth: 48, kernel: 1),
        .init(name: "1×1 120→720 @32×24", inputChannels: 120, outputChannels: 720, inputHeight: 32, inputWidth: 24, kernel: 1),
        .init(name: "1×1 352→1280 @16×12", inputChannels: 352, outputChannels: 1280, inputHeight: 16, inputWidth: 12, kernel: 1),
        .init(name: "depthwise 3×3 144 @128×96", inputChannels: 144, outputChannels: 144, inputHeight: 128, inputWidth: 96,
              kernel: 3, groups: 144, padding: .tensorFlowSame),
        .init(name: "depthwise 5×5 240 @128×96", inputChannels: 240, outputChannels: 240, inputHeight: 128, inputWidth: 96,
              kernel: 5, groups: 240, padding: .tensorFlowSame),
        .init(name: "depthwise 3×3/2 144 @128×96", inputChannels: 144, outputChannels: 144, inputHeight: 128, inputWidth: 96,
              kernel: 3, stride: 2, groups: 144, padding: .tensorFlowSame),
    ]
}

/// The measured rate of one layer shape.
public struct ConvolutionBenchmarkResult: Sendable, CustomStringConvertible {
    public let shape: ConvolutionBenchmarkShape
    /// Multiply-adds × 2 of one call.
    public let floatingPointOperations: Double
    /// Best of the repetitions.
    public let seconds: Double
    /// BLAS threads, and engine threads (``TensorWorkspace/parallelism``).
    public let threadCount: Int, parallelism: Int
    /// sgemm's rate with the same thread count, the ceiling a product-based kernel can reach.
    public let sgemmGFLOPS: Double

    /// Direct-convolution operations per second: Winograd layers can exceed sgemm's rate.
    public var gflops: Double { floatingPointOperations / seconds / 1e9 }

    public var description: String {
        let name = shape.name.padding(toLength: 30, withPad: " ", startingAt: 0)
        return name + String(format: " %8.2f ms %7.1f GFLOP/s (%3.0f%% of sgemm %.1f); BLAS threads %d, parallelism %d",
               seconds * 1e3, gflops, 100 * gflops / sgemmGFLOPS, sgemmGFLOPS, threadCount, parallelism)
    }
}

public enum ConvolutionBenchmark {
    /// Times each shape (bias + ReLU fused, as in a network) with `threadCount` BLAS threads and
    /// `parallelism` engine threads (default: as many), keeping the best of `repetitions` calls after one warm-up call, and
    /// compares with sgemm at a ResNet-like size (256 × 12288 × 576) on as many threads. Dense 3 × 3
    /// layers use Winograd's 2 × 2 output tile when `winogradOutputTile` is 2, else the 4 × 4 one.
    public static func run(shapes: [ConvolutionBenchmarkShape] = ConvolutionBenchmarkShape.resnetAndEfficientNet,
                           threadCount: Int = ProcessInfo.processInfo.activeProcessorCount,
                           parallelism: Int? = nil, repetitions: Int = 3, im2colLimit: Int? = nil,
                           pointwiseTileLimit: Int? = nil, winograd: Bool = true,
                           winogradLimit: Int? = nil, vectorKernels: Bool? = nil,
                           winogradOutputTile: Int = 4) -> [ConvolutionBenchmarkResult] {
        let previousThreadCount = BLAS.threadCount
        defer { BLAS.setThreadCount(previousThreadCount) }
        let operands = MatrixProductOperands(m: 256, n: 12288, k: 576)
        var sgemm = 0.0
        for _ in 0 ..< max(1, repetitions) { sgemm = max(sgemm, operands.measureGFLOPS(threadCount: threadCount)) }
        BLAS.setThreadCount(threadCount)

        let workspace = TensorWorkspace(parallelism: parallelism ?? threadCount)
        if let im2colLimit { workspace.im2colLimit = im2colLimit }
        if let pointwiseTileLimit { workspace.pointwiseTileLimit = pointwiseTileLimit }
        if !winograd { workspace.winogradMinimumChannels = Int.max }
        if let winogradLimit { workspace.winogradLimit = winogradLimit }
        if let vectorKernels { workspace.vectorKernels = vectorKernels }
        return shapes.map { shape in
            let perGroup = shape.inputChannels / shape.groups
            let weights = randomMatrix(rows: shape.outputChannels, columns: perGroup * shape.kernel * shape.kernel, seed: 3)
            let layer = Convolution2D(weights: weights.storage.map { $0 * 0.05 }, outputChannels: shape.outputChannels,
                                      inputChannels: shape.inputChannels, kernelHeight: shape.kernel,
                                      kernelWidth: shape.kernel, bias: [Float](repeating: 0.01, count: shape.outputChannels),
                                      stride: shape.stride, padding: shape.padding, groups: shape.groups,
                                      winogradTile: winogradOutputTile == 2 ? .two : .four)
            let input = FeatureMap(
                channels: shape.inputChannels, height: shape.inputHeight, width: shape.inputWidth,
                storage: randomMatrix(rows: shape.inputChannels, columns: shape.inputHeight * shape.inputWidth, seed: 4).storage)
            let size = layer.outputSize(height: shape.inputHeight, width: shape.inputWidth)
            let operations = 2 * Double(shape.outputChannels * size.height * size.width * perGroup * shape.kernel * shape.kernel)
            var best = Double.infinity
            for repetition in 0 ... max(1, repetitions) {
                var output: FeatureMap?
                let seconds = measure { output = layer(input, activation: .relu, workspace: workspace) }
                if let output { workspace.recycle(output) }
                if repetition > 0 { best = min(best, seconds) }
            }
            return ConvolutionBenchmarkResult(shape: shape, floatingPointOperations: operations, seconds: best,
                                              threadCount: threadCount, parallelism: workspace.parallelism,
                                              sgemmGFLOPS: sgemm)
        }
    }
}

/// One EfficientNet-Lite inverted bottleneck to time, fused and layer by layer.
public struct InvertedBottleneckBenchmarkShape: Sendable {
    public var name: String
    public var inputChannels: Int, expandedChannels: Int, outputChannels: Int
    public var inputHeight: Int, inputWidth: Int
    public var kernel: Int, stride: Int

    public init(name: String, inputChannels: Int, expandedChannels: Int, outputChannels: Int, inputHeight: Int,
                inputWidth: Int, kernel: Int, stride: Int) {
        self.name = name
        self.inputChannels = inputChannels
        self.expandedChannels = expandedChannels
        self.outputChannels = outputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.kernel = kernel
        self.stride = stride
    }

    /// EfficientNet-Lite2's blocks at 512 × 384 where its maps are largest.
    public static let lite2: [InvertedBottleneckBenchmarkShape] = [
        .init(name: "block 24→144→24 3×3 @128×96", inputChannels: 24, expandedChannels: 144, outputChannels: 24,
              inputHeight: 128, inputWidth: 96, kernel: 3, stride: 1),
        .init(name: "block 24→144→48 5×5/2 @128×96", inputChannels: 24, expandedChannels: 144, outputChannels: 48,
              inputHeight: 128, inputWidth: 96, kernel: 5, stride: 2),
        .init(name: "block 48→288→48 5×5 @64×48", inputChannels: 48, expandedChannels: 288, outputChannels: 48,
              inputHeight: 64, inputWidth: 48, kernel: 5, stride: 1),
        .init(name: "block 120→720→120 5×5 @32×24", inputChannels: 120, expandedChannels: 720, outputChannels: 120,
              inputHeight: 32, inputWidth: 24, kernel: 5, stride: 1),
    ]
}

/// A block's time fused (band by band) and run as three separate layers.
public struct InvertedBottleneckBenchmarkResult: Sendable, CustomStringConvertible {
    public let shape: InvertedBottleneckBenchmarkShape
    /// Best of the repetitions.
    public let fusedSeconds: Double, layerSeconds: Double
    public let parallelism: Int

    public var description: String {
        let name = shape.name.padding(toLength: 30, withPad: " ", startingAt: 0)
        return name + String(format: " %8.2f ms fused, %8.2f ms layer by layer (%.2fx); parallelism %d",
                             fusedSeconds * 1e3, layerSeconds * 1e3, layerSeconds / fusedSeconds, parallelism)
    }
}

extension ConvolutionBenchmark {
    /// Times each block with ReLU6 after the expansion and the depthwise layer, as EfficientNet-Lite runs
    /// it: fused where the AVX-512 kernels run, and as its three layers one after the other (the way
    /// blocks ran before fusion) on the same kernels. Best of `repetitions` calls after a warm-up.
    public static func runBlocks(shapes: [InvertedBottleneckBenchmarkShape] = InvertedBottleneckBenchmarkShape.lite2,
                                 parallelism: Int = ProcessInfo.processInfo.activeProcessorCount,
                                 repetitions: Int = 3, vectorKernels: Bool? = nil) -> [InvertedBottleneckBenchmarkResult] {
        let workspace = TensorWorkspace(parallelism: parallelism)
        if let vectorKernels { workspace.vectorKernels = vectorKernels }
        return shapes.map { shape in
            func layer(_ input: Int, _ output: Int, kernel: Int, stride: Int, groups: Int, seed: UInt64) -> Convolution2D {
                let weights = randomMatrix(rows: output, columns: input / groups * kernel * kernel, seed: seed)
                return Convolution2D(weights: weights.storage.map { $0 * 0.1 }, outputChannels: output, inputChannels: input,
                                     kernelHeight: kernel, kernelWidth: kernel, bias: [Float](repeating: 0.01, count: output),
                                     stride: stride, padding: kernel == 1 ? .symmetric(0) : .tensorFlowSame, groups: groups)
            }
            let block = InvertedBottleneck(
                expand: layer(shape.inputChannels, shape.expandedChannels, kernel: 1, stride: 1, groups: 1, seed: 5),
                depthwise: layer(shape.expandedChannels, shape.expandedChannels, kernel: shape.kernel, stride: shape.stride,
                                 groups: shape.expandedChannels, seed: 6),
                project: layer(shape.expandedChannels, shape.outputChannels, kernel: 1, stride: 1, groups: 1, seed: 7),
                hasSkip: shape.stride == 1 && shape.inputChannels == shape.outputChannels)
            let input = FeatureMap(
                channels: shape.inputChannels, height: shape.inputHeight, width: shape.inputWidth,
                storage: randomMatrix(rows: shape.inputChannels, columns: shape.inputHeight * shape.inputWidth, seed: 4).storage)
            func best(_ body: () -> FeatureMap) -> Double {
                var best = Double.infinity
                for repetition in 0 ... max(1, repetitions) {
                    var output: FeatureMap?
                    let seconds = measure { output = body() }
                    if let output { workspace.recycle(output) }
                    if repetition > 0 { best = min(best, seconds) }
                }
                return best
            }
            let fused = best { block(input, workspace: workspace) }
            let layers = best { block.layerByLayer(input, workspace: workspace) }
            return InvertedBottleneckBenchmarkResult(shape: shape, fusedSeconds: fused, layerSeconds: layers,
                                                     parallelism: workspace.parallelism)
        }
    }
}
