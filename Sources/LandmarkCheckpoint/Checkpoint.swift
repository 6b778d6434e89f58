import Foundation
@_exported import LandmarkPickle

/// The named Float32 tensors and metadata of a trained network, read without Python.
///
/// Reads PyTorch `.pth` files in both torch formats (the zip archive of torch ≥ 1.6 and the legacy stream of
/// pickles, e.g. EfficientNet-Lite's weights) and `.safetensors` files. Pickles are decoded by
/// `LandmarkPickle`, which runs no code; only torch's tensor-rebuilding calls are interpreted.
public struct Checkpoint: Sendable {
    /// The state dict: for a cirtorch file the 'state_dict' entry, for a bare state dict the dict itself, for
    /// `{'model': …}` / `{'state_dict': …}` wrappers the inner dict. Integer tensors (e.g. batch norm's
    /// `num_batches_tracked`) are converted to Float too, exactly up to 2^24.
    public let tensors: [String: CheckpointTensor]
    /// Non-tensor metadata: a cirtorch file's 'meta' dict (architecture, pooling, local_whitening, regional,
    /// whitening, pretrained, mean, std, outputdim) plus plain top-level entries of a wrapper (e.g. 'epoch');
    /// for safetensors the `__metadata__` strings.
    public let metadata: [String: PickleValue]
    /// The file the checkpoint came from, for error messages.
    public let file: String

    public init(tensors: [String: CheckpointTensor], metadata: [String: PickleValue] = [:], file: String = "<memory>") {
        self.tensors = tensors
        self.metadata = metadata
        self.file = file
    }

    /// The tensor names, sorted.
    public var tensorNames: [String] { tensors.keys.sorted() }

    /// Reads the checkpoint at `url`, recognising its format by content rather than by extension.
    ///
    /// The file is memory-mapped and each tensor converted straight from it, so a 170 MB ResNet-101 costs one
    /// pass over its bytes.
    public static func load(contentsOf url: URL) throws(CheckpointError) -> Checkpoint {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw CheckpointError(code: .unreadable, file: path, reason: "cannot read the file (\(error.localizedDescription)); check that it exists and is readable")
        }
        return try decode(data, file: path)
    }

    /// Decodes a checkpoint held in memory; `file` only names it in errors.
    public static func decode(_ data: Data, file: String = "<memory>") throws(CheckpointError) -> Checkpoint {
        let result: Result<Checkpoint, CheckpointError> = data.withUnsafeBytes { bytes in
            Result { () throws(CheckpointError) -> Checkpoint in try decode(bytes, file: file) }
        }
        return try result.get()
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) -> Checkpoint {
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            return try TorchZipFormat.decode(bytes, file: file)
        }
        if bytes.starts(with: [0x80]) { return try TorchLegacyFormat.decode(bytes, file: file) }
        if bytes.count >= 9, bytes[8] == UInt8(ascii: "{") { return try SafetensorsFormat.decode(bytes, file: file) }
        if bytes.count < 9 {
            throw CheckpointError(code: .truncated, file: file, reason: "only \(bytes.count) bytes: too short for any checkpoint format")
        }
        throw CheckpointError(code: .unsupportedFormat, file: file,
                              reason: "neither a PyTorch checkpoint (zip or legacy .pth) nor a safetensors file")
    }

    /// The tensor called `name`.
    public func tensor(_ name: String) throws(CheckpointError) -> CheckpointTensor {
        guard let tensor = tensors[name] else {
            let similar = Self.similarNames(to: name, among: tensors.keys)
            let hint = similar.isEmpty ? "" : "; similar names: \(similar.joined(separator: ", "))"
            throw CheckpointError(code: .missingTensor, file: file,
                                  reason: "no tensor '\(name)' among the checkpoint's \(tensors.count) tensors\(hint)")
        }
        return tensor
    }

    /// The tensor called `name`, which must have exactly `shape`.
    public func tensor(_ name: String, shape: [Int]) throws(CheckpointError) -> CheckpointTensor {
        let tensor = try tensor(name)
        guard tensor.shape == shape else {
            throw CheckpointError(code: .shapeMismatch, file: file,
                                  reason: "tensor '\(name)' has shape \(tensor.shape), the network expects \(shape); "
                                      + "is the checkpoint for a different architecture or width?")
        }
        return tensor
    }

    /// Up to five names closest to `name` by edit distance — usually a prefix ('module.', 'features.') or an
    /// index off by one, which the names make obvious.
    static func similarNames(to name: String, among names: some Sequence<String>) -> [String] {
        let target = Array(name.utf8)
        var scored: [(distance: Int, name: String)] = []
        for candidate in names {
            let distance = editDistance(target, Array(candidate.utf8))
            if distance <= max(3, target.count / 2) { scored.append((distance, candidate)) }
        }
        scored.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.name < $1.name }
        return scored.prefix(5).map(\.name)
    }

    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Builds the tensors of a torch state dict from its storages.
enum TorchTensors {
    static func build(_ records: [(String, TorchPickle.TensorRecord)], storages: [String: StorageBytes],
                      file: String) throws(CheckpointError) -> [String: CheckpointTensor] {
        var tensors: [String: CheckpointTensor] = [:]
        tensors.reserveCapacity(records.count)
        for (name, record) in records {
            guard var storage = storages[record.storage.key] else {
                throw CheckpointError(code: .corrupt, file: file,
                                      reason: "tensor '\(name)' refers to storage '\(record.storage.key)', which the file does not hold")
            }
            if let view = record.storage.view {
                let start = view.offset * storage.type.byteCount
                let end = start + view.count * storage.type.byteCount
                guard view.offset <= storage.elementCount, view.count <= storage.elementCount - view.offset else {
                    throw CheckpointError(code: .corrupt, file: file,
                                          reason: "tensor '\(name)': storage view beyond storage '\(record.storage.key)'")
                }
                storage = StorageBytes(bytes: UnsafeRawBufferPointer(rebasing: storage.bytes[start..<end]), type: storage.type)
            }
            tensors[name] = try storage.tensor(offset: record.offset, shape: record.shape, strides: record.strides,
                                               name: name, file: file)
        }
        return tensors
    }
}
