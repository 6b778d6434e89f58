import LandmarkIndex
import LandmarkLinearAlgebra

/// Deterministic generator (SplitMix64) for the ASMK tests, so failures reproduce.
struct ASMKTestGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &self) }
}

/// Rows `centre + noise` for each listed pattern, noise uniform in ±`noise` per component.
func asmkNoisyRows(_ patterns: [[Float]], noise: Float, generator: inout ASMKTestGenerator) -> Matrix {
    Matrix(rowVectors: patterns.map { pattern in pattern.map { $0 + generator.uniform(-noise ... noise) } })
}

extension ASMKIndex {
    /// One query image's results.
    func searchOne(_ descriptors: Matrix, k: Int) -> [Neighbor] { search([descriptors], k: k)[0] }
}
