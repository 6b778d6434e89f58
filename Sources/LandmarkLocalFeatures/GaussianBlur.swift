import CVectorKernels
import Foundation

/// A single-channel float image, row-major.
struct Plane: Sendable {
    var width: Int
    var height: Int
    var pixels: [Float]
}

/// Pointers shared by the chunks of one parallel loop; each chunk writes a disjoint part.
struct SharedBuffers: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

/// Runs `body` over `0 ..< count` split into at most `parallelism` contiguous chunks, on the
/// caller's thread when one chunk suffices.
func forEachChunk(of count: Int, parallelism: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(max(parallelism, 1), count)
    guard chunks > 1 else {
        if count > 0 { body(0 ..< count) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        body(count * chunk / chunks ..< count * (chunk + 1) / chunks)
    }
}

/// Index into `0 ..< count` mirrored without repeating the edge sample (OpenCV's BORDER_REFLECT_101),
/// folded repeatedly so kernels wider than the image stay in range.
@inline(__always)
func reflect101(_ index: Int, _ count: Int) -> Int {
    guard count > 1 else { return 0 }
    var index = index
    while index < 0 || index >= count {
        if index < 0 { index = -index }
        if index >= count { index = 2 * count - 2 - index }
    }
    return index
}

/// Separable Gaussian filtering with OpenCV's kernel size rule for float images, so the scale space
/// matches the reference's sampling.
enum GaussianBlur {
    /// Centre and one half of the normalised symmetric kernel (size `round(8σ + 1) | 1`).
    static func halfKernel(sigma: Double) -> [Float] {
        let size = Int((sigma * 8 + 1).rounded(.toNearestOrEven)) | 1
        let radius = size / 2
        var weights = [Double](repeating: 0, count: radius + 1)
        var sum = 0.0
        for offset in 0...radius {
            let weight = exp(-Double(offset * offset) / (2 * sigma * sigma))
            weights[offset] = weight
            sum += offset == 0 ? weight : 2 * weight
        }
        return weights.map { Float($0 / sum) }
    }

    /// - Parameter vectorized: through the AVX-512 kernel when the processor has it (bit-identical; false
    ///   runs the Swift loops, for the test that compares them).
    static func apply(_ source: Plane, sigma: Double, parallelism: Int,
                      vectorized: Bool = landmark_separable_blur_available() != 0) -> Plane {
        let width = source.width, height = source.height
        var output = [Float](repeating: 0, count: width * height)
        guard width > 0, height > 0 else { return Plane(width: width, height: height, pixels: output) }
        let kernel = halfKernel(sigma: sigma)
        let radius = kernel.count - 1
        source.pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                guard let inputBase = input.baseAddress, let outputBase = result.baseAddress else { return }
                let shared = SharedBuffers(input: inputBase, output: outputBase)
                forEachChunk(of: height, parallelism: parallelism) { rows in
                    kernel.withUnsafeBufferPointer { weights in
                        filterRows(rows, shared: shared, width: width, height: height, weights: weights,
                                   radius: radius, vectorized: vectorized)
                    }
                }
            }
        }
        return Plane(width: width, height: height, pixels: output)
    }

    /// Vertical pass into a padded row buffer, then the horizontal pass from it, one output row at a time so
    /// the working set stays in cache.
    static func filterRows(_ rows: Range<Int>, shared: SharedBuffers, width: Int, height: Int,
                           weights: UnsafeBufferPointer<Float>, radius: Int,
                           vectorized: Bool = landmark_separable_blur_available() != 0) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: width + 2 * radius)
        defer { buffer.deallocate() }
        if vectorized, radius <= 64 {
            // Sixteen lanes, the same operations in the same order: the same bits as the loops below.
            landmark_separable_blur_rows(shared.input, shared.output, width, height, weights.baseAddress, radius,
                                         rows.lowerBound, rows.upperBound, buffer)
            return
        }
        let row = buffer + radius
        let centre = weights[0]
        for y in rows {
            let middle = shared.input + y * width
            for x in 0..<width { row[x] = centre * middle[x] }
            if radius > 0 {
                for offset in 1...radius {
                    let up = shared.input + reflect101(y - offset, height) * width
                    let down = shared.input + reflect101(y + offset, height) * width
                    let weight = weights[offset]
                    for x in 0..<width { row[x] += weight * (up[x] + down[x]) }
                }
                for offset in 1...radius {
                    row[-offset] = row[reflect101(-offset, width)]
                    row[width - 1 + offset] = row[reflect101(width - 1 + offset, width)]
                }
            }
            let destination = shared.output + y * width
            for x in 0..<width { destination[x] = centre * row[x] }
            if radius > 0 {
                for offset in 1...radius {
                    let weight = weights[offset]
                    let left = row - offset, right = row + offset
                    for x in 0..<width { destination[x] += weight * (left[x] + right[x]) }
                }
            }
        }
    }
}
