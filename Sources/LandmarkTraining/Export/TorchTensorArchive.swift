import LandmarkPickle

/// The tensors of a torch checkpoint being written: each `tensor(_:shape:)` call adds one storage (raw
/// little-endian bytes, the zip entry `data/<key>`) and returns the pickle value torch rebuilds it from,
/// `torch._utils._rebuild_tensor_v2(<persistent id ('storage', torch.FloatStorage, key, 'cpu', count)>,
/// 0, shape, contiguous strides, False, OrderedDict())`.
public struct TorchTensorArchive: Sendable {
    /// A storage: its key (the entry name under `data/`) and bytes.
    public struct Storage: Sendable, Equatable {
        public var key: String
        public var bytes: [UInt8]
    }

    public enum ElementType: String, Sendable {
        case float32 = "FloatStorage"
        /// torch.long, for integer buffers such as BatchNorm's `num_batches_tracked`.
        case int64 = "LongStorage"
    }

    public private(set) var storages: [Storage] = []

    public init() {}

    /// Adds `values` as a tensor of `shape` (`[]` for a scalar) and returns its pickle value.
    public mutating func tensor(_ values: [Float], shape: [Int], type: ElementType = .float32) -> PickleValue {
        precondition(shape.reduce(1, *) == values.count, "a tensor of shape \(shape) needs \(shape.reduce(1, *)) values, not \(values.count)")
        let key = String(storages.count)
        var bytes: [UInt8]
        switch type {
        case .float32:
            bytes = [UInt8](repeating: 0, count: values.count * 4)
            bytes.withUnsafeMutableBytes { raw in
                for (index, value) in values.enumerated() {
                    raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
                }
            }
        case .int64:
            bytes = [UInt8](repeating: 0, count: values.count * 8)
            bytes.withUnsafeMutableBytes { raw in
                for (index, value) in values.enumerated() {
                    raw.storeBytes(of: Int64(value.rounded()).littleEndian, toByteOffset: index * 8, as: Int64.self)
                }
            }
        }
        storages.append(Storage(key: key, bytes: bytes))
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let identifier = PickleValue.tuple([
            .string("storage"), .global(module: "torch", name: type.rawValue), .string(key), .string("cpu"), .int(values.count),
        ])
        return .call(callable: .global(module: "torch._utils", name: "_rebuild_tensor_v2"), arguments: [
            .persistentID(identifier), .int(0), .tuple(shape.map { .int($0) }), .tuple(strides.map { .int($0) }),
            .bool(false), .call(callable: .global(module: "collections", name: "OrderedDict"), arguments: []),
        ])
    }

    /// A state dict as torch's `model.state_dict()` holds it: name → tensor, in order. BatchNorm's
    /// `num_batches_tracked` is written as torch.long, as torch keeps it.
    public mutating func stateDictionary(_ state: StateDictionary) -> PickleValue {
        .dictionary(state.tensors.map { tensor in
            let type: ElementType = tensor.name.hasSuffix(".num_batches_tracked") ? .int64 : .float32
            return PickleDictionaryEntry(key: .string(tensor.name), value: self.tensor(tensor.values, shape: tensor.shape, type: type))
        })
    }
}
