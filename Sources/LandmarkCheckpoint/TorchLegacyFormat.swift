import LandmarkPickle

/// torch's legacy format (`_use_new_zipfile_serialization=False`): five pickles and the raw storages back to
/// back — magic number, protocol version, system info, the object, the sorted storage keys — then per key an
/// 8-byte little-endian element count and the elements.
enum TorchLegacyFormat {
    /// `pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)`: a 10-byte LONG1 that the decoder's 64-bit integers
    /// cannot hold, so it is compared byte for byte.
    static let magicPickle: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) -> Checkpoint {
        guard bytes.count >= magicPickle.count else {
            throw CheckpointError(code: .truncated, file: file, reason: "\(bytes.count) bytes: too short for a legacy torch checkpoint")
        }
        guard bytes.starts(with: magicPickle) else {
            if bytes.starts(with: magicPickle.prefix(4)) {
                throw CheckpointError(code: .corrupt, file: file, reason: "the legacy torch magic number is wrong")
            }
            throw CheckpointError(code: .unsupportedFormat, file: file,
                                  reason: "a pickle but not a torch checkpoint (no torch magic number)")
        }
        var position = magicPickle.count
        func next(_ what: String) throws(CheckpointError) -> PickleValue {
            do {
                let (value, end) = try PickleDecoder.decode(bytes, from: position, file: file)
                position = end
                return value
            } catch {
                throw CheckpointError(code: error.code == .truncated ? .truncated : .corrupt, file: file, reason: "\(what): \(error.reason)")
            }
        }
        guard case .int(1001) = try next("protocol version") else {
            throw CheckpointError(code: .unsupportedFormat, file: file, reason: "legacy torch protocol version is not 1001")
        }
        let systemInfo = try next("system info")
        if case .bool(false)? = systemInfo["little_endian"] {
            throw CheckpointError(code: .unsupportedFormat, file: file, reason: "written on a big-endian machine; only little-endian checkpoints are supported")
        }
        let root = try next("checkpoint pickle")
        guard let keyValues = try next("storage keys").items else {
            throw CheckpointError(code: .corrupt, file: file, reason: "the storage key list is not a list")
        }
        var references: [String: TorchPickle.StorageReference] = [:]
        try TorchPickle.storageReferences(in: root, file: file, into: &references)

        var storages: [String: StorageBytes] = [:]
        for keyValue in keyValues {
            guard let key = keyValue.text, let reference = references[key] else {
                throw CheckpointError(code: .corrupt, file: file, reason: "storage key \(keyValue) is not referenced by the pickle")
            }
            guard bytes.count - position >= 8 else {
                throw CheckpointError(code: .truncated, file: file, reason: "the file ends before the data of storage '\(key)'")
            }
            let count = Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: Int64.self))
            position += 8
            let available = (bytes.count - position) / reference.type.byteCount
            guard count >= 0, count <= Int64(available) else {
                throw CheckpointError(code: .truncated, file: file,
                                      reason: "storage '\(key)' declares \(count) elements, the file holds at most \(available) more")
            }
            let length = Int(count) * reference.type.byteCount
            storages[key] = StorageBytes(bytes: UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)]),
                                         type: reference.type)
            position += length
        }
        let (records, metadata) = try TorchPickle.stateDictionary(root, file: file)
        return Checkpoint(tensors: try TorchTensors.build(records, storages: storages, file: file), metadata: metadata, file: file)
    }
}
