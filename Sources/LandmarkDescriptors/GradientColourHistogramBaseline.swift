import Foundation
import LandmarkImage

/// A weight-free **baseline** global descriptor, so that the whole pipeline (index, search, evaluation)
/// runs before any CNN weights are available, and so that the CNN descriptors have a floor to beat.
///
/// It concatenates three blocks, each Hellinger-mapped (square root) and L2-normalised, then weighted:
/// - gradient-orientation histograms (8 orientations, soft-binned) over a spatial pyramid of 1×1, 2×2 and
///   4×4 cells with bilinear cell assignment — the shape of the façade, tolerant to small shifts;
/// - RGB colour histograms (4×4×4 bins) over the whole image and over 2×2 cells — materials and light;
/// - an 8×8 zero-mean "tiny image" — the coarse layout.
///
/// This is not a METHODS.md method; it is clearly a baseline and its name says so.
public struct GradientColourHistogramBaseline: GlobalDescriptorExtractor {
    /// The name stored in indexes built with this descriptor.
    public static let name = "baseline-gradient-colour"

    static let orientationBins = 8
    static let pyramidLevels = [1, 2, 4]
    static let colourBinsPerChannel = 4
    static let colourGrids = [1, 2]
    static let tinySide = 8
    static let weights: (gradient: Float, colour: Float, tiny: Float) = (1.0, 0.8, 0.5)

    public var name: String { Self.name }
    public let inputSize: Int

    public var dimension: Int {
        let gradient = Self.pyramidLevels.reduce(0) { $0 + $1 * $1 } * Self.orientationBins
        let colourBins = Self.colourBinsPerChannel * Self.colourBinsPerChannel * Self.colourBinsPerChannel
        let colour = Self.colourGrids.reduce(0) { $0 + $1 * $1 } * colourBins
        return gradient + colour + Self.tinySide * Self.tinySide
    }

    /// - Parameter inputSize: longer image side the descriptor is computed at.
    public init(inputSize: Int = 256) {
        precondition(inputSize >= 16, "inputSize must be at least 16 pixels")
        self.inputSize = inputSize
    }

    public func describe(_ image: RGBImage) throws(DescriptorError) -> [Float] {
        guard image.width >= 4, image.height >= 4 else {
            throw DescriptorError(code: .imageTooSmall,
                                  reason: "\(image.width)×\(image.height) pixels; at least 4×4 are needed")
        }
        let luma = image.grayscale()
        var gradient = gradientHistograms(luma: luma, width: image.width, height: image.height)
        var colour = colourHistograms(image)
        var tiny = tinyImage(luma: luma, width: image.width, height: image.height)
        Self.hellingerNormalize(&gradient, weight: Self.weights.gradient)
        Self.hellingerNormalize(&colour, weight: Self.weights.colour)
        Self.normalize(&tiny, weight: Self.weights.tiny)
        var descriptor = gradient + colour + tiny
        Self.normalize(&descriptor, weight: 1)
        return descriptor
    }

    // MARK: - Blocks

    private func gradientHistograms(luma: [Float], width: Int, height: Int) -> [Float] {
        let bins = Self.orientationBins
        var histogram = [Float](repeating: 0, count: dimensionOfGradientBlock)
        // Bilinear cell assignment per level, precomputed per column and per row so the pixel loop only
        // does table look-ups.
        let levels = Self.pyramidLevels.map { grid in
            (grid: grid, columns: Self.cellAssignment(length: width, grid: grid),
             rows: Self.cellAssignment(length: height, grid: grid))
        }
        var offsets: [Int] = []
        var running = 0
        for level in Self.pyramidLevels {
            offsets.append(running)
            running += level * level * bins
        }
        let binScale = Float(bins) / (2 * Float.pi)
        luma.withUnsafeBufferPointer { pixels in
            histogram.withUnsafeMutableBufferPointer { output in
                for y in 1..<(height - 1) {
                    for x in 1..<(width - 1) {
                        let index = y * width + x
                        let gx = pixels[index + 1] - pixels[index - 1]
                        let gy = pixels[index + width] - pixels[index - width]
                        let magnitude = (gx * gx + gy * gy).squareRoot()
                        if magnitude < 1e-3 { continue }
                        var angle = Float(atan2(Double(gy), Double(gx)))
                        if angle < 0 { angle += 2 * Float.pi }
                        let position = angle * binScale - 0.5
                        let lower = Int(position.rounded(.down))
                        let fraction = position - Float(lower)
                        let binA = (lower + bins) % bins
                        let binB = (lower + 1 + bins) % bins
                        for levelIndex in levels.indices {
                            let level = levels[levelIndex]
                            let column = level.columns[x], row = level.rows[y]
                            for (cellY, weightY) in [(row.first, row.firstWeight), (row.second, 1 - row.firstWeight)]
                            where cellY >= 0 && weightY > 0 {
                                for (cellX, weightX) in [(column.first, column.firstWeight),
                                                         (column.second, 1 - column.firstWeight)]
                                where cellX >= 0 && weightX > 0 {
                                    let base = offsets[levelIndex] + (cellY * level.grid + cellX) * bins
                                    let weight = magnitude * weightX * weightY
                                    output[base + binA] += weight * (1 - fraction)
                                    output[base + binB] += weight * fraction
                                }
                            }
                        }
                    }
                }
            }
        }
        return histogram
    }

    /// For each pixel position along one axis, the two nearest cell centres of a `grid`-cell split and the
    /// weight of the first; a cell index of -1 means "outside", so a feature moving across a cell border
    /// changes the histogram smoothly.
    private static func cellAssignment(length: Int, grid: Int)
        -> [(first: Int, second: Int, firstWeight: Float)] {
        (0..<length).map { position in
            if grid == 1 { return (0, -1, 1) }
            let centre = (Float(position) + 0.5) / Float(length) * Float(grid) - 0.5
            let lower = Int(centre.rounded(.down))
            let fraction = centre - Float(lower)
            let first = lower >= 0 ? lower : -1
            let second = lower + 1 < grid ? lower + 1 : -1
            return (first, second, 1 - fraction)
        }
    }

    private var dimensionOfGradientBlock: Int {
        Self.pyramidLevels.reduce(0) { $0 + $1 * $1 } * Self.orientationBins
    }

    private func colourHistograms(_ image: RGBImage) -> [Float] {
        let perChannel = Self.colourBinsPerChannel
        let binsPerCell = perChannel * perChannel * perChannel
        var offsets: [Int] = []
        var running = 0
        for grid in Self.colourGrids {
            offsets.append(running)
            running += grid * grid * binsPerCell
        }
        var histogram = [Float](repeating: 0, count: running)
        let shift = 8 - perChannel.trailingZeroBitCount
        let width = image.width, height = image.height
        image.pixels.withUnsafeBufferPointer { pixels in
            histogram.withUnsafeMutableBufferPointer { output in
                for y in 0..<height {
                    for x in 0..<width {
                        let p = (y * width + x) * 3
                        let r = Int(pixels[p]) >> shift
                        let g = Int(pixels[p + 1]) >> shift
                        let b = Int(pixels[p + 2]) >> shift
                        let bin = (r * perChannel + g) * perChannel + b
                        for (gridIndex, grid) in Self.colourGrids.enumerated() {
                            let cellX = min(x * grid / width, grid - 1)
                            let cellY = min(y * grid / height, grid - 1)
                            output[offsets[gridIndex] + (cellY * grid + cellX) * binsPerCell + bin] += 1
                        }
                    }
                }
            }
        }
        return histogram
    }

    private func tinyImage(luma: [Float], width: Int, height: Int) -> [Float] {
        let side = Self.tinySide
        var sums = [Float](repeating: 0, count: side * side)
        var counts = [Float](repeating: 0, count: side * side)
        for y in 0..<height {
            let cellY = min(y * side / height, side - 1)
            for x in 0..<width {
                let cellX = min(x * side / width, side - 1)
                sums[cellY * side + cellX] += luma[y * width + x]
                counts[cellY * side + cellX] += 1
            }
        }
        var tiny = zip(sums, counts).map { $1 > 0 ? $0 / $1 : 0 }
        let mean = tiny.reduce(0, +) / Float(tiny.count)
        for index in tiny.indices { tiny[index] -= mean }
        return tiny
    }

    // MARK: - Helpers

    static func hellingerNormalize(_ values: inout [Float], weight: Float) {
        for index in values.indices { values[index] = values[index].squareRoot() }
        normalize(&values, weight: weight)
    }

    static func normalize(_ values: inout [Float], weight: Float) {
        var sum: Float = 0
        for value in values { sum += value * value }
        let norm = sum.squareRoot()
        guard norm > 0 else { return }
        let scale = weight / norm
        for index in values.indices { values[index] *= scale }
    }
}
