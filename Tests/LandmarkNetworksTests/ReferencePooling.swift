import Foundation
import LandmarkTensor

/// Minimal single-precision versions of cirtorch's pooling, L2N and multi-scale combination, so that
/// the network tests compare whole descriptors without depending on LandmarkDescriptors (whose own
/// tests check its pooling against the reference).
enum TestPooling {
    static let epsilon: Float = 1e-6

    static func mac(_ map: FeatureMap, rows: Range<Int>? = nil, columns: Range<Int>? = nil) -> [Float] {
        let rows = rows ?? 0 ..< map.height, columns = columns ?? 0 ..< map.width
        return (0 ..< map.channels).map { channel in
            var largest = -Float.infinity
            for y in rows {
                for x in columns { largest = max(largest, map[channel, y, x]) }
            }
            return largest
        }
    }

    static func spoc(_ map: FeatureMap) -> [Float] {
        let plane = map.planeSize
        return (0 ..< map.channels).map { channel in
            var sum = 0.0
            for index in channel * plane ..< (channel + 1) * plane { sum += Double(map.storage[index]) }
            return Float(sum / Double(plane))
        }
    }

    static func gem(_ map: FeatureMap, p: Float) -> [Float] {
        let plane = map.planeSize
        return (0 ..< map.channels).map { channel in
            var sum = 0.0
            for index in channel * plane ..< (channel + 1) * plane {
                sum += Double(powf(max(map.storage[index], epsilon), p))
            }
            return powf(Float(sum / Double(plane)), 1 / p)
        }
    }

    /// cirtorch's L2N: x / (‖x‖ + ε).
    static func l2n(_ vector: [Float]) -> [Float] {
        let norm = Float(vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        return vector.map { $0 / (norm + epsilon) }
    }

    /// cirtorch's R-MAC (L = 3, 40 % overlap): the L2N'd MAC of the whole map plus those of a grid of
    /// square regions per level; region placement computed in single precision as torch does.
    static func rmac(_ map: FeatureMap, levels: Int = 3) -> [Float] {
        let width = map.width, height = map.height
        let side = min(width, height)
        var stepIndex = 0
        var best = Float.infinity
        for (index, steps) in [2, 3, 4, 5, 6, 7].enumerated() {
            let b = Float(max(height, width) - side) / Float(steps - 1)
            let sideSquared = Float(side * side)
            let value = abs((sideSquared - Float(side) * b) / sideSquared - 0.4)
            if value < best {
                best = value
                stepIndex = index
            }
        }
        var extraW = 0, extraH = 0
        if height < width { extraW = stepIndex + 1 } else if height > width { extraH = stepIndex + 1 }
        var result = l2n(mac(map))
        for level in 1 ... levels {
            let regionSide = Int((2 * Double(side) / Double(level + 1)).rounded(.down))
            let half = Int((Double(regionSide) / 2 - 1).rounded(.down))
            guard regionSide > 0 else { continue }
            func centres(_ extra: Int, _ length: Int) -> [Int] {
                let step: Float = level + extra == 1 ? 0 : Float(Double(length - regionSide) / Double(level + extra - 1))
                return (0 ..< level + extra).map { Int((Float(half) + Float($0) * step).rounded(.down)) - half }
            }
            for top in centres(extraH, height) {
                for left in centres(extraW, width) {
                    let region = l2n(mac(map, rows: top ..< top + regionSide, columns: left ..< left + regionSide))
                    for index in result.indices { result[index] += region[index] }
                }
            }
        }
        return result
    }

    /// A pooling by cirtorch's name, followed by the network's L2N.
    static func descriptor(_ map: FeatureMap, pooling: String, p: Float = 3) -> [Float] {
        switch pooling {
        case "mac": return l2n(mac(map))
        case "spoc": return l2n(spoc(map))
        case "rmac": return l2n(rmac(map))
        default: return l2n(gem(map, p: p))
        }
    }

    /// cirtorch's extract_ms combination: mean of x^msp over scales, ^(1/msp), divided by its norm.
    static func combine(_ perScale: [[Float]], exponent: Float) -> [Float] {
        var sum = [Float](repeating: 0, count: perScale[0].count)
        for descriptor in perScale {
            for index in sum.indices { sum[index] += powf(descriptor[index], exponent) }
        }
        let combined = sum.map { powf($0 / Float(perScale.count), 1 / exponent) }
        let norm = Float(combined.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        return combined.map { $0 / norm }
    }
}
