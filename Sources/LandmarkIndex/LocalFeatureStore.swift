import Foundation

/// A read-only, memory-mapped view of one local-feature store file (format in
/// `LocalFeatureStoreFormat`): the keypoints and descriptors of many images. Opening validates the
/// header, every table entry against the layout and — by default — the checksum; an image's features
/// are then decoded from the mapping on demand, so opening a large store costs no copy.
public struct LocalFeatureStore: Sendable {
    let file: MappedFile
    let header: LocalFeatureStoreFormat.Header
    let entries: [LocalFeatureStoreFormat.ImageEntry]
    /// Image ids or relative paths, one per image, in store order.
    public let identifiers: [String]
    /// Free-form key/values stored with the features, e.g. the extractor's settings.
    public let metadata: [String: String]

    /// Components per descriptor (128 for SIFT).
    public var dimension: Int { header.dimension }
    /// Number of images.
    public var imageCount: Int { header.imageCount }
    /// Number of features over all images.
    public var featureCount: Int { header.featureCount }
    /// Path of the mapped file.
    public var path: String { file.path }
    /// Size of the file in bytes.
    public var byteCount: Int { file.bytes.count }

    /// Maps and validates the store at `url`.
    /// - Parameter verifyChecksum: recompute the CRC-32 over the whole file (reads every byte once).
    /// - Throws: `DescriptorStoreError` naming the file: `.notFound`, `.badMagic`, `.unsupportedVersion`,
    ///   `.truncated`, `.corrupt`, `.checksumMismatch` or `.io`.
    public static func open(_ url: URL, verifyChecksum: Bool = true) throws(DescriptorStoreError) -> LocalFeatureStore {
        let path = url.path
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func failure(_ code: DescriptorStoreError.Code, _ reason: String) -> DescriptorStoreError {
            DescriptorStoreError(code: code, file: path, reason: reason)
        }
        let raw = try StoreFileSections.readHeader(bytes, magic: LocalFeatureStoreFormat.magic,
                                                   version: LocalFeatureStoreFormat.version, kind: "local-feature store",
                                                   failure: failure)
        func uint64(at offset: Int) -> UInt64 { StoreFileSections.uint64(bytes, at: offset) }
        func uint32(at offset: Int) -> UInt32 { StoreFileSections.uint32(bytes, at: offset) }
        // Bound every header field before arithmetic so a corrupt header cannot overflow.
        let dimension = Int(raw.word)
        let fields = raw.fields
        guard dimension > 0, dimension <= 1 << 16, fields.allSatisfy({ $0 <= UInt64(Int32.max) * 64 }) else {
            throw failure(.corrupt, "header fields are out of range")
        }
        let header = LocalFeatureStoreFormat.Header(
            dimension: dimension, imageCount: Int(fields[0]), featureCount: Int(fields[1]),
            metadataLength: Int(fields[2]), identifiersLength: Int(fields[3]))
        guard Int(fields[4]) == header.payloadOffset else {
            throw failure(.corrupt, "payload offset \(fields[4]) disagrees with the section lengths")
        }
        let tableEnd = header.payloadOffset + header.tableLength
        // The smallest file the header allows: every feature costs at least its unpadded bytes.
        let minimumSize = tableEnd + header.featureCount * (12 + dimension)
        guard bytes.count >= minimumSize else {
            throw failure(.truncated, "file has \(bytes.count) bytes, the header announces at least \(minimumSize)")
        }
        // The table must describe exactly the back-to-back layout the writer produces.
        var entries: [LocalFeatureStoreFormat.ImageEntry] = []
        entries.reserveCapacity(header.imageCount)
        var expectedOffset = header.tableLength
        var expectedFirst = 0
        for image in 0 ..< header.imageCount {
            let base = header.payloadOffset + image * LocalFeatureStoreFormat.tableEntrySize
            let entry = LocalFeatureStoreFormat.ImageEntry(
                blockOffset: Int(truncatingIfNeeded: uint64(at: base)),
                firstFeature: Int(truncatingIfNeeded: uint64(at: base + 8)),
                featureCount: Int(uint32(at: base + 16)), width: Int(uint32(at: base + 20)),
                height: Int(uint32(at: base + 24)))
            guard entry.blockOffset == expectedOffset, entry.firstFeature == expectedFirst,
                  entry.featureCount <= header.featureCount - expectedFirst else {
                throw failure(.corrupt, "table entry of image \(image) disagrees with the layout — rebuild the store")
            }
            entries.append(entry)
            expectedOffset += LocalFeatureStoreFormat.blockSize(features: entry.featureCount, dimension: dimension)
            expectedFirst += entry.featureCount
        }
        guard expectedFirst == header.featureCount else {
            throw failure(.corrupt, "images hold \(expectedFirst) features, the header says \(header.featureCount)")
        }
        let fileSize = header.payloadOffset + expectedOffset
        guard bytes.count >= fileSize else {
            throw failure(.truncated, "file has \(bytes.count) bytes, the header announces \(fileSize)")
        }
        guard bytes.count == fileSize else {
            throw failure(.corrupt, "file has \(bytes.count - fileSize) unexpected trailing bytes")
        }
        if verifyChecksum { try StoreFileSections.verifyChecksum(bytes, failure: failure) }
        let (metadata, identifiers) = try StoreFileSections.readMetadataAndIdentifiers(
            bytes, metadataLength: header.metadataLength, identifiersLength: header.identifiersLength,
            count: header.imageCount, failure: failure)
        return LocalFeatureStore(file: file, header: header, entries: entries, identifiers: identifiers, metadata: metadata)
    }

    /// Number of features of image `index`.
    public func featureCount(ofImage index: Int) -> Int {
        precondition(index >= 0 && index < imageCount, "Image \(index) out of range 0..<\(imageCount)")
        return entries[index].featureCount
    }

    /// Size of the image the keypoints of image `index` refer to.
    public func imageSize(ofImage index: Int) -> (width: Int, height: Int) {
        precondition(index >= 0 && index < imageCount, "Image \(index) out of range 0..<\(imageCount)")
        return (entries[index].width, entries[index].height)
    }

    /// The raw block of image `index` (positions, shapes, descriptors, padding), for copying between stores.
    func block(ofImage index: Int) -> UnsafeRawBufferPointer {
        let start = header.payloadOffset + entries[index].blockOffset
        let length = LocalFeatureStoreFormat.blockSize(features: entries[index].featureCount, dimension: dimension)
        return UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + length])
    }

    /// Decodes the keypoints and descriptors of image `index`.
    public func record(at index: Int) -> LocalFeatureRecord {
        precondition(index >= 0 && index < imageCount, "Image \(index) out of range 0..<\(imageCount)")
        let entry = entries[index]
        let count = entry.featureCount
        var keypoints: [StoredKeypoint] = []
        var descriptors: [UInt8] = []
        if count > 0 {
            let block = self.block(ofImage: index)
            keypoints.reserveCapacity(count)
            for feature in 0 ..< count {
                let position = feature * 8, shape = count * 8 + feature * 4
                keypoints.append(StoredKeypoint(
                    x: Float(bitPattern: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: position, as: UInt32.self))),
                    y: Float(bitPattern: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: position + 4, as: UInt32.self))),
                    size: Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: shape, as: UInt16.self)))),
                    angle: Float(Float16(bitPattern: UInt16(littleEndian: block.loadUnaligned(fromByteOffset: shape + 2, as: UInt16.self))))))
            }
            let start = count * 12
            descriptors = Array(block[start ..< start + count * dimension])
        }
        return LocalFeatureRecord(identifier: identifiers[index], imageWidth: entry.width, imageHeight: entry.height,
                                  keypoints: keypoints, descriptors: descriptors)
    }
}
