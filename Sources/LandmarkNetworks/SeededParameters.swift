/// Deterministic pseudo-random network parameters, shared bit for bit with
/// `scripts/fixtures/networks_make_fixtures.py`.
///
/// The reference-equivalence tests need a ResNet whose every weight and BatchNorm statistic is known
/// to both PyTorch and Swift without shipping a 170 MB checkpoint. Each tensor's values depend only on
/// its state-dict key, its shape and a global seed, so either side can regenerate any tensor alone:
/// SplitMix64 seeded with `seed XOR FNV-1a-64(key)`, its top 24 bits mapped exactly onto a float in
/// [-1, 1), then scaled by the tensor's role (see ``values(for:shape:)``). The scales keep activations
/// of order one through 33 bottlenecks, and the BatchNorm statistics are far from the identity, so a
/// wrong fold or a misplaced statistic changes the descriptors.
public struct SeededParameters: Sendable {
    /// The seed the committed fixtures were made with.
    public static let fixtureSeed: UInt64 = 0x1A2B_3C4D_5E6F_7788

    public let seed: UInt64

    public init(seed: UInt64 = SeededParameters.fixtureSeed) {
        self.seed = seed
    }

    /// FNV-1a, 64-bit, over the key's UTF-8 bytes.
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// `count` uniform values in [-1, 1) for `key`; every value is exact in Float (24 significant bits).
    public func uniform(for key: String, count: Int) -> [Float] {
        var state = seed ^ Self.fnv1a64(key)
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { buffer in
            for index in 0 ..< count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var mixed = state
                mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
                mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
                mixed ^= mixed >> 31
                buffer[index] = Float(mixed >> 40) * 0x1p-24 * 2 - 1
            }
        }
        return values
    }

    /// The values of the tensor `key` with `shape`, by its role in a torch state dict:
    /// - 4-D `.weight` (convolution): u · √3 · √(2 / fan-in), a Kaiming-uniform-like range;
    /// - 2-D `.weight` (linear: `fc`, `whiten`): u · √(3 / fan-in);
    /// - 1-D `.weight` (BatchNorm scale): 0.6 + 0.4·|u|, except a bottleneck's last BN (`.bn3.`),
    ///   0.1·|u| + 0.05, which damps each residual branch so that the sums stay tame;
    /// - `.bias` and `running_mean`: 0.1·u; `running_var`: 0.5 + |u|;
    /// - `pool.p` (GeM exponent): 3; `num_batches_tracked`: 0.
    ///
    /// Each step is one single-precision operation, in the order the Python script performs it, so
    /// both sides round identically. Returns nil for a key no rule covers.
    public func values(for key: String, shape: [Int]) -> [Float]? {
        let count = shape.reduce(1, *)
        if key.hasSuffix("num_batches_tracked") { return [Float](repeating: 0, count: count) }
        if key.hasSuffix("pool.p") { return [Float](repeating: 3, count: count) }
        var values = uniform(for: key, count: count)
        if key.hasSuffix("running_mean") || key.hasSuffix(".bias") {
            let scale: Float = 0.1
            for index in values.indices { values[index] = scale * values[index] }
        } else if key.hasSuffix("running_var") {
            let offset: Float = 0.5
            for index in values.indices { values[index] = offset + abs(values[index]) }
        } else if key.hasSuffix(".weight"), shape.count == 4 {
            let fanIn = shape[1] * shape[2] * shape[3]
            let scale = Float(3.0.squareRoot() * (2.0 / Double(fanIn)).squareRoot())
            for index in values.indices { values[index] = scale * values[index] }
        } else if key.hasSuffix(".weight"), shape.count == 2 {
            let scale = Float((3.0 / Double(shape[1])).squareRoot())
            for index in values.indices { values[index] = scale * values[index] }
        } else if key.hasSuffix(".weight"), shape.count == 1 {
            if key.contains(".bn3.") {
                let scale: Float = 0.1, offset: Float = 0.05
                for index in values.indices { values[index] = scale * abs(values[index]) + offset }
            } else {
                let scale: Float = 0.4, offset: Float = 0.6
                for index in values.indices { values[index] = offset + scale * abs(values[index]) }
            }
        } else {
            return nil
        }
        return values
    }
}
