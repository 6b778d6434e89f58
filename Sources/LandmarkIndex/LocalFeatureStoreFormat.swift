/// One keypoint as the local-feature store keeps it: what matching, geometric verification and
/// drawing need. (The detector's response and octave are not kept: nothing after extraction uses them.)
public struct StoredKeypoint: Sendable, Equatable {
    /// Position in pixels of the image the features were extracted from (after its resizing).
    public var x: Float
    public var y: Float
    /// Diameter of the keypoint's neighbourhood in pixels; stored as Float16 (relative error ≤ 0.05 %).
    public var size: Float
    /// Orientation in degrees, 0 ..< 360; stored as Float16 (steps of at most 0.25°).
    public var angle: Float

    public init(x: Float, y: Float, size: Float, angle: Float) {
        self.x = x
        self.y = y
        self.size = size
        self.angle = angle
    }
}

/// The local features of one image in storage form, independent of the extractor's own types (the
/// pipeline converts between the two): keypoint geometry and one `UInt8` descriptor per keypoint.
public struct LocalFeatureRecord: Sendable, Equatable {
    /// Image id or path relative to the indexed folder.
    public var identifier: String
    /// Size of the image the keypoint coordinates refer to.
    public var imageWidth: Int
    public var imageHeight: Int
    public var keypoints: [StoredKeypoint]
    /// `keypoints.count × dimension` components, one descriptor after another.
    public var descriptors: [UInt8]

    public init(identifier: String, imageWidth: Int, imageHeight: Int, keypoints: [StoredKeypoint],
                descriptors: [UInt8]) {
        self.identifier = identifier
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        self.keypoints = keypoints
        self.descriptors = descriptors
    }

    /// Number of keypoints.
    public var count: Int { keypoints.count }
}

/// The on-disk layout of a local-feature store, version 1. All integers little-endian. The header,
/// metadata and identifier sections are those of `DescriptorStoreFormat`, so the same checks apply.
///
///     offset  size  field
///          0     8  magic "LMKLOCF\0"
///          8     4  format version (UInt32) = 1
///         12     4  descriptor dimension (UInt32), 128 for SIFT
///         16     8  image count (UInt64)
///         24     8  feature count over all images (UInt64)
///         32     8  metadata section length in bytes (UInt64)
///         40     8  identifier section length in bytes (UInt64)
///         48     8  payload offset (UInt64), = (64 + metadata + identifiers) rounded up to 64
///         56     8  checksum (UInt64; low 32 bits = CRC-32 of bytes 0..<56 followed by bytes 64..<end)
///         64        metadata (UInt32 pair count, then sorted length-prefixed UTF-8 key/value pairs),
///                   identifiers (per image UInt32 length + UTF-8), zero padding to the payload offset
///     payload       image table, per image 32 bytes: block offset from the payload start (UInt64),
///                   first feature's index over all images (UInt64), feature count, image width,
///                   image height, reserved zero (UInt32 each); zero padding to a multiple of 64
///                   then per image one block, starting 64-byte aligned:
///                     n × (x, y) Float32, n × (size, angle) Float16, n × dimension UInt8 descriptors,
///                     zero padding to a multiple of 64
///
/// Positions stay Float32 because at 1024 px Float16 would round them to half a pixel, the order of a
/// RANSAC inlier threshold; size and angle are only drawn or used as hypotheses, where Float16 is ample.
/// 140 bytes per SIFT feature (8 + 4 + 128) instead of 528 for Float32 descriptors.
enum LocalFeatureStoreFormat {
    static let magic: [UInt8] = Array("LMKLOCF\0".utf8)
    static let version: UInt32 = 1
    static let alignment = 64
    static let tableEntrySize = 32

    static func aligned(_ value: Int) -> Int { (value + alignment - 1) / alignment * alignment }

    /// Bytes of one image's block, padding included.
    static func blockSize(features: Int, dimension: Int) -> Int {
        aligned(features * (8 + 4 + dimension))
    }

    struct Header: Equatable {
        var dimension: Int
        var imageCount: Int
        var featureCount: Int
        var metadataLength: Int
        var identifiersLength: Int
        var payloadOffset: Int {
            DescriptorStoreFormat.alignedPayloadOffset(metadataLength: metadataLength, identifiersLength: identifiersLength)
        }
        var tableLength: Int { LocalFeatureStoreFormat.aligned(imageCount * LocalFeatureStoreFormat.tableEntrySize) }

        func encoded(checksum: UInt32) -> [UInt8] {
            StoreFileSections.encodeHeader(
                magic: LocalFeatureStoreFormat.magic, version: LocalFeatureStoreFormat.version, word: UInt32(dimension),
                fields: [UInt64(imageCount), UInt64(featureCount), UInt64(metadataLength), UInt64(identifiersLength),
                         UInt64(payloadOffset)],
                checksum: checksum)
        }
    }

    /// What the table says about one image.
    struct ImageEntry: Equatable {
        var blockOffset: Int
        var firstFeature: Int
        var featureCount: Int
        var width: Int
        var height: Int

        func encoded() -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(LocalFeatureStoreFormat.tableEntrySize)
            bytes.appendLittleEndian(UInt64(blockOffset))
            bytes.appendLittleEndian(UInt64(firstFeature))
            bytes.appendLittleEndian(UInt32(featureCount))
            bytes.appendLittleEndian(UInt32(width))
            bytes.appendLittleEndian(UInt32(height))
            bytes.appendLittleEndian(UInt32(0))
            return bytes
        }
    }

    /// The table for images with the given feature counts and sizes, blocks laid out back to back.
    static func table(counts: [Int], sizes: [(width: Int, height: Int)], dimension: Int) -> [ImageEntry] {
        var entries: [ImageEntry] = []
        entries.reserveCapacity(counts.count)
        var offset = aligned(counts.count * tableEntrySize)
        var first = 0
        for (count, size) in zip(counts, sizes) {
            entries.append(ImageEntry(blockOffset: offset, firstFeature: first, featureCount: count,
                                      width: size.width, height: size.height))
            offset += blockSize(features: count, dimension: dimension)
            first += count
        }
        return entries
    }
}
