/// cirtorch's L2 normalisation.
public enum DescriptorNormalization {
    /// cirtorch's `l2n`: `x / (‖x‖ + ε)`. The ε keeps all-zero vectors at zero and shifts every
    /// other vector's norm by about 1e-6 — kept so that descriptors match the reference to the bit
    /// budget the fixtures test, not only in direction.
    public static let epsilon: Float = 1e-6

    /// `vector / (‖vector‖₂ + epsilon)`, the norm accumulated in `Double`.
    public static func l2Normalized(_ vector: [Float], epsilon: Float = DescriptorNormalization.epsilon) -> [Float] {
        var result = vector
        result.withUnsafeMutableBufferPointer { normalize($0, epsilon: epsilon) }
        return result
    }

    static func normalize(_ values: UnsafeMutableBufferPointer<Float>, epsilon: Float) {
        var sum: Double = 0
        for value in values { sum += Double(value) * Double(value) }
        let scale = 1 / (sum.squareRoot() + Double(epsilon))
        for index in values.indices { values[index] = Float(Double(values[index]) * scale) }
    }
}
