/// A batch-of-one activation tensor: C channels of H × W, channel-major (NCHW with N = 1).
///
/// Element (c, y, x) lives at `storage[(c * height + y) * width + x]`. This is the interchange type
/// between the tensor engine, the networks and the pooling layers; retrieval extracts one image at a
/// time (images differ in size), so there is no batch dimension.
public struct FeatureMap: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var storage: [Float]

    public init(channels: Int, height: Int, width: Int, repeating value: Float = 0) {
        precondition(channels >= 0 && height >= 0 && width >= 0, "feature map sizes must not be negative")
        self.channels = channels
        self.height = height
        self.width = width
        storage = [Float](repeating: value, count: channels * height * width)
    }

    public init(channels: Int, height: Int, width: Int, storage: [Float]) {
        precondition(storage.count == channels * height * width,
                     "storage holds \(storage.count) values, not \(channels)×\(height)×\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.storage = storage
    }

    /// Number of spatial positions, H × W.
    public var planeSize: Int { height * width }

    public subscript(channel: Int, y: Int, x: Int) -> Float {
        get { storage[(channel * height + y) * width + x] }
        set { storage[(channel * height + y) * width + x] = newValue }
    }
}
