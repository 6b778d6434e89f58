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
        let magic = LocalFeatureStoreFormat.magic
        let prefix = Array(bytes.prefix(magic.count))
        guard prefix == Array(magic.prefix(prefix.count)) else {
            throw failure(.badMagic, "not a landmark local-feature store (wrong magic bytes)")
        }
        guard bytes.count >= LocalFeatureStoreFormat.headerSize else {
            throw failure(.truncated, "file has \(bytes.count) bytes, shorter than the 64-byte header")
        }
        func uint64(at offset: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        func uint32(at offset: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }

        let version = uint32(at: 8)
        guard version == LocalFeatureStoreFormat.version else {
            throw failure(.unsupportedVersion,
                          "format version \(version); this build reads version \(LocalFeatureStoreFormat.version) — rebuild the store")
        }
        // Bound every header field before arithmetic so a corrupt header cannot overflow.
        let dimension = Int(uint32(at: 12))
        let fields = [uint64(at: 16), uint64(at: 24), uint64(at: 32), uint64(at: 40), uint64(at: 48)]
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
        if verifyChecksum {
            var crc = CRC32()
            crc.update(UnsafeRawBufferPointer(rebasing: bytes[0 ..< LocalFeatureStoreFormat.checksumOffset]))
            crc.update(UnsafeRawBufferPointer(rebasing: bytes[LocalFeatureStoreFormat.headerSize...]))
            let stored = uint64(at: LocalFeatureStoreFormat.checksumOffset)
            guard stored == UInt64(crc.value) else {
                throw failure(.checksumMismatch, "content checksum \(crc.value) differs from the stored \(stored); the file is damaged — rebuild or re-copy it")
            }
        }


        let metadataStart = LocalFeatureStoreFormat.headerSize
        var metadataReader = SectionReader(UnsafeRawBufferPointer(
            rebasing: bytes[metadataStart ..< metadataStart + header.metadataLength]))
        var metadata: [String: String] = [:]
        guard let pairCount = metadataReader.readUInt32() else { throw failure(.corrupt, "metadata section is empty") }
        for _ in 0 ..< pairCount {
            guard let key = metadataReader.readString(), let value = metadataReader.readString() else {
                throw failure(.corrupt, "metadata section is malformed")
            }
            metadata[key] = value
        }
        guard metadataReader.isAtEnd else { throw failure(.corrupt, "metadata section has trailing bytes") }

        let identifiersStart = metadataStart + header.metadataLength
        var identifierReader = SectionReader(UnsafeRawBufferPointer(
            rebasing: bytes[identifiersStart ..< identifiersStart + header.identifiersLength]))
        var identifiers: [String] = []
        identifiers.reserveCapacity(header.imageCount)
        for index in 0 ..< header.imageCount {
            guard let identifier = identifierReader.readString() else {
                throw failure(.corrupt, "identifier \(index) of \(header.imageCount) is missing or malformed")
            }
            identifiers.append(identifier)
        }
        guard identifierReader.isAtEnd else { throw failure(.corrupt, "identifier section has trailing bytes") }
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
