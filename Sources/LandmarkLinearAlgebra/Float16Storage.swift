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
public func convertFloat16(_ source: UnsafeBufferPointer<Float16>, into target: UnsafeMutableBufferPointer<Float>) {
    precondition(source.count == target.count, "Float16 conversion needs equal counts")
    for index in source.indices { target[index] = Float(source[index]) }
}

/// Rounds `source` into `target` (same count) without allocating; for writing stores.
public func convertToFloat16(_ source: UnsafeBufferPointer<Float>, into target: UnsafeMutableBufferPointer<Float16>) {
    precondition(source.count == target.count, "Float16 conversion needs equal counts")
    for index in source.indices { target[index] = Float16(source[index]) }
}
