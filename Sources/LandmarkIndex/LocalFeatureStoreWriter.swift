import Foundation

/// Creates local-feature stores the way `DescriptorStoreWriter` creates descriptor stores: every write
/// goes to a temporary file in the destination's directory, is flushed to disk and renamed over the
/// destination, so readers — and a crash — see the old file or the complete new one, never a mix.
public enum LocalFeatureStoreWriter {
    /// Writes the records, in the given order.
    /// - Throws: `.countMismatch` when a record's descriptor bytes are not `count × dimension`, or a
    ///   count or image side does not fit the format's 32-bit fields; `.io` on OS errors.
    public static func write(_ records: [LocalFeatureRecord], dimension: Int = 128, metadata: [String: String],
                             to url: URL) throws(DescriptorStoreError) {
        guard dimension > 0, dimension <= 1 << 16 else {
            throw DescriptorStoreError(code: .countMismatch, file: url.path, reason: "descriptor dimension \(dimension) is out of range")
        }
        for record in records {
            guard record.descriptors.count == record.count * dimension else {
                throw DescriptorStoreError(code: .countMismatch, file: url.path,
                                           reason: "\(record.identifier): \(record.count) keypoints but \(record.descriptors.count) descriptor bytes (dimension \(dimension))")
            }
            guard record.count <= Int(UInt32.max), (0 ... Int(UInt32.max)).contains(record.imageWidth),
                  (0 ... Int(UInt32.max)).contains(record.imageHeight) else {
                throw DescriptorStoreError(code: .countMismatch, file: url.path, reason: "\(record.identifier): counts exceed the format's range")
            }
        }
        try writeAtomically(
            to: url, dimension: dimension, metadata: metadata, identifiers: records.map(\.identifier),
            counts: records.map(\.count), sizes: records.map { ($0.imageWidth, $0.imageHeight) }
        ) { (sink: inout FileSink, image: Int) throws(DescriptorStoreError) in
            try sink.write(encodeBlock(records[image], dimension: dimension))
        }
    }

    /// Writes a new store holding the chosen images of existing stores, in the given order, by copying
    /// their encoded blocks (no decoding). This is how shards are assembled into one store.
    /// - Throws: `.dimensionMismatch` when the stores' dimensions differ; `.io` on OS errors.
    public static func assemble(_ selection: [(store: LocalFeatureStore, image: Int)], dimension: Int = 128,
                                metadata: [String: String], to url: URL) throws(DescriptorStoreError) {
        for (store, image) in selection {
            guard store.dimension == dimension else {
                throw DescriptorStoreError(code: .dimensionMismatch, file: store.path,
                                           reason: "descriptor dimension \(store.dimension), expected \(dimension)")
            }
            precondition(image >= 0 && image < store.imageCount, "Image \(image) out of range 0..<\(store.imageCount)")
        }
        try writeAtomically(
            to: url, dimension: dimension, metadata: metadata,
            identifiers: selection.map { $0.store.identifiers[$0.image] },
            counts: selection.map { $0.store.featureCount(ofImage: $0.image) },
            sizes: selection.map { $0.store.imageSize(ofImage: $0.image) }
        ) { (sink: inout FileSink, image: Int) throws(DescriptorStoreError) in
            try sink.write(selection[image].store.block(ofImage: selection[image].image))
        }
    }

    /// One image's block: positions, shapes, descriptors, zero padding.
    static func encodeBlock(_ record: LocalFeatureRecord, dimension: Int) -> [UInt8] {
        let count = record.count
        var bytes: [UInt8] = []
        let size = LocalFeatureStoreFormat.blockSize(features: count, dimension: dimension)
        bytes.reserveCapacity(size)
        for keypoint in record.keypoints {
            bytes.appendLittleEndian(keypoint.x.bitPattern)
            bytes.appendLittleEndian(keypoint.y.bitPattern)
        }
        for keypoint in record.keypoints {
            bytes.appendLittleEndian(Float16(keypoint.size).bitPattern)
            bytes.appendLittleEndian(Float16(keypoint.angle).bitPattern)
        }
        bytes.append(contentsOf: record.descriptors)
        bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
        return bytes
    }

    private static func writeAtomically(
        to url: URL, dimension: Int, metadata: [String: String], identifiers: [String], counts: [Int],
        sizes: [(width: Int, height: Int)], block: (inout FileSink, Int) throws(DescriptorStoreError) -> Void
    ) throws(DescriptorStoreError) {
        let metadataBytes = DescriptorStoreFormat.encodeMetadata(metadata)
        let identifierBytes = DescriptorStoreFormat.encodeIdentifiers(identifiers)
        let header = LocalFeatureStoreFormat.Header(
            dimension: dimension, imageCount: identifiers.count, featureCount: counts.reduce(0, +),
            metadataLength: metadataBytes.count, identifiersLength: identifierBytes.count)
        let table = LocalFeatureStoreFormat.table(counts: counts, sizes: sizes, dimension: dimension)
        let fileSize = header.payloadOffset + header.tableLength
            + counts.reduce(0) { $0 + LocalFeatureStoreFormat.blockSize(features: $1, dimension: dimension) }

        try StoreFileSections.writeAtomically(
            to: url, header: header.encoded(checksum: 0), metadata: metadataBytes, identifiers: identifierBytes,
            payloadOffset: header.payloadOffset, fileSize: fileSize
        ) { (sink: inout FileSink) throws(DescriptorStoreError) in
            var tableBytes: [UInt8] = []
            tableBytes.reserveCapacity(header.tableLength)
            for entry in table { tableBytes.append(contentsOf: entry.encoded()) }
            tableBytes.append(contentsOf: repeatElement(0, count: header.tableLength - tableBytes.count))
            try sink.write(tableBytes)
            for image in 0 ..< identifiers.count { try block(&sink, image) }
        }
    }
}
