import Foundation
import LandmarkTensor

/// How a C × H × W feature map becomes one C-vector (METHODS.md §2.3), exactly as cirtorch's
/// pooling layers compute it.
///
/// The result is the layer output *before* L2 normalisation; cirtorch's network applies
/// ``DescriptorNormalization/l2Normalized(_:)`` next. Sums run in `Double` so that large maps do
/// not lose precision that cirtorch's float32 kernels keep through pairwise reduction.
public enum GlobalPooling: Sendable, Hashable, Codable {
    /// Maximum activation per channel.
    case mac
    /// Mean activation per channel (sum pooling up to scale).
    case spoc
    /// Generalised mean: `(mean max(x, ε)^p)^(1/p)` with ε = ``gemEpsilon``.
    case gem(p: Float)
    /// Regional MAC: cirtorch's `rmac(x, L=3, eps=1e-6)` — the whole-map MAC plus the MAC of every
    /// region of a three-scale grid, each L2-normalised, summed.
    case rmac

    /// cirtorch clamps activations at this value before the GeM power, so that dead channels
    /// (all zero after ReLU) give a finite, tiny response rather than 0^(1/p) derivatives.
    public static let gemEpsilon: Float = 1e-6
    /// The GeM exponent when a checkpoint or flag gives none (cirtorch's initial value).
    public static let defaultGeMExponent: Float = 3

    /// The pooling called `name` ("mac", "spoc", "gem", "rmac", as in cirtorch's metadata).
    /// `p` sets the GeM exponent (default 3) and is ignored by the other poolings.
    public init?(name: String, p: Float? = nil) {
        switch name.lowercased() {
        case "mac": self = .mac
        case "spoc": self = .spoc
        case "gem": self = .gem(p: p ?? Self.defaultGeMExponent)
        case "rmac": self = .rmac
        default: return nil
        }
    }

    /// The cirtorch name of this pooling.
    public var name: String {
        switch self {
        case .mac: "mac"
        case .spoc: "spoc"
        case .gem: "gem"
        case .rmac: "rmac"
        }
    }

    /// The exponent cirtorch's multi-scale extraction uses with this pooling (`msp`): GeM's p,
    /// else 1. cirtorch also falls back to 1 when the network pools regionally or whitens
    /// in-network; those are properties of the network, for the caller to apply.
    public var multiScaleExponent: Float {
        if case .gem(let p) = self { return p }
        return 1
    }

    /// The pooled C-vector of `features`, before L2 normalisation.
    /// - Precondition: the map has at least one spatial position.
    /// - Complexity: O(C × H × W) for MAC, SPoC and GeM; R-MAC visits about 20 regions per channel.
    public func callAsFunction(_ features: FeatureMap) -> [Float] {
        precondition(features.planeSize > 0, "cannot pool a feature map with no spatial positions")
        switch self {
        case .mac: return PoolingKernels.maximum(features)
        case .spoc: return PoolingKernels.average(features)
        case .gem(let p): return PoolingKernels.generalisedMean(features, p: p, epsilon: Self.gemEpsilon)
        case .rmac: return RegionalMaximumActivation.pool(features, scales: 3, epsilon: 1e-6)
        }
    }
}

/// Per-channel reductions over whole planes.
enum PoolingKernels {
    static func maximum(_ features: FeatureMap) -> [Float] {
        var result = [Float](repeating: 0, count: features.channels)
        let plane = features.planeSize
        features.storage.withUnsafeBufferPointer { values in
            for channel in 0 ..< features.channels {
                let start = channel * plane
                var best = values[start]
                for index in start + 1 ..< start + plane where values[index] > best {
                    best = values[index]
                }
                result[channel] = best
            }
        }
        return result
    }

    static func average(_ features: FeatureMap) -> [Float] {
        var result = [Float](repeating: 0, count: features.channels)
        let plane = features.planeSize
        features.storage.withUnsafeBufferPointer { values in
            for channel in 0 ..< features.channels {
                var sum: Double = 0
                for index in channel * plane ..< (channel + 1) * plane {
                    sum += Double(values[index])
                }
                result[channel] = Float(sum / Double(plane))
            }
        }
        return result
    }

    static func generalisedMean(_ features: FeatureMap, p: Float, epsilon: Float) -> [Float] {
        var result = [Float](repeating: 0, count: features.channels)
        let plane = features.planeSize
        let exponent = Double(p)
        // cirtorch computes 1/p in float32 (p is a parameter tensor).
        let rootExponent = Double(Float(1) / p)
        features.storage.withUnsafeBufferPointer { values in
            for channel in 0 ..< features.channels {
                var sum: Double = 0
                let range = channel * plane ..< (channel + 1) * plane
                if p == 3 {
                    // The usual exponent; a product is exact where pow would cost ~20× more.
                    for index in range {
                        let value = Double(max(values[index], epsilon))
                        sum += value * value * value
                    }
                } else {
                    for index in range {
                        sum += Foundation.pow(Double(max(values[index], epsilon)), exponent)
                    }
                }
                result[channel] = Float(Foundation.pow(sum / Double(plane), rootExponent))
            }
        }
        return result
    }
}
