@testable import LandmarkLinearAlgebra

/// Deterministic generator (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    var generator = SeededGenerator(seed: seed)
    return Matrix(rows: rows, columns: columns,
                  storage: (0 ..< rows * columns).map { _ in Float.random(in: -1 ... 1, using: &generator) })
}

/// Every library the tests can reach, so both code paths are verified whichever one is active.
var availableBackends: [BLASBackend] {
    [BLASBackend.debian] + (BLASBackend.scipyOpenBLAS.map { [$0] } ?? [])
}
