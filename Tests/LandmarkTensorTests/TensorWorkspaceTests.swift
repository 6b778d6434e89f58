import Foundation
import LandmarkTensor
import Testing

private func ramp(channels: Int, height: Int, width: Int, seed: Float) -> FeatureMap {
    let count = channels * height * width
    return FeatureMap(channels: channels, height: height, width: width,
                      storage: (0 ..< count).map { sin(Float($0) * 0.37 + seed) })
}

private let layer = Convolution2D(
    weights: (0 ..< 8 * 4 * 9).map { cos(Float($0) * 0.11) * 0.2 }, outputChannels: 8, inputChannels: 4,
    kernelHeight: 3, kernelWidth: 3, bias: (0 ..< 8).map { Float($0) * 0.01 }, padding: .symmetric(1))

@Test func repeatedCallsThroughOneWorkspaceGiveIdenticalResults() {
    let workspace = TensorWorkspace()
    let input = ramp(channels: 4, height: 9, width: 7, seed: 0)
    let first = layer(input, activation: .relu, workspace: workspace)
    for _ in 0 ..< 3 {
        let again = layer(input, activation: .relu, workspace: workspace)
        #expect(again == first)
        workspace.recycle(again)
    }
    #expect(workspace.pooledBufferCount == 1)
}

@Test func recycledStorageIsReusedWithoutAllocating() {
    let workspace = TensorWorkspace()
    let input = ramp(channels: 4, height: 9, width: 7, seed: 1)
    var output = layer(input, workspace: workspace)
    let address = output.storage.withUnsafeBufferPointer { $0.baseAddress }
    workspace.recycle(output)
    output = FeatureMap(channels: 0, height: 0, width: 0)
    let reused = layer(input, workspace: workspace)
    #expect(reused.storage.withUnsafeBufferPointer { $0.baseAddress } == address)
    #expect(workspace.pooledBufferCount == 0)
    // A smaller map fits in the same storage.
    workspace.recycle(reused)
    let smaller = layer(ramp(channels: 4, height: 5, width: 5, seed: 2), workspace: workspace)
    #expect(smaller.storage.count == 8 * 25)
    #expect(workspace.pooledBufferCount == 0)
}

@Test func recyclingALiveMapDoesNotCorruptIt() {
    let workspace = TensorWorkspace()
    let input = ramp(channels: 4, height: 9, width: 7, seed: 3)
    let live = layer(input, workspace: workspace)
    let snapshot = live.storage
    // Misuse: hand back a map that is still in use, then run other layers into the pool.
    workspace.recycle(live)
    let other = layer(ramp(channels: 4, height: 9, width: 7, seed: 4), activation: .relu6, workspace: workspace)
    let pooled = MaxPooling2D(kernel: 2, stride: 2)(other, workspace: workspace)
    #expect(live.storage == snapshot)
    #expect(other != live)
    #expect(pooled.height == 4)
}

@Test func residualIsAddedBeforeTheActivation() {
    let workspace = TensorWorkspace()
    let identity = Convolution2D(weights: [1], outputChannels: 1, inputChannels: 1, kernelHeight: 1, kernelWidth: 1,
                                 bias: [0.5])
    let input = FeatureMap(channels: 1, height: 1, width: 3, storage: [-2, 1, 7])
    let residual = FeatureMap(channels: 1, height: 1, width: 3, storage: [1, -3, 0])
    #expect(identity(input, activation: .relu, adding: residual, workspace: workspace).storage == [0, 0, 7.5])
    #expect(identity(input, activation: .relu6, adding: residual, workspace: workspace).storage == [0, 0, 6])
    #expect(identity(input, adding: residual, workspace: workspace).storage == [-0.5, -1.5, 7.5])
}

/// A small residual network run twice on the same size: the second pass takes every output
/// buffer from the pool.
@Test func steadyStateNetworkPassAllocatesNothing() {
    let workspace = TensorWorkspace()
    let stem = Convolution2D(weights: (0 ..< 8 * 3 * 9).map { sin(Float($0)) * 0.3 }, outputChannels: 8,
                             inputChannels: 3, kernelHeight: 3, kernelWidth: 3, bias: nil, stride: 2,
                             padding: .tensorFlowSame)
    let expand = Convolution2D(weights: (0 ..< 16 * 8).map { cos(Float($0)) * 0.3 }, outputChannels: 16,
                               inputChannels: 8, kernelHeight: 1, kernelWidth: 1, bias: nil)
    let depthwise = Convolution2D(weights: (0 ..< 16 * 25).map { sin(Float($0) * 0.7) * 0.2 }, outputChannels: 16,
                                  inputChannels: 16, kernelHeight: 5, kernelWidth: 5, bias: nil,
                                  padding: .tensorFlowSame, groups: 16)
    let project = Convolution2D(weights: (0 ..< 8 * 16).map { cos(Float($0) * 0.3) * 0.3 }, outputChannels: 8,
                                inputChannels: 16, kernelHeight: 1, kernelWidth: 1, bias: nil)
    let image = ramp(channels: 3, height: 31, width: 23, seed: 5)
    func forward() -> [Float] {
        let x = stem(image, activation: .relu6, workspace: workspace)
        let expanded = expand(x, activation: .relu6, workspace: workspace)
        let filtered = depthwise(expanded, activation: .relu6, workspace: workspace)
        workspace.recycle(expanded)
        let projected = project(filtered, adding: x, workspace: workspace)
        workspace.recycle(filtered)
        workspace.recycle(x)
        let pooled = MaxPooling2D(kernel: 3, stride: 2, padding: .symmetric(1))(projected, workspace: workspace)
        workspace.recycle(projected)
        defer { workspace.recycle(pooled) }
        return globalAveragePool(pooled)
    }
    let first = forward()
    let allocations = workspace.allocatedBufferCount
    #expect(allocations > 0)
    let second = forward()
    #expect(second == first)
    #expect(workspace.allocatedBufferCount == allocations)
}
