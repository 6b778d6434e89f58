import Foundation
import LandmarkTensor

/// R-MAC (Tolias et al.) with cirtorch's region grid (METHODS.md §2.3).
///
/// The grid follows cirtorch's `rmac` to the rounding: square regions of side ⌊2w/(l+1)⌋ at scales
/// l = 1…L (w = the shorter side), spread so neighbours overlap by about 40 %, with extra regions
/// along the longer side. Positions go through float32 arithmetic as cirtorch's torch tensors do,
/// because a floor of a float32 product can land one pixel away from the exact value.
public enum RegionalMaximumActivation {
    /// One square (or, for the whole map, rectangular) window of the feature map.
    public struct Region: Sendable, Hashable {
        public let y: Int
        public let x: Int
        public let height: Int
        public let width: Int

        public init(y: Int, x: Int, height: Int, width: Int) {
            self.y = y
            self.x = x
            self.height = height
            self.width = width
        }
    }

    /// The regions cirtorch pools for an H × W map: the whole map first, then the grid of each
    /// scale, rows of regions top to bottom, each row left to right.
    /// - Complexity: O(L²) regions plus the region-count search over six step sizes.
    public static func regions(height: Int, width: Int, scales: Int = 3) -> [Region] {
        precondition(height > 0 && width > 0, "R-MAC needs a non-empty map")
        let overlap: Float = 0.4
        let shorter = min(height, width)
        let longer = max(height, width)
        // Choose how many regions the longer side gets (steps 2…7) for an overlap closest to 40 %.
        var bestIndex = 0
        var bestError = Float.infinity
        let side = Float(shorter)
        let sideSquared = Float(shorter * shorter)
        for (index, steps) in (2 ... 7).enumerated() {
            let stride = Float(longer - shorter) / Float(steps - 1)
            let error = abs((sideSquared - side * stride) / sideSquared - overlap)
            if error < bestError {
                bestError = error
                bestIndex = index
            }
        }
        let extraColumns = height < width ? bestIndex + 1 : 0
        let extraRows = height > width ? bestIndex + 1 : 0

        var result = [Region(y: 0, x: 0, height: height, width: width)]
        for level in 1 ... max(scales, 1) where scales >= 1 {
            let regionSide = Int((2 * Double(shorter) / Double(level + 1)).rounded(.down))
            guard regionSide > 0 else { continue }
            let halfSide = Int((Double(regionSide) / 2 - 1).rounded(.down))
            let rowStarts = starts(length: height, regionSide: regionSide, halfSide: halfSide, count: level + extraRows)
            let columnStarts = starts(length: width, regionSide: regionSide, halfSide: halfSide, count: level + extraColumns)
            for y in rowStarts {
                for x in columnStarts {
                    result.append(Region(y: y, x: x, height: regionSide, width: regionSide))
                }
            }
        }
        return result
    }

    /// `floor(halfSide + i · b) − halfSide` for i in 0..<count, b = (length − side)/(count − 1),
    /// in float32 as cirtorch's `torch.Tensor(range(n)) * b`.
    private static func starts(length: Int, regionSide: Int, halfSide: Int, count: Int) -> [Int] {
        let step: Float = count == 1 ? 0 : Float(Double(length - regionSide) / Double(count - 1))
        let offset = Float(halfSide)
        return (0 ..< count).map { index in
            let product = Float(index) * step
            let centre = (offset + product).rounded(.down) - offset
            return Int(centre)
        }
    }

    /// cirtorch's `rmac(x, L, eps)`: the sum of the L2-normalised (norm + eps) MAC vectors of all
    /// regions, the whole map included.
    static func pool(_ features: FeatureMap, scales: Int, epsilon: Float) -> [Float] {
        let regions = regions(height: features.height, width: features.width, scales: scales)
        let channels = features.channels
        var sum = [Double](repeating: 0, count: channels)
        var regional = [Float](repeating: 0, count: channels)
        features.storage.withUnsafeBufferPointer { values in
            for region in regions {
                var squares: Double = 0
                for channel in 0 ..< channels {
                    var best = -Float.infinity
                    for y in region.y ..< region.y + region.height {
                        let rowStart = (channel * features.height + y) * features.width
                        for index in rowStart + region.x ..< rowStart + region.x + region.width where values[index] > best {
                            best = values[index]
                        }
                    }
                    regional[channel] = best
                    squares += Double(best) * Double(best)
                }
                let scale = 1 / (squares.squareRoot() + Double(epsilon))
                for channel in 0 ..< channels {
                    sum[channel] += Double(regional[channel]) * scale
                }
            }
        }
        return sum.map { Float($0) }
    }
}
