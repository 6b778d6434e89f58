import Foundation
import LandmarkCheckpoint
import LandmarkImage
import LandmarkLinearAlgebra
import LandmarkNetworks
import LandmarkTensor

/// A CNN global descriptor (METHODS.md §2), computed as the reference implementation (cirtorch) does:
/// features → pool → L2N → [in-network whitening → L2N], per scale; scales combined by a generalised mean
/// (exponent = GeM's p when pooling is GeM without in-network whitening, else 1) → L2N; then optional
/// learned or PCA whitening → L2N.
///
/// Safe to call from several threads at once: each call borrows its own `TensorWorkspace`.
public struct CNNGlobalDescriptor: GlobalDescriptorExtractor {
    public let configuration: CNNDescriptorConfiguration
    public let backbone: any ConvolutionalBackbone
    public let pooling: GlobalPooling
    public let networkWhitening: Linear?
    public let whitening: Whitening?
    public let mean: [Float]
    public let standardDeviation: [Float]
    private let workspaces = WorkspacePool()

    /// The canonical spec, with the pooling resolved, so that the index and its queries agree.
    public var name: String { configuration.name }
    public var inputSize: Int { configuration.size }

    public var dimension: Int {
        if let dimensions = configuration.dimensions { return dimensions }
        if let whitening { return whitening.projection.rows }
        if let networkWhitening { return networkWhitening.outputCount }
        return backbone.outputChannels
    }

    /// Loads the weights (and whitening) a configuration names.
    public init(_ requested: CNNDescriptorConfiguration) throws(DescriptorError) {
        var configuration = requested
        let (url, architecture) = try ModelCache.resolve(configuration.model)
        if ModelCache.namedModels[configuration.model.lowercased()] == nil {
            configuration.model = url.standardizedFileURL.path
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(contentsOf: url)
        } catch {
            throw DescriptorError(code: .modelNotFound, reason: "\(url.path): \(error.reason)")
        }
        try self.init(configuration, checkpoint: checkpoint, architecture: architecture)
    }

    /// Builds the descriptor from weights already in memory (`configuration.model` is then only a label).
    public init(_ requested: CNNDescriptorConfiguration, checkpoint: Checkpoint,
                architecture: String? = nil) throws(DescriptorError) {
        var configuration = requested
        let url = URL(fileURLWithPath: checkpoint.file)
        let backbone: any ConvolutionalBackbone
        do {
            backbone = try NetworkLoader.backbone(from: checkpoint, architecture: architecture)
        } catch {
            throw DescriptorError(code: .invalidConfiguration, reason: "\(url.path): \(error.reason)")
        }
        let head: RetrievalHead
        do {
            head = try NetworkLoader.retrievalHead(from: checkpoint)
        } catch {
            throw DescriptorError(code: .invalidConfiguration, reason: "\(url.path): \(error.reason)")
        }
        guard !head.regional else {
            throw DescriptorError(code: .invalidConfiguration,
                                  reason: "\(url.path): regional pooling (cirtorch 'regional') is not supported; use --pooling to choose a global one")
        }
        if configuration.pooling == nil {
            guard let pooling = GlobalPooling(name: head.pooling, p: head.gemP) else {
                throw DescriptorError(code: .invalidConfiguration,
                                      reason: "\(url.path): unknown pooling '\(head.pooling)' in the checkpoint; choose one with --pooling")
            }
            configuration.pooling = pooling
        }
        let pooling = configuration.pooling ?? .gem(p: 3)
        var whitening: Whitening?
        if let path = configuration.whitening {
            let whiteningURL = URL(fileURLWithPath: path)
            configuration.whitening = whiteningURL.standardizedFileURL.path
            do {
                whitening = try Whitening.load(contentsOf: whiteningURL)
            } catch {
                throw DescriptorError(code: .invalidConfiguration, reason: error.description)
            }
            let rawDimension = head.whitening?.outputCount ?? backbone.outputChannels
            guard let loaded = whitening, loaded.mean.count == rawDimension else {
                throw DescriptorError(code: .invalidConfiguration,
                                      reason: "\(path) whitens \(whitening?.mean.count ?? 0)-D descriptors but this network gives \(rawDimension)-D")
            }
            if let dimensions = configuration.dimensions, dimensions > loaded.projection.rows {
                throw DescriptorError(code: .invalidConfiguration,
                                      reason: "cannot keep \(dimensions) dimensions of a \(loaded.projection.rows)-D whitening")
            }
        } else if configuration.dimensions != nil {
            throw DescriptorError(code: .invalidConfiguration, reason: "dimensions need a whitening file (PCA reduction)")
        }
        self.configuration = configuration
        self.backbone = backbone
        self.pooling = pooling
        self.networkWhitening = head.whitening
        self.whitening = whitening
        self.mean = head.mean
        self.standardDeviation = head.std
    }

    public func describe(_ image: RGBImage) throws(DescriptorError) -> [Float] {
        try describe(image, threads: 1)
    }

    /// With `threads` > 1 every layer's product tiles (or Winograd bands) are split over the tensor
    /// engine's own threads, each calling the single-threaded BLAS: this is the fast path for one image
    /// (ResNet-101 at 1024 px: 1.05–1.1 s against 1.27 s with two OpenBLAS threads on 2 cores) and far
    /// more robust on a busy machine, where OpenBLAS's threads spin while they wait.
    public func describe(_ image: RGBImage, threads: Int) throws(DescriptorError) -> [Float] {
        guard image.width >= 8, image.height >= 8 else {
            throw DescriptorError(code: .imageTooSmall, reason: "\(image.width)×\(image.height) pixels; at least 8×8 are needed")
        }
        let workspace = workspaces.borrow()
        defer { workspaces.giveBack(workspace) }
        workspace.parallelism = threads
        let input = normalizedInput(image)
        var perScale: [[Float]] = []
        for scale in configuration.scales {
            let scaled = scale == 1 ? input : bilinearResize(input, scaleFactor: scale)
            guard scaled.width >= 1, scaled.height >= 1 else { continue }
            let features = backbone.features(scaled, workspace: workspace)
            var vector = DescriptorNormalization.l2Normalized(pooling(features))
            workspace.recycle(features)
            if let networkWhitening { vector = DescriptorNormalization.l2Normalized(networkWhitening(vector)) }
            perScale.append(vector)
        }
        guard !perScale.isEmpty else {
            throw DescriptorError(code: .imageTooSmall, reason: "the image is too small for every requested scale")
        }
        var descriptor: [Float]
        if perScale.count == 1 {
            descriptor = perScale[0]
        } else {
            var exponent: Float = 1
            if case .gem(let p) = pooling, networkWhitening == nil { exponent = p }
            descriptor = MultiScaleCombination.combine(perScale, exponent: exponent)
        }
        if let whitening {
            descriptor = whitening.apply(descriptor, dimensions: configuration.dimensions)
        }
        return descriptor
    }

    /// Multiply-accumulates the convolutions have done so far (for benchmarks' GFLOP/s), over the
    /// workspaces not in use.
    public var multiplyAccumulateCount: Int { workspaces.multiplyAccumulateCount }

    func normalizedInput(_ image: RGBImage) -> FeatureMap {
        Self.normalizedInput(image, mean: mean, standardDeviation: standardDeviation)
    }

    /// ToTensor then Normalize(mean, std), as torchvision does: planes of (x / 255 − mean) / std. Shared
    /// with training, so that a network is trained on exactly the input it is later described with.
    public static func normalizedInput(_ image: RGBImage, mean: [Float], standardDeviation: [Float]) -> FeatureMap {
        let plane = image.width * image.height
        var storage = [Float](repeating: 0, count: 3 * plane)
        image.pixels.withUnsafeBufferPointer { pixels in
            storage.withUnsafeMutableBufferPointer { output in
                for channel in 0..<3 {
                    let channelMean = mean[channel], channelDeviation = standardDeviation[channel]
                    let base = channel * plane
                    // The same operations in the same order as torchvision, so results agree to the last bit.
                    for index in 0..<plane {
                        output[base + index] = (Float(pixels[index * 3 + channel]) / 255 - channelMean) / channelDeviation
                    }
                }
            }
        }
        return FeatureMap(channels: 3, height: image.height, width: image.width, storage: storage)
    }
}

/// Tensor workspaces for concurrent `describe` calls: one per thread in flight, reused across images so
/// that steady-state extraction allocates no new scratch memory.
private final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [TensorWorkspace] = []

    func borrow() -> TensorWorkspace {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast() ?? TensorWorkspace()
    }

    var multiplyAccumulateCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return idle.reduce(0) { $0 + $1.multiplyAccumulateCount }
    }

    func giveBack(_ workspace: TensorWorkspace) {
        lock.lock()
        idle.append(workspace)
        lock.unlock()
    }
}
