import Foundation
import LandmarkPickle

/// safetensors: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the raw little-endian data
/// that the offsets index (relative to the end of the header).
enum SafetensorsFormat {
    private enum HeaderItem: Decodable {
        case tensor(dtype: String, shape: [Int], offsets: [Int])
        case metadata([String: String])

        private enum Keys: String, CodingKey { case dtype, shape, data_offsets }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            if let dtype = try container.decodeIfPresent(String.self, forKey: .dtype) {
                self = .tensor(dtype: dtype, shape: try container.decode([Int].self, forKey: .shape),
                               offsets: try container.decode([Int].self, forKey: .data_offsets))
            } else {
                self = .metadata(try decoder.singleValueContainer().decode([String: String].self))
            }
        }
    }

    static let elementTypes: [String: ElementType] = [
        "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64,
        "I64": .int64, "I32": .int32, "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
    ]

    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) -> Checkpoint {
        func corrupt(_ reason: String) -> CheckpointError { CheckpointError(code: .corrupt, file: file, reason: "safetensors: \(reason)") }
        let headerLength = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw CheckpointError(code: .truncated, file: file,
                                  reason: "safetensors header of \(headerLength) bytes runs past the end of the \(bytes.count)-byte file")
        }
        let dataStart = 8 + Int(headerLength)
        let header: [String: HeaderItem]
        do {
            header = try JSONDecoder().decode([String: HeaderItem].self, from: Data(bytes[8..<dataStart]))
        } catch {
            throw corrupt("the header is not the expected JSON (\(error))")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
        var tensors: [String: CheckpointTensor] = [:]
        var metadata: [String: PickleValue] = [:]
        for (name, item) in header {
            switch item {
            case .metadata(let strings):
                guard name == "__metadata__" else { throw corrupt("entry '\(name)' has no dtype") }
                for (key, value) in strings { metadata[key] = .string(value) }
            case .tensor(let dtype, let shape, let offsets):
                guard let type = elementTypes[dtype] else {
                    throw CheckpointError(code: .unsupportedDataType, file: file,
                                          reason: "tensor '\(name)' has dtype \(dtype), which cannot be converted to Float32")
                }
                guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                    throw corrupt("tensor '\(name)' has data_offsets \(offsets), not [begin, end] with begin ≤ end")
                }
                guard offsets[1] <= data.count else {
                    throw CheckpointError(code: .truncated, file: file,
                                          reason: "safetensors tensor '\(name)' ends at data byte \(offsets[1]), the file holds \(data.count)")
                }
                var count = 1
                for size in shape {
                    let (product, overflow) = count.multipliedReportingOverflow(by: size)
                    guard size >= 0, !overflow else { throw corrupt("tensor '\(name)' has an invalid shape \(shape)") }
                    count = product
                }
                let (byteCount, overflow) = count.multipliedReportingOverflow(by: type.byteCount)
                guard !overflow, byteCount == offsets[1] - offsets[0] else {
                    throw corrupt("tensor '\(name)' of shape \(shape) and dtype \(dtype) needs \(byteCount) bytes, "
                        + "its offsets span \(offsets[1] - offsets[0])")
                }
                let storage = StorageBytes(bytes: UnsafeRawBufferPointer(rebasing: data[offsets[0]..<offsets[1]]), type: type)
                var strides = [Int](repeating: 1, count: shape.count)
                for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
                tensors[name] = try storage.tensor(offset: 0, shape: shape, strides: strides, name: name, file: file)
            }
        }
        return Checkpoint(tensors: tensors, metadata: metadata, file: file)
    }
}
