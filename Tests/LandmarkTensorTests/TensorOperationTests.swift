import Foundation
@_spi(Benchmarks) import LandmarkLinearAlgebra
import LandmarkTensor
import Testing

/// Largest difference from torch tolerated; float32 products in a different order.
let torchTolerance: Float = 1e-4

func fixtures() throws -> TorchFixtures { try TorchFixtures.shared.get() }

extension Convolution2D {
    /// The fixture's layer, with its batch norm folded in.
    init?(fixture: TorchFixtures.Case, in set: TorchFixtures, winogradTile: WinogradTile = .four) {
        guard let weights = set.array("weight", of: fixture),
              let inputChannels = fixture.ints["inputChannels"], let outputChannels = fixture.ints["outputChannels"],
              let kernel = fixture.ints["kernel"], let stride = fixture.ints["stride"],
              let dilation = fixture.ints["dilation"], let groups = fixture.ints["groups"]
        else { return nil }
        let padding: Padding = fixture.strings["padding"] == "same" ? .tensorFlowSame : .symmetric(fixture.ints["pad"] ?? -1)
        var layer = Convolution2D(weights: weights, outputChannels: outputChannels, inputChannels: inputChannels,
                                  kernelHeight: kernel, kernelWidth: kernel, bias: set.array("bias", of: fixture),
                                  stride: stride, padding: padding, dilation: dilation, groups: groups,
                                  winogradTile: winogradTile)
        if let epsilon = fixture.floats["epsilon"] {
            guard let scale = set.array("bnScale", of: fixture), let shift = set.array("bnShift", of: fixture),
                  let mean = set.array("bnMean", of: fixture), let variance = set.array("bnVariance", of: fixture)
            else { return nil }
            layer = layer.foldingBatchNorm(scale: scale, shift: shift, mean: mean, variance: variance,
                                           epsilon: Float(epsilon))
        }
        self = layer
    }
}

func activation(of fixture: TorchFixtures.Case) -> Activation {
    switch fixture.strings["activation"] {
    case "relu": .relu
    case "relu6": .relu6
    default: .identity
    }
}

/// Runs every convolution case through `workspace` and checks it against torch.
func checkConvolutions(workspace: TensorWorkspace, winogradTile: WinogradTile = .four) throws {
    let set = try fixtures()
    let cases = set.cases("convolution")
    #expect(cases.count >= 30)
    for fixture in cases {
        let layer = try #require(Convolution2D(fixture: fixture, in: set, winogradTile: winogradTile), "\(fixture.name)")
        let input = try #require(set.map("input", of: fixture))
        let expected = try #require(set.map("output", of: fixture))
        let output = layer(input, activation: activation(of: fixture), adding: set.map("residual", of: fixture),
                           workspace: workspace)
        let size = layer.outputSize(height: input.height, width: input.width)
        #expect(size.height == expected.height && size.width == expected.width, "\(fixture.name)")
        #expect(output.channels == expected.channels && output.height == expected.height
            && output.width == expected.width, "\(fixture.name)")
        let difference = maxAbsoluteDifference(output.storage, expected.storage)
        #expect(difference <= torchTolerance, "\(fixture.name): max |Δ| = \(difference)")
        workspace.recycle(output)
    }
}

@Test func convolutionsMatchTorch() throws {
    try checkConvolutions(workspace: TensorWorkspace())
}

/// The portable paths of processors without AVX-512 (sgemm and a separate epilogue for 1 × 1 layers,
/// Swift loops for depthwise ones, Winograd's transforms one tile at a time).
@Test func portableKernelsMatchTorch() throws {
    let workspace = TensorWorkspace()
    workspace.vectorKernels = false
    try checkConvolutions(workspace: workspace)
}

/// These tests switch the process-wide BLAS thread count, which selects the threading path, so
/// they run one at a time.
@Suite(.serialized) struct ThreadingPathTests {
    /// Tiny im2col tiles (one output row at a time) and two threads take the other code paths:
    /// parallel unfolding with a multi-threaded BLAS, parallel tiles with a single-threaded one.
    @Test func convolutionsMatchTorchWithRowTilesAndThreads() throws {
        let workspace = TensorWorkspace(parallelism: 2)
        workspace.im2colLimit = 1
        workspace.pointwiseTileLimit = 1
        workspace.minimumTileColumns = 1
        try checkConvolutions(workspace: workspace)
        let previous = BLAS.threadCount
        defer { BLAS.setThreadCount(previous) }
        for blasThreads in [1, 2] {
            BLAS.setThreadCount(blasThreads)
            try checkConvolutions(workspace: workspace)
        }
    }

    /// Every dense 3 × 3 stride-1 case through Winograd, both tiles: whole maps and one tile row
    /// per band; transforms shared by two threads (2-thread BLAS) or bands on two threads (1-thread BLAS).
    @Test func winogradConvolutionsMatchTorch() throws {
        let set = try fixtures()
        let eligible = set.cases("convolution").compactMap { Convolution2D(fixture: $0, in: set) }.filter(\.supportsWinograd)
        #expect(eligible.count >= 5)
        let workspace = TensorWorkspace(parallelism: 2)
        workspace.winogradMinimumChannels = 1
        let previous = BLAS.threadCount
        defer { BLAS.setThreadCount(previous) }
        for blasThreads in [2, 1] {
            BLAS.setThreadCount(blasThreads)
            for tile in WinogradTile.allCases {
                workspace.winogradLimit = 1 << 21
                workspace.minimumTileColumns = 1024
                try checkConvolutions(workspace: workspace, winogradTile: tile)
                workspace.winogradLimit = 1
                workspace.minimumTileColumns = 1
                try checkConvolutions(workspace: workspace, winogradTile: tile)
            }
        }
    }

    /// F(4 × 4, 3 × 3)'s transforms one tile at a time: the path of processors without AVX-512.
    @Test func winogradScalarTransformsMatchTorch() throws {
        let previous = BLAS.threadCount
        defer { BLAS.setThreadCount(previous) }
        BLAS.setThreadCount(1)
        let scalar = TensorWorkspace(parallelism: 1)
        scalar.winogradMinimumChannels = 1
        scalar.vectorKernels = false
        try checkConvolutions(workspace: scalar, winogradTile: .four)
    }

    /// Sixteen tiles per vector give the same bits as one tile at a time, ragged edges included.
    @Test(.enabled(if: TensorWorkspace.hasVectorKernels, "no AVX-512 here: only the one-tile path runs"))
    func winogradScalarAndVectorTransformsAgree() throws {
        let set = try fixtures()
        let eligible = set.cases("convolution").filter { Convolution2D(fixture: $0, in: set)?.supportsWinograd == true }
        #expect(eligible.contains { ($0.ints["width"] ?? 0) >= 64 }, "no case wide enough for a full vector block")
        let scalar = TensorWorkspace(parallelism: 1)
        scalar.winogradMinimumChannels = 1
        scalar.vectorKernels = false
        let vector = TensorWorkspace(parallelism: 1)
        vector.winogradMinimumChannels = 1
        for fixture in eligible {
            let layer = try #require(Convolution2D(fixture: fixture, in: set, winogradTile: .four))
            let input = try #require(set.map("input", of: fixture))
            let one = layer(input, activation: activation(of: fixture), adding: set.map("residual", of: fixture),
                            workspace: scalar)
            let sixteen = layer(input, activation: activation(of: fixture), adding: set.map("residual", of: fixture),
                                workspace: vector)
            #expect(one.storage == sixteen.storage, "\(fixture.name)")
        }
    }
}

@Test func poolingMatchesTorch() throws {
    let set = try fixtures()
    let cases = set.cases("maxPooling") + set.cases("averagePooling")
    #expect(cases.count == 9)
    for parallelism in [1, 2] {
        let workspace = TensorWorkspace(parallelism: parallelism)
        for fixture in cases {
            let input = try #require(set.map("input", of: fixture))
            let expected = try #require(set.map("output", of: fixture))
            let kernel = try #require(fixture.ints["kernel"]), stride = try #require(fixture.ints["stride"])
            let padding = Padding.symmetric(try #require(fixture.ints["pad"]))
            let ceilMode = fixture.ints["ceilMode"] == 1
            let output: FeatureMap
            if fixture.kind == "maxPooling" {
                let pool = MaxPooling2D(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
                #expect(pool.outputSize(height: input.height, width: input.width) == (expected.height, expected.width))
                output = pool(input, workspace: workspace)
            } else {
                let pool = AveragePooling2D(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
                                            countIncludePad: fixture.ints["countIncludePad"] == 1)
                output = pool(input, workspace: workspace)
            }
            #expect(output.height == expected.height && output.width == expected.width, "\(fixture.name)")
            let difference = maxAbsoluteDifference(output.storage, expected.storage)
            #expect(difference <= torchTolerance, "\(fixture.name): max |Δ| = \(difference)")
        }
    }
}

@Test func globalAverageAndLinearMatchTorch() throws {
    let set = try fixtures()
    let global = try #require(set.cases("globalAverage").first)
    let pooled = globalAveragePool(try #require(set.map("input", of: global)))
    #expect(maxAbsoluteDifference(pooled, try #require(set.array("output", of: global))) <= torchTolerance)

    let linearCases = set.cases("linear")
    #expect(linearCases.count == 2)
    for fixture in linearCases {
        let layer = Linear(weights: try #require(set.array("weight", of: fixture)),
                           outputCount: try #require(fixture.ints["outputCount"]),
                           inputCount: try #require(fixture.ints["inputCount"]), bias: set.array("bias", of: fixture))
        let output = layer(try #require(set.array("input", of: fixture)))
        let difference = maxAbsoluteDifference(output, try #require(set.array("output", of: fixture)))
        #expect(difference <= torchTolerance, "\(fixture.name): max |Δ| = \(difference)")
    }
}

@Test func bilinearResizeMatchesTorch() throws {
    let set = try fixtures()
    let cases = set.cases("bilinearResize")
    #expect(cases.count == 6)
    let workspace = TensorWorkspace()
    for fixture in cases {
        let input = try #require(set.map("input", of: fixture))
        let expected = try #require(set.map("output", of: fixture))
        let scale = try #require(fixture.floats["scale"])
        for output in [bilinearResize(input, scaleFactor: scale),
                       bilinearResize(input, scaleFactor: scale, workspace: workspace)] {
            #expect(output.height == expected.height && output.width == expected.width, "\(fixture.name)")
            let difference = maxAbsoluteDifference(output.storage, expected.storage)
            #expect(difference <= torchTolerance, "\(fixture.name): max |Δ| = \(difference)")
        }
    }
}

@Test func tensorFlowSamePaddingSplitsExtraToBottomRight() {
    // in 12, k 3, s 2: ceil(12/2) = 6 outputs need (6−1)·2 + 3 − 12 = 1 padding, all at the end.
    #expect(Padding.tensorFlowSame.resolve(inputHeight: 12, inputWidth: 13, kernelHeight: 3, kernelWidth: 3,
                                           stride: 2, dilation: 1) == ResolvedPadding(top: 0, left: 1, bottom: 1, right: 1))
    // in 13, k 5, s 1: 4 in total, split evenly.
    #expect(Padding.tensorFlowSame.resolve(inputHeight: 13, inputWidth: 13, kernelHeight: 5, kernelWidth: 5,
                                           stride: 1, dilation: 1) == ResolvedPadding(top: 2, left: 2, bottom: 2, right: 2))
    #expect(Padding.symmetric(3) == .explicit(top: 3, left: 3, bottom: 3, right: 3))
}
