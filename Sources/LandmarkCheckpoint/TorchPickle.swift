import LandmarkPickle

/// The torch constructs a checkpoint pickle may hold, interpreted from the decoder's symbolic graph:
/// `_rebuild_tensor_v2(storage, offset, size, stride, …)` calls over `('storage', …)` persistent ids.
enum TorchPickle {
    /// A storage as a persistent id names it.
    struct StorageReference {
        var key: String
        var type: ElementType
        /// Elements the pickle declares (zip format); the legacy format declares them beside the data.
        var elementCount: Int
        /// Legacy storage views: the part of the root storage `key` that the tensor's storage is.
        var view: (offset: Int, count: Int)?
    }

    struct TensorRecord {
        var storage: StorageReference
        var offset: Int
        var shape: [Int]
        var strides: [Int]
    }

    static let storageTypes: [String: ElementType] = [
        "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16, "DoubleStorage": .float64,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool,
    ]

    static func unwrapped(_ value: PickleValue) -> PickleValue {
        if case .build(let object, _) = value { return unwrapped(object) }
        return value
    }

    static func storageReference(_ identifier: PickleValue, file: String) throws(CheckpointError) -> StorageReference {
        func corrupt(_ reason: String) -> CheckpointError { CheckpointError(code: .corrupt, file: file, reason: reason) }
        guard let fields = identifier.items, fields.count >= 5, fields[0].text == "storage" else {
            throw corrupt("persistent id \(identifier) is not a ('storage', type, key, location, count) tuple")
        }
        guard case .global(let module, let typeName) = fields[1] else {
            throw corrupt("storage type \(fields[1]) is not a torch storage class")
        }
        guard module == "torch", let type = storageTypes[typeName] else {
            throw CheckpointError(code: .unsupportedDataType, file: file,
                                  reason: "storage of type \(module).\(typeName) cannot be converted to Float32")
        }
        guard let key = fields[2].text, case .int(let count) = fields[4], count >= 0 else {
            throw corrupt("storage persistent id \(identifier) has no text key or no element count")
        }
        var view: (offset: Int, count: Int)?
        if fields.count >= 6, let viewFields = fields[5].items {
            guard viewFields.count == 3, case .int(let offset) = viewFields[1], case .int(let viewCount) = viewFields[2],
                  offset >= 0, viewCount >= 0 else {
                throw corrupt("storage view \(fields[5]) is not (key, offset, count)")
            }
            view = (offset, viewCount)
        }
        return StorageReference(key: key, type: type, elementCount: count, view: view)
    }

    /// The tensor a value rebuilds, or nil when the value is not a tensor at all.
    static func tensorRecord(_ value: PickleValue, name: String, file: String) throws(CheckpointError) -> TensorRecord? {
        guard case .call(.global(let module, let function), let arguments) = unwrapped(value) else { return nil }
        func corrupt(_ reason: String) -> CheckpointError {
            CheckpointError(code: .corrupt, file: file, reason: "tensor '\(name)': \(reason)")
        }
        switch (module, function) {
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard arguments.count >= 4, case .persistentID(let identifier) = arguments[0], case .int(let offset) = arguments[1],
                  let shape = arguments[2].integers, arguments[2].items != nil,
                  let strides = arguments[3].integers, arguments[3].items != nil else {
                throw corrupt("\(function) arguments are not (storage, offset, size, stride, …)")
            }
            return TensorRecord(storage: try storageReference(identifier, file: file), offset: offset, shape: shape, strides: strides)
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = arguments.first else { throw corrupt("\(function) without its data") }
            return try tensorRecord(data, name: name, file: file)
        case ("torch._tensor", "_rebuild_from_type_v2"):
            guard arguments.count >= 3, let inner = arguments[2].items else { throw corrupt("\(function) arguments malformed") }
            return try tensorRecord(.call(callable: arguments[0], arguments: inner), name: name, file: file)
        case ("torch._utils", _) where function.hasPrefix("_rebuild"):
            throw CheckpointError(code: .unsupportedDataType, file: file,
                                  reason: "tensor '\(name)' is rebuilt by torch._utils.\(function) (quantized, sparse or "
                                      + "meta tensors are not supported); save dense float tensors")
        default:
            return nil
        }
    }

    /// The state dict and metadata of a checkpoint's top-level value.
    static func stateDictionary(_ root: PickleValue, file: String) throws(CheckpointError)
        -> (tensors: [(String, TensorRecord)], metadata: [String: PickleValue]) {
        guard case .dictionary(let top) = unwrapped(root) else {
            throw CheckpointError(code: .unsupportedFormat, file: file,
                                  reason: "the checkpoint holds \(describe(root)), not a dictionary; save model.state_dict() instead of the model")
        }
        var stateEntries = top
        var metadata: [String: PickleValue] = [:]
        let wrapperKeys = ["state_dict", "model", "model_state_dict"]
        func entry(_ key: String) -> PickleValue? { top.first { $0.key.text == key }.map { unwrapped($0.value) } }
        var isWrapper = false
        for key in wrapperKeys {
            if case .dictionary(let inner)? = entry(key) {
                stateEntries = inner
                isWrapper = true
                break
            }
        }
        if isWrapper {
            if case .dictionary(let meta)? = entry("meta") {
                for item in meta { if let key = item.key.text { metadata[key] = item.value } }
            }
            // Plain bookkeeping beside the weights (epoch, best score) is metadata too; optimizer state is not.
            for entry in top {
                guard let key = entry.key.text, !wrapperKeys.contains(key), key != "meta", metadata[key] == nil,
                      entry.value.isPlainData else { continue }
                metadata[key] = entry.value
            }
        }
        var tensors: [(String, TensorRecord)] = []
        for entry in stateEntries {
            guard let key = entry.key.text else { continue }
            if let record = try tensorRecord(entry.value, name: key, file: file) { tensors.append((key, record)) }
        }
        if tensors.isEmpty {
            throw CheckpointError(code: .unsupportedFormat, file: file,
                                  reason: "no tensors found: expected a state dict, or a dictionary with a 'state_dict' or 'model' entry")
        }
        return (tensors, metadata)
    }

    /// Every storage the pickle refers to, by key (the legacy format needs their types to skip their data).
    static func storageReferences(in value: PickleValue, file: String,
                                  into references: inout [String: StorageReference]) throws(CheckpointError) {
        switch value {
        case .persistentID(let identifier):
            let reference = try storageReference(identifier, file: file)
            references[reference.key] = reference
        case .list(let items), .tuple(let items):
            for item in items { try storageReferences(in: item, file: file, into: &references) }
        case .dictionary(let entries):
            for entry in entries { try storageReferences(in: entry.value, file: file, into: &references) }
        case .call(let callable, let arguments):
            try storageReferences(in: callable, file: file, into: &references)
            for argument in arguments { try storageReferences(in: argument, file: file, into: &references) }
        case .build(let object, let state):
            try storageReferences(in: object, file: file, into: &references)
            try storageReferences(in: state, file: file, into: &references)
        case .none, .bool, .int, .float, .string, .bytes, .array, .global:
            break
        }
    }

    static func describe(_ value: PickleValue) -> String {
        switch unwrapped(value) {
        case .call(.global(let module, let name), _): return "a \(module).\(name) object"
        case .list: return "a list"
        case .tuple: return "a tuple"
        default: return "a single value"
        }
    }
}
