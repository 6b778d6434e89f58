import Foundation

/// How cirtorch's `extract_ms` merges one image's descriptors from several input scales
/// (METHODS.md §2.4).
///
/// cirtorch uses the GeM exponent as `exponent` when the network pools with GeM (and has no
/// regional pooling or in-network whitening), and 1 — a plain mean — otherwise.
public enum MultiScaleCombination {
    /// Mean over scales of `v^exponent`, then `^(1/exponent)`, then division by the L2 norm.
    ///
    /// Unlike the pooling layers' normalisation, `extract_ms` divides by the bare norm (no ε); an
    /// all-zero result stays zero. With an exponent other than 1 the descriptors must be
    /// non-negative (GeM and MAC outputs are), as a fractional power of a negative value is NaN —
    /// in cirtorch too.
    /// - Precondition: at least one descriptor; all of the same length.
    /// - Complexity: O(scales × dimension).
    public static func combine(_ descriptors: [[Float]], exponent: Float) -> [Float] {
        precondition(!descriptors.isEmpty, "multi-scale combination needs at least one descriptor")
        let dimension = descriptors[0].count
        precondition(descriptors.allSatisfy { $0.count == dimension }, "descriptors differ in length")
        var sums = [Double](repeating: 0, count: dimension)
        let power = Double(exponent)
        for descriptor in descriptors {
            for index in 0 ..< dimension {
                let value = Double(descriptor[index])
                sums[index] += exponent == 1 ? value : Foundation.pow(value, power)
            }
        }
        let count = Double(descriptors.count)
        let root = 1 / power
        var combined = sums.map { exponent == 1 ? $0 / count : Foundation.pow($0 / count, root) }
        let norm = combined.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 {
            for index in combined.indices { combined[index] /= norm }
        }
        return combined.map { Float($0) }
    }
}
