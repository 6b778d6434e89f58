import LandmarkPickle

/// torch ≥ 1.6 checkpoints: a zip archive `<archive>/data.pkl` (the pickle), `<archive>/data/<key>` (raw
/// little-endian storages), `<archive>/version` and, from torch 2, `<archive>/byteorder`.
enum TorchZipFormat {
    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) -> Checkpoint {
        let directory = try ZipDirectory(bytes, file: file)
        guard let pickleEntry = directory.entries.values
            .filter({ $0.name.hasSuffix("/data.pkl") && $0.name.split(separator: "/").count == 2 })
            .min(by: { $0.name < $1.name }) else {
            throw CheckpointError(code: .unsupportedFormat, file: file,
                                  reason: "a zip archive without <archive>/data.pkl: not a PyTorch checkpoint")
        }
        let prefix = String(pickleEntry.name.dropLast("data.pkl".count))
        if let byteOrder = directory.entries[prefix + "byteorder"] {
            let text = String(decoding: try directory.data(of: byteOrder, in: bytes, file: file), as: UTF8.self)
            guard text.trimmingCharacters(in: .whitespacesAndNewlines) == "little" else {
                throw CheckpointError(code: .unsupportedFormat, file: file,
                                      reason: "storages are '\(text)'-endian; only little-endian checkpoints are supported")
            }
        }
        let root: PickleValue
        do {
            root = try PickleDecoder.decode(try directory.data(of: pickleEntry, in: bytes, file: file), from: 0, file: file).value
        } catch let error as PickleError {
            throw CheckpointError(code: .corrupt, file: file, reason: "\(pickleEntry.name): \(error.reason)")
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(code: .corrupt, file: file, reason: "\(pickleEntry.name): \(error)")
        }
        let (records, metadata) = try TorchPickle.stateDictionary(root, file: file)
        var storages: [String: StorageBytes] = [:]
        for (_, record) in records where storages[record.storage.key] == nil {
            let reference = record.storage
            let entryName = prefix + "data/" + reference.key
            guard let entry = directory.entries[entryName] else {
                throw CheckpointError(code: .corrupt, file: file, reason: "storage '\(reference.key)' has no zip entry \(entryName)")
            }
            let data = try directory.data(of: entry, in: bytes, file: file)
            let needed = reference.elementCount.multipliedReportingOverflow(by: reference.type.byteCount)
            guard !needed.overflow, data.count >= needed.partialValue else {
                throw CheckpointError(code: .corrupt, file: file,
                                      reason: "storage '\(reference.key)' declares \(reference.elementCount) elements "
                                          + "(\(needed.partialValue) bytes) but its entry holds \(data.count) bytes")
            }
            storages[reference.key] = StorageBytes(bytes: UnsafeRawBufferPointer(rebasing: data[0..<needed.partialValue]),
                                                   type: reference.type)
        }
        return Checkpoint(tensors: try TorchTensors.build(records, storages: storages, file: file), metadata: metadata, file: file)
    }
}
