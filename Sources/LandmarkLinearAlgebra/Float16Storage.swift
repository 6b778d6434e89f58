// Half-precision storage halves the size of descriptor stores and of the memory-bandwidth bound
// part of search; arithmetic always happens in Float32, so these are only storage conversions.

/// `values` rounded to half precision (round-to-nearest-even; beyond ±65504 becomes ±infinity).
public func toFloat16(_ values: [Float]) -> [Float16] {
    values.map { Float16($0) }
}

/// Half-precision `values` widened exactly to `Float`.
public func fromFloat16(_ values: [Float16]) -> [Float] {
    values.map { Float($0) }
}

/// Widens `source` into `target` (same count) without allocating; for reading mapped stores.
///
/// By table lookup: the generic x86-64 target has no half-precision instructions, so `Float(Float16)`
/// is a library call per value, which made every row an approximate index reads from a float16 store
/// cost more than scoring it. The table is exact by construction (a test compares all 65,536 values).
public func convertFloat16(_ source: UnsafeBufferPointer<Float16>, into target: UnsafeMutableBufferPointer<Float>) {
    precondition(source.count == target.count, "Float16 conversion needs equal counts")
    guard let sourceBase = source.baseAddress, let targetBase = target.baseAddress else { return }
    let bits = UnsafeRawPointer(sourceBase).assumingMemoryBound(to: UInt16.self)
    float16Widening.withUnsafeBufferPointer { table in
        guard let values = table.baseAddress else { return }
        for index in 0 ..< source.count { targetBase[index] = values[Int(bits[index])] }
    }
}

/// Every half-precision bit pattern widened to `Float` (256 KB, built on first use).
private let float16Widening: [Float] = (0 ... UInt16.max).map { Float(Float16(bitPattern: $0)) }

/// Rounds `source` into `target` (same count) without allocating; for writing stores.
public func convertToFloat16(_ source: UnsafeBufferPointer<Float>, into target: UnsafeMutableBufferPointer<Float16>) {
    precondition(source.count == target.count, "Float16 conversion needs equal counts")
    for index in source.indices { target[index] = Float16(source[index]) }
}
