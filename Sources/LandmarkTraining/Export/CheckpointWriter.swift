import Foundation
import LandmarkPickle
import LandmarkStorage

/// Writes trained networks in the two formats PyTorch users load: torch's zip `.pth` (what `torch.save`
/// writes, so cirtorch's `torch.load` + `load_state_dict` and this project's `NetworkLoader` both read it)
/// and `.safetensors`. Files are written through `DurableFile`: a crash leaves the previous file or the
/// complete new one.
public enum CheckpointWriter {
    /// The version record torch ≥ 1.6 writes (`archive/version`).
    static let torchFormatVersion = "3\n"

    // MARK: torch .pth

    /// The bytes of `checkpoint` as `torch.save` would write the dict
    /// `{'epoch', 'meta', 'state_dict', 'min_loss', 'best_score', 'optimizer'}` (the last three only when
    /// present): a zip of `archive/data.pkl` (pickle protocol 2, tensors as persistent-id storages),
    /// `archive/byteorder`, `archive/data/<n>` (little-endian storages) and `archive/version`.
    public static func torchArchive(_ checkpoint: RetrievalCheckpoint, optimizer: OptimizerSnapshot? = nil,
                                    archiveName: String = "archive") throws(ExportError) -> [UInt8] {
        var tensors = TorchTensorArchive()
        var entries: [PickleDictionaryEntry] = [
            PickleDictionaryEntry(key: .string("epoch"), value: .int(checkpoint.epoch)),
            PickleDictionaryEntry(key: .string("meta"), value: checkpoint.metadata.pickleValue),
            PickleDictionaryEntry(key: .string("state_dict"), value: tensors.stateDictionary(checkpoint.stateDictionary)),
        ]
        if let loss = checkpoint.minimumLoss {
            entries.append(PickleDictionaryEntry(key: .string("min_loss"), value: .float(loss)))
        }
        if let score = checkpoint.bestScore {
            entries.append(PickleDictionaryEntry(key: .string("best_score"), value: .float(score)))
        }
        if let optimizer {
            let state = optimizer.optimizer.torchStateDictionary(parameters: optimizer.parameters, groups: optimizer.groups,
                                                                 archive: &tensors)
            entries.append(PickleDictionaryEntry(key: .string("optimizer"), value: state))
        }
        return try torchArchive(root: .dictionary(entries), tensors: tensors, archiveName: archiveName)
    }

    /// A torch zip archive of any pickled `root` whose tensors were added to `tensors`.
    public static func torchArchive(root: PickleValue, tensors: TorchTensorArchive,
                                    archiveName: String = "archive") throws(ExportError) -> [UInt8] {
        let pickle: [UInt8]
        do {
            pickle = try PickleEncoder.encode(root)
        } catch {
            throw ExportError(file: "\(archiveName)/data.pkl", reason: error.reason)
        }
        var zip = StoredZipArchive()
        try zip.add("\(archiveName)/data.pkl", pickle)
        try zip.add("\(archiveName)/byteorder", Array("little".utf8))
        for storage in tensors.storages {
            try zip.add("\(archiveName)/data/\(storage.key)", storage.bytes)
        }
        try zip.add("\(archiveName)/version", Array(torchFormatVersion.utf8))
        return try zip.finished()
    }

    /// Writes `checkpoint` as a torch `.pth` at `url`, durably.
    public static func writeTorch(_ checkpoint: RetrievalCheckpoint, optimizer: OptimizerSnapshot? = nil,
                                  to url: URL) throws(ExportError) {
        let archiveName = url.deletingPathExtension().lastPathComponent
        var bytes: [UInt8]
        do {
            bytes = try torchArchive(checkpoint, optimizer: optimizer,
                                     archiveName: archiveName.isEmpty || archiveName.contains(".") ? "archive" : archiveName)
        } catch {
            throw ExportError(file: url.path, reason: error.reason)
        }
        try write(&bytes, to: url)
    }

    // MARK: safetensors

    /// The bytes of a safetensors file: an 8-byte little-endian header length, the JSON header
    /// `{name: {dtype, shape, data_offsets}, "__metadata__": {…}}` padded with spaces to 8 bytes, then the
    /// tensors' little-endian data back to back in state-dict order. `num_batches_tracked` is written as I64.
    public static func safetensors(_ state: StateDictionary, metadata: [String: String]) throws(ExportError) -> [UInt8] {
        var header: [String] = []
        var offset = 0
        var seen = Set<String>()
        for tensor in state.tensors {
            guard seen.insert(tensor.name).inserted, tensor.name != "__metadata__" else {
                throw ExportError(file: "<safetensors>", reason: "tensor name '\(tensor.name)' is used twice or reserved")
            }
            let isInteger = tensor.name.hasSuffix(".num_batches_tracked")
            let size = tensor.values.count * (isInteger ? 8 : 4)
            header.append("\(jsonString(tensor.name)):{\"dtype\":\"\(isInteger ? "I64" : "F32")\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        if !metadata.isEmpty {
            let fields = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            header.insert("\"__metadata__\":{\(fields.joined(separator: ","))}", at: 0)
        }
        var json = Array("{\(header.joined(separator: ","))}".utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var bytes = [UInt8]()
        bytes.reserveCapacity(8 + json.count + offset)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> UInt64(shift))) }
        bytes.append(contentsOf: json)
        for tensor in state.tensors {
            if tensor.name.hasSuffix(".num_batches_tracked") {
                for value in tensor.values { withUnsafeBytes(of: Int64(value.rounded()).littleEndian) { bytes.append(contentsOf: $0) } }
            } else {
                tensor.values.withUnsafeBufferPointer { values in
                    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                }
            }
        }
        return bytes
    }

    /// cirtorch's meta (and epoch, losses) as safetensors `__metadata__` strings: text as is, booleans as
    /// `true`/`false`, numbers in decimal, lists as JSON arrays — what `NetworkLoader` reads back.
    public static func safetensorsMetadata(_ checkpoint: RetrievalCheckpoint) -> [String: String] {
        var metadata: [String: String] = ["format": "pt", "epoch": String(checkpoint.epoch)]
        for (key, value) in checkpoint.metadata.entries {
            switch value {
            case .string(let text): metadata[key] = text
            case .bool(let flag): metadata[key] = flag ? "true" : "false"
            case .int(let number): metadata[key] = String(number)
            case .list(let items): metadata[key] = "[" + items.compactMap { $0.doubles?.first.map { "\($0)" } }.joined(separator: ", ") + "]"
            default: break
            }
        }
        if let loss = checkpoint.minimumLoss { metadata["min_loss"] = "\(loss)" }
        if let score = checkpoint.bestScore { metadata["best_score"] = "\(score)" }
        return metadata
    }

    /// Writes `checkpoint` (state dict and meta; no optimiser state) as `.safetensors` at `url`, durably.
    public static func writeSafetensors(_ checkpoint: RetrievalCheckpoint, to url: URL) throws(ExportError) {
        var bytes: [UInt8]
        do {
            bytes = try safetensors(checkpoint.stateDictionary, metadata: safetensorsMetadata(checkpoint))
        } catch {
            throw ExportError(file: url.path, reason: error.reason)
        }
        try write(&bytes, to: url)
    }

    /// Writes any state dict (e.g. an optimiser's, for resuming) as `.safetensors`, durably.
    public static func writeSafetensors(_ state: StateDictionary, metadata: [String: String] = [:], to url: URL) throws(ExportError) {
        var bytes: [UInt8]
        do {
            bytes = try safetensors(state, metadata: metadata)
        } catch {
            throw ExportError(file: url.path, reason: error.reason)
        }
        try write(&bytes, to: url)
    }

    // MARK: Helpers

    static func write(_ bytes: inout [UInt8], to url: URL) throws(ExportError) {
        do {
            try DurableFile.write(bytes, to: url)
        } catch {
            throw ExportError(file: error.file, reason: error.reason)
        }
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
