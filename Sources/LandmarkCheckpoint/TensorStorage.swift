/// The element types checkpoints store, with their size on disk. All are read little-endian, the byte order
/// of every platform this package runs on and of every checkpoint torch and safetensors write by default.
enum ElementType: Sendable, Equatable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    var byteCount: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }
}

/// The raw bytes of one storage inside the mapped checkpoint file.
struct StorageBytes {
    let bytes: UnsafeRawBufferPointer
    let type: ElementType

    var elementCount: Int { bytes.count / type.byteCount }

    /// The tensor `storage[offset + Σ index·stride]` as contiguous Float32, after checking that every element
    /// it reaches lies inside the storage.
    func tensor(offset: Int, shape: [Int], strides: [Int], name: String,
                file: String) throws(CheckpointError) -> CheckpointTensor {
        func corrupt(_ reason: String) -> CheckpointError {
            CheckpointError(code: .corrupt, file: file, reason: "tensor '\(name)': \(reason)")
        }
        guard shape.count == strides.count else {
            throw corrupt("\(shape.count) sizes but \(strides.count) strides")
        }
        guard offset >= 0, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
            throw corrupt("negative offset, size or stride (offset \(offset), shape \(shape), strides \(strides))")
        }
        var count = 1
        var lastElement = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) * 64 else { throw corrupt("shape \(shape) is implausibly large") }
            count = product
            if size > 0 {
                let (reach, reachOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
                guard !reachOverflow, reach <= Int(Int32.max) * 64 else { throw corrupt("strides \(strides) are implausibly large") }
                lastElement += reach
            }
        }
        if count == 0 { return CheckpointTensor(shape: shape, values: []) }
        guard lastElement < elementCount else {
            throw corrupt("shape \(shape) with strides \(strides) from offset \(offset) reaches element \(lastElement), "
                + "but its storage holds only \(elementCount) elements")
        }
        // Row-major contiguity ignores strides of dimensions of size 1, which torch sets freely.
        var expectedStride = 1
        var contiguous = true
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            if stride != expectedStride { contiguous = false; break }
            expectedStride *= size
        }
        if contiguous { return CheckpointTensor(shape: shape, values: convert(offset..<(offset + count))) }

        var indices: [Int] = []
        indices.reserveCapacity(count)
        var position = [Int](repeating: 0, count: shape.count)
        var element = offset
        for _ in 0..<count {
            indices.append(element)
            var axis = shape.count - 1
            while axis >= 0 {
                position[axis] += 1
                element += strides[axis]
                if position[axis] < shape[axis] { break }
                element -= strides[axis] * shape[axis]
                position[axis] = 0
                axis -= 1
            }
        }
        return CheckpointTensor(shape: shape, values: convert(indices))
    }

    /// The storage elements at `indices`, converted to Float32; integers convert exactly up to 2^24.
    func convert<Indices: RandomAccessCollection>(_ indices: Indices) -> [Float] where Indices.Element == Int {
        let count = indices.count
        let bytes = self.bytes
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            switch type {
            case .float32:
                if let range = indices as? Range<Int> {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound * 4)..<(range.upperBound * 4)]))
                } else {
                    for (slot, index) in indices.enumerated() {
                        buffer[slot] = bytes.loadUnaligned(fromByteOffset: index * 4, as: Float.self)
                    }
                }
            case .float16:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(Float16(bitPattern: bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                }
            case .bfloat16:
                for (slot, index) in indices.enumerated() {
                    let bits = bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)
                    buffer[slot] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .float64:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(bytes.loadUnaligned(fromByteOffset: index * 8, as: Double.self))
                }
            case .int64:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(bytes.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
                }
            case .int32:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(bytes.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
                }
            case .int16:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(bytes.loadUnaligned(fromByteOffset: index * 2, as: Int16.self))
                }
            case .int8:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(Int8(bitPattern: bytes[index]))
                }
            case .uint8, .bool:
                for (slot, index) in indices.enumerated() {
                    buffer[slot] = Float(bytes[index])
                }
            }
            initialized = count
        }
    }
}
