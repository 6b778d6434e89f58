import Foundation
import LandmarkLinearAlgebra

/// Gaussian and difference-of-Gaussians pyramids of one image, with OpenCV 4.6's SIFT detection and
/// description on top of them.
struct ScaleSpace: Sendable {
    static let imageBorder = 5
    static let maximumInterpolationSteps = 5
    static let orientationBins = 36
    static let orientationPeakRatio: Float = 0.8
    static let orientationSigmaFactor: Float = 1.5
    static let orientationRadiusFactor: Float = 3 * 1.5
    static let descriptorWidth = 4
    static let descriptorBins = 8
    static let descriptorScaleFactor: Float = 3
    static let descriptorMagnitudeThreshold: Float = 0.2
    static let descriptorIntegerFactor: Float = 512

    let configuration: SIFTConfiguration
    let firstOctave: Int
    let octaveCount: Int
    /// `octaveCount × (octaveLayers + 3)` blurred images.
    let gaussians: [Plane]
    /// `octaveCount × (octaveLayers + 2)` differences.
    let differences: [Plane]

    init(grayscale: [Float], width: Int, height: Int, configuration: SIFTConfiguration) {
        self.configuration = configuration
        let threads = max(configuration.threads, 1)
        let sigma = Double(configuration.sigma)
        let initialSigma = 0.5
        var base: Plane
        if configuration.upsampleInput {
            firstOctave = -1
            let difference = max(sigma * sigma - initialSigma * initialSigma * 4, 0.01).squareRoot()
            base = GaussianBlur.apply(Self.doubled(Plane(width: width, height: height, pixels: grayscale)),
                                      sigma: difference, parallelism: threads)
        } else {
            firstOctave = 0
            let difference = max(sigma * sigma - initialSigma * initialSigma, 0.01).squareRoot()
            base = GaussianBlur.apply(Plane(width: width, height: height, pixels: grayscale), sigma: difference,
                                      parallelism: threads)
        }
        let smaller = Double(min(base.width, base.height))
        let count = Int((log2(smaller) - 2).rounded(.toNearestOrEven)) - firstOctave
        octaveCount = max(count, 0)
        let layers = configuration.octaveLayers
        var levelSigmas = [Double](repeating: sigma, count: layers + 3)
        let step = pow(2.0, 1.0 / Double(layers))
        for level in 1 ..< layers + 3 {
            let previous = pow(step, Double(level - 1)) * sigma
            let total = previous * step
            levelSigmas[level] = (total * total - previous * previous).squareRoot()
        }
        var gaussians: [Plane] = []
        gaussians.reserveCapacity(octaveCount * (layers + 3))
        for octave in 0 ..< octaveCount {
            for level in 0 ..< layers + 3 {
                if octave == 0 && level == 0 {
                    gaussians.append(base)
                } else if level == 0 {
                    gaussians.append(Self.halved(gaussians[(octave - 1) * (layers + 3) + layers]))
                } else {
                    gaussians.append(GaussianBlur.apply(gaussians[octave * (layers + 3) + level - 1],
                                                        sigma: levelSigmas[level], parallelism: threads))
                }
            }
        }
        base = Plane(width: 0, height: 0, pixels: [])
        var differences: [Plane] = []
        differences.reserveCapacity(octaveCount * (layers + 2))
        for octave in 0 ..< octaveCount {
            for level in 0 ..< layers + 2 {
                let lower = gaussians[octave * (layers + 3) + level], upper = gaussians[octave * (layers + 3) + level + 1]
                var pixels = [Float](repeating: 0, count: lower.pixels.count)
                upper.pixels.withUnsafeBufferPointer { a in
                    lower.pixels.withUnsafeBufferPointer { b in
                        pixels.withUnsafeMutableBufferPointer { d in
                            for index in 0 ..< d.count { d[index] = a[index] - b[index] }
                        }
                    }
                }
                differences.append(Plane(width: lower.width, height: lower.height, pixels: pixels))
            }
        }
        self.gaussians = gaussians
        self.differences = differences
    }

    /// ×2 bilinear enlargement with pixel-centre alignment and replicated edges (OpenCV INTER_LINEAR).
    static func doubled(_ source: Plane) -> Plane {
        let width = source.width, height = source.height
        let outWidth = width * 2, outHeight = height * 2
        var rowsDoubled = [Float](repeating: 0, count: outWidth * height)
        var output = [Float](repeating: 0, count: outWidth * outHeight)
        source.pixels.withUnsafeBufferPointer { s in
            rowsDoubled.withUnsafeMutableBufferPointer { h in
                for y in 0 ..< height {
                    let row = y * width, out = y * outWidth
                    for x in 0 ..< width {
                        let left = s[row + max(x - 1, 0)], centre = s[row + x], right = s[row + min(x + 1, width - 1)]
                        h[out + 2 * x] = 0.25 * left + 0.75 * centre
                        h[out + 2 * x + 1] = 0.75 * centre + 0.25 * right
                    }
                }
            }
        }
        rowsDoubled.withUnsafeBufferPointer { h in
            output.withUnsafeMutableBufferPointer { o in
                for y in 0 ..< height {
                    let above = max(y - 1, 0) * outWidth, centre = y * outWidth, below = min(y + 1, height - 1) * outWidth
                    let first = 2 * y * outWidth, second = (2 * y + 1) * outWidth
                    for x in 0 ..< outWidth {
                        o[first + x] = 0.25 * h[above + x] + 0.75 * h[centre + x]
                        o[second + x] = 0.75 * h[centre + x] + 0.25 * h[below + x]
                    }
                }
            }
        }
        return Plane(width: outWidth, height: outHeight, pixels: output)
    }

    /// Every other pixel (OpenCV INTER_NEAREST at exactly half size).
    static func halved(_ source: Plane) -> Plane {
        let width = source.width / 2, height = source.height / 2
        var output = [Float](repeating: 0, count: width * height)
        source.pixels.withUnsafeBufferPointer { s in
            output.withUnsafeMutableBufferPointer { o in
                for y in 0 ..< height {
                    for x in 0 ..< width { o[y * width + x] = s[2 * y * source.width + 2 * x] }
                }
            }
        }
        return Plane(width: width, height: height, pixels: output)
    }

    // MARK: - Detection

    /// All oriented keypoints, in the coordinates of the first octave's image (before the first-octave rescale).
    func detect() -> [Keypoint] {
        let layers = configuration.octaveLayers
        let threshold = Float(Int((0.5 * Double(configuration.contrastThreshold) / Double(layers) * 255)
            .rounded(.down)))
        struct Task { var octave: Int; var layer: Int; var rows: Range<Int> }
        var tasks: [Task] = []
        for octave in 0 ..< octaveCount {
            let plane = differences[octave * (layers + 2)]
            let rowStart = Self.imageBorder, rowEnd = plane.height - Self.imageBorder
            guard rowEnd > rowStart, plane.width > 2 * Self.imageBorder else { continue }
            let pieces = max(1, min(8, (rowEnd - rowStart) / 32))
            for layer in 1 ... layers {
                for piece in 0 ..< pieces {
                    let lower = rowStart + (rowEnd - rowStart) * piece / pieces
                    let upper = rowStart + (rowEnd - rowStart) * (piece + 1) / pieces
                    tasks.append(Task(octave: octave, layer: layer, rows: lower ..< upper))
                }
            }
        }
        guard !tasks.isEmpty else { return [] }
        let results = UnsafeMutableBufferPointer<[Keypoint]>.allocate(capacity: tasks.count)
        results.initialize(repeating: [])
        defer { results.deinitialize(); results.deallocate() }
        let shared = SharedResults(results: results)
        let frozenTasks = tasks
        let parallelism = max(configuration.threads, 1)
        forEachChunk(of: frozenTasks.count, parallelism: parallelism * 4) { range in
            for index in range {
                let task = frozenTasks[index]
                shared.results[index] = findExtrema(octave: task.octave, layer: task.layer, rows: task.rows,
                                                    threshold: threshold)
            }
        }
        return results.flatMap { $0 }
    }

    struct SharedResults: @unchecked Sendable {
        let results: UnsafeMutableBufferPointer<[Keypoint]>
    }

    private func findExtrema(octave: Int, layer: Int, rows: Range<Int>, threshold: Float) -> [Keypoint] {
        let layers = configuration.octaveLayers
        let index = octave * (layers + 2) + layer
        let current = differences[index], below = differences[index - 1], above = differences[index + 1]
        let width = current.width
        var found: [Keypoint] = []
        current.pixels.withUnsafeBufferPointer { cur in
            below.pixels.withUnsafeBufferPointer { prev in
                above.pixels.withUnsafeBufferPointer { next in
                    guard let curBase = cur.baseAddress, let prevBase = prev.baseAddress,
                          let nextBase = next.baseAddress else { return }
                    let columnEnd = width - Self.imageBorder
                    let positive = SIMD8<Float>(repeating: threshold), negative = SIMD8<Float>(repeating: -threshold)
                    for r in rows {
                        var c = Self.imageBorder
                        while c < columnEnd {
                            // Eight columns at a time: a cheap vector test against the threshold and the six
                            // face neighbours rules out most pixels without branching on each one.
                            if c + 8 <= columnEnd {
                                let i = r * width + c
                                let value = Self.load8(curBase, i)
                                let left = Self.load8(curBase, i - 1), right = Self.load8(curBase, i + 1)
                                let up = Self.load8(curBase, i - width), down = Self.load8(curBase, i + width)
                                let below = Self.load8(prevBase, i), above = Self.load8(nextBase, i)
                                let maximum = (value .> positive) .& (value .>= left) .& (value .>= right)
                                    .& (value .>= up) .& (value .>= down) .& (value .>= below) .& (value .>= above)
                                let minimum = (value .< negative) .& (value .<= left) .& (value .<= right)
                                    .& (value .<= up) .& (value .<= down) .& (value .<= below) .& (value .<= above)
                                let candidates = maximum .| minimum
                                if any(candidates) {
                                    for lane in 0 ..< 8 where candidates[lane] {
                                        examine(row: r, column: c + lane)
                                    }
                                }
                                c += 8
                            } else {
                                let value = cur[r * width + c]
                                if abs(value) > threshold { examine(row: r, column: c) }
                                c += 1
                            }
                        }
                    }
                    func examine(row r: Int, column c: Int) {
                        let i = r * width + c
                        let value = cur[i]
                        guard abs(value) > threshold, Self.isExtremum(value, at: i, width: width, cur, prev, next),
                              let refined = refine(octave: octave, layer: layer, row: r, column: c) else { return }
                        orient(refined, octave: octave, into: &found)
                    }
                }
            }
        }
        return found
    }

    @inline(__always)
    private static func load8(_ base: UnsafePointer<Float>, _ index: Int) -> SIMD8<Float> {
        UnsafeRawPointer(base + index).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func isExtremum(_ value: Float, at i: Int, width: Int, _ cur: UnsafeBufferPointer<Float>,
                                   _ prev: UnsafeBufferPointer<Float>, _ next: UnsafeBufferPointer<Float>) -> Bool {
        if value > 0 {
            return isMaximum(value, at: i, width: width, cur) && isMaximum(value, at: i, width: width, prev)
                && isMaximum(value, at: i, width: width, next) && prev[i] <= value && next[i] <= value
        } else {
            return isMinimum(value, at: i, width: width, cur) && isMinimum(value, at: i, width: width, prev)
                && isMinimum(value, at: i, width: width, next) && prev[i] >= value && next[i] >= value
        }
    }

    /// Whether `value` is at least each of the eight neighbours of `i` in `plane`.
    @inline(__always)
    private static func isMaximum(_ value: Float, at i: Int, width: Int, _ plane: UnsafeBufferPointer<Float>) -> Bool {
        let above = i - width, below = i + width
        return value >= plane[above - 1] && value >= plane[above] && value >= plane[above + 1]
            && value >= plane[i - 1] && value >= plane[i + 1]
            && value >= plane[below - 1] && value >= plane[below] && value >= plane[below + 1]
    }

    @inline(__always)
    private static func isMinimum(_ value: Float, at i: Int, width: Int, _ plane: UnsafeBufferPointer<Float>) -> Bool {
        let above = i - width, below = i + width
        return value <= plane[above - 1] && value <= plane[above] && value <= plane[above + 1]
            && value <= plane[i - 1] && value <= plane[i + 1]
            && value <= plane[below - 1] && value <= plane[below] && value <= plane[below + 1]
    }

    struct Refined {
        var keypoint: Keypoint
        var layer: Int
        var row: Int
        var column: Int
    }

    /// Quadratic sub-pixel/sub-scale interpolation with contrast and edge rejection.
    private func refine(octave: Int, layer startLayer: Int, row startRow: Int, column startColumn: Int) -> Refined? {
        let layers = configuration.octaveLayers
        let imageScale: Float = 1 / 255
        let derivativeScale = imageScale * 0.5, secondScale = imageScale, crossScale = imageScale * 0.25
        var layer = startLayer, r = startRow, c = startColumn
        var xi: Float = 0, xr: Float = 0, xc: Float = 0
        let width = differences[octave * (layers + 2)].width, height = differences[octave * (layers + 2)].height
        var step = 0
        while step < Self.maximumInterpolationSteps {
            let base = octave * (layers + 2) + layer
            let img = differences[base].pixels, prev = differences[base - 1].pixels, next = differences[base + 1].pixels
            let i = r * width + c
            let dx = (img[i + 1] - img[i - 1]) * derivativeScale
            let dy = (img[i + width] - img[i - width]) * derivativeScale
            let ds = (next[i] - prev[i]) * derivativeScale
            let v2 = img[i] * 2
            let dxx = (img[i + 1] + img[i - 1] - v2) * secondScale
            let dyy = (img[i + width] + img[i - width] - v2) * secondScale
            let dss = (next[i] + prev[i] - v2) * secondScale
            let dxy = (img[i + width + 1] - img[i + width - 1] - img[i - width + 1] + img[i - width - 1]) * crossScale
            let dxs = (next[i + 1] - next[i - 1] - prev[i + 1] + prev[i - 1]) * crossScale
            let dys = (next[i + width] - next[i - width] - prev[i + width] + prev[i - width]) * crossScale
            let solution = Self.solve3(
                (Double(dxx), Double(dxy), Double(dxs)), (Double(dxy), Double(dyy), Double(dys)),
                (Double(dxs), Double(dys), Double(dss)), (Double(dx), Double(dy), Double(ds)))
            xc = -Float(solution.0)
            xr = -Float(solution.1)
            xi = -Float(solution.2)
            if abs(xi) < 0.5 && abs(xr) < 0.5 && abs(xc) < 0.5 { break }
            let limit = Float(Int32.max / 3)
            if abs(xi) > limit || abs(xr) > limit || abs(xc) > limit { return nil }
            c += Int(xc.rounded(.toNearestOrEven))
            r += Int(xr.rounded(.toNearestOrEven))
            layer += Int(xi.rounded(.toNearestOrEven))
            if layer < 1 || layer > layers || c < Self.imageBorder || c >= width - Self.imageBorder
                || r < Self.imageBorder || r >= height - Self.imageBorder { return nil }
            step += 1
        }
        if step >= Self.maximumInterpolationSteps { return nil }
        let base = octave * (layers + 2) + layer
        let img = differences[base].pixels, prev = differences[base - 1].pixels, next = differences[base + 1].pixels
        let i = r * width + c
        let dx = (img[i + 1] - img[i - 1]) * derivativeScale
        let dy = (img[i + width] - img[i - width]) * derivativeScale
        let ds = (next[i] - prev[i]) * derivativeScale
        let t = dx * xc + dy * xr + ds * xi
        let contrast = img[i] * imageScale + t * 0.5
        if abs(contrast) * Float(layers) < configuration.contrastThreshold { return nil }
        let v2 = img[i] * 2
        let dxx = (img[i + 1] + img[i - 1] - v2) * secondScale
        let dyy = (img[i + width] + img[i - width] - v2) * secondScale
        let dxy = (img[i + width + 1] - img[i + width - 1] - img[i - width + 1] + img[i - width - 1]) * crossScale
        let trace = dxx + dyy, determinant = dxx * dyy - dxy * dxy
        let edge = configuration.edgeThreshold
        if determinant <= 0 || trace * trace * edge >= (edge + 1) * (edge + 1) * determinant { return nil }
        let factor = Float(1 << octave)
        let subLayer = Int(((xi + 0.5) * 255).rounded(.toNearestOrEven))
        let keypoint = Keypoint(
            x: (Float(c) + xc) * factor, y: (Float(r) + xr) * factor,
            size: configuration.sigma * powf(2, (Float(layer) + xi) / Float(layers)) * factor * 2,
            angle: -1, response: abs(contrast), octave: octave + (layer << 8) + (subLayer << 16))
        return Refined(keypoint: keypoint, layer: layer, row: r, column: c)
    }

    /// Solves the symmetric 3 × 3 system by Cramer's rule; a singular Hessian yields no step (zero).
    private static func solve3(_ a: (Double, Double, Double), _ b: (Double, Double, Double),
                               _ c: (Double, Double, Double), _ y: (Double, Double, Double)) -> (Double, Double, Double) {
        let det = a.0 * (b.1 * c.2 - b.2 * c.1) - a.1 * (b.0 * c.2 - b.2 * c.0) + a.2 * (b.0 * c.1 - b.1 * c.0)
        guard abs(det) > 1e-30, det.isFinite else { return (0, 0, 0) }
        let x0 = y.0 * (b.1 * c.2 - b.2 * c.1) - a.1 * (y.1 * c.2 - b.2 * y.2) + a.2 * (y.1 * c.1 - b.1 * y.2)
        let x1 = a.0 * (y.1 * c.2 - b.2 * y.2) - y.0 * (b.0 * c.2 - b.2 * c.0) + a.2 * (b.0 * y.2 - y.1 * c.0)
        let x2 = a.0 * (b.1 * y.2 - y.1 * c.1) - a.1 * (b.0 * y.2 - y.1 * c.0) + y.0 * (b.0 * c.1 - b.1 * c.0)
        return (x0 / det, x1 / det, x2 / det)
    }

    /// Appends one keypoint per orientation-histogram peak of at least 0.8 × the maximum.
    private func orient(_ refined: Refined, octave: Int, into found: inout [Keypoint]) {
        let layers = configuration.octaveLayers
        let scale = refined.keypoint.size * 0.5 / Float(1 << octave)
        let image = gaussians[octave * (layers + 3) + refined.layer]
        let bins = Self.orientationBins
        var histogram = [Float](repeating: 0, count: bins)
        let maximum = Self.orientationHistogram(
            image, row: refined.row, column: refined.column,
            radius: Int((Self.orientationRadiusFactor * scale).rounded(.toNearestOrEven)),
            sigma: Self.orientationSigmaFactor * scale, histogram: &histogram)
        let threshold = maximum * Self.orientationPeakRatio
        for bin in 0 ..< bins {
            let left = bin > 0 ? bin - 1 : bins - 1, right = bin < bins - 1 ? bin + 1 : 0
            let value = histogram[bin]
            guard value > histogram[left], value > histogram[right], value >= threshold else { continue }
            var position = Float(bin) + 0.5 * (histogram[left] - histogram[right])
                / (histogram[left] - 2 * value + histogram[right])
            if position < 0 { position += Float(bins) } else if position >= Float(bins) { position -= Float(bins) }
            var keypoint = refined.keypoint
            keypoint.angle = 360 - (360 / Float(bins)) * position
            if abs(keypoint.angle - 360) < Float.ulpOfOne { keypoint.angle = 0 }
            found.append(keypoint)
        }
    }

    /// Gradient-orientation histogram around (row, column), Gaussian-weighted, then smoothed with [1 4 6 4 1]/16.
    private static func orientationHistogram(_ image: Plane, row: Int, column: Int, radius: Int, sigma: Float,
                                             histogram: inout [Float]) -> Float {
        let bins = histogram.count
        var raw = [Float](repeating: 0, count: bins)
        let exponentScale = -1 / (2 * sigma * sigma)
        let width = image.width, height = image.height
        guard radius >= 0 else { return 0 }
        let capacity = (2 * radius + 1) * (2 * radius + 1)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: capacity * 3)
        defer { scratch.deallocate() }
        let gradientX = scratch, gradientY = scratch + capacity, weights = scratch + 2 * capacity
        var sampleCount = 0
        image.pixels.withUnsafeBufferPointer { img in
            for i in -radius ... radius {
                let y = row + i
                if y <= 0 || y >= height - 1 { continue }
                for j in -radius ... radius {
                    let x = column + j
                    if x <= 0 || x >= width - 1 { continue }
                    let index = y * width + x
                    gradientX[sampleCount] = img[index + 1] - img[index - 1]
                    gradientY[sampleCount] = img[index - width] - img[index + width]
                    weights[sampleCount] = Float(i * i + j * j) * exponentScale
                    sampleCount += 1
                }
            }
        }
        for k in 0 ..< sampleCount { weights[k] = expf(weights[k]) }
        for k in 0 ..< sampleCount {
            let dx = gradientX[k], dy = gradientY[k]
            gradientX[k] = fastAtan2Degrees(dy, dx)
            gradientY[k] = (dx * dx + dy * dy).squareRoot() * weights[k]
        }
        let binsPerDegree = Float(bins) / 360
        for k in 0 ..< sampleCount {
            var bin = Int((binsPerDegree * gradientX[k]).rounded(.toNearestOrEven))
            if bin >= bins { bin -= bins }
            if bin < 0 { bin += bins }
            raw[bin] += gradientY[k]
        }
        var maximum: Float = 0
        for bin in 0 ..< bins {
            let m2 = raw[(bin - 2 + bins) % bins], m1 = raw[(bin - 1 + bins) % bins]
            let p1 = raw[(bin + 1) % bins], p2 = raw[(bin + 2) % bins]
            histogram[bin] = (m2 + p2) * (1 / 16) + (m1 + p1) * (4 / 16) + raw[bin] * (6 / 16)
            maximum = max(maximum, histogram[bin])
        }
        return maximum
    }

    // MARK: - Description

    /// N × 128 descriptors with OpenCV's 0…255 integer scaling.
    func describe(_ keypoints: [Keypoint]) -> Matrix {
        let length = Self.descriptorWidth * Self.descriptorWidth * Self.descriptorBins
        var descriptors = Matrix(rows: keypoints.count, columns: length)
        guard !keypoints.isEmpty else { return descriptors }
        descriptors.storage.withUnsafeMutableBufferPointer { storage in
            guard let base = storage.baseAddress else { return }
            let shared = SharedBuffers(input: UnsafePointer(base), output: base)
            forEachChunk(of: keypoints.count, parallelism: max(configuration.threads, 1) * 4) { range in
                for index in range {
                    describe(keypoints[index], into: shared.output + index * length)
                }
            }
        }
        return descriptors
    }

    private func describe(_ keypoint: Keypoint, into destination: UnsafeMutablePointer<Float>) {
        let layers = configuration.octaveLayers
        var octave = keypoint.octave & 255
        if octave >= 128 { octave -= 256 }
        let layer = (keypoint.octave >> 8) & 255
        let scale: Float = octave >= 0 ? 1 / Float(1 << octave) : Float(1 << -octave)
        let pyramidOctave = octave - firstOctave
        guard pyramidOctave >= 0, pyramidOctave < octaveCount, layer >= 0, layer < layers + 3 else { return }
        let image = gaussians[pyramidOctave * (layers + 3) + layer]
        var angle = 360 - keypoint.angle
        if abs(angle - 360) < Float.ulpOfOne { angle = 0 }
        Self.descriptor(image, x: keypoint.x * scale, y: keypoint.y * scale, orientation: angle,
                        scale: keypoint.size * scale * 0.5, into: destination)
    }

    private static func descriptor(_ image: Plane, x: Float, y: Float, orientation: Float, scale: Float,
                                   into destination: UnsafeMutablePointer<Float>) {
        let d = descriptorWidth, n = descriptorBins
        let centreX = Int(x.rounded(.toNearestOrEven)), centreY = Int(y.rounded(.toNearestOrEven))
        let radians = orientation * (.pi / 180)
        let binsPerDegree = Float(n) / 360
        let exponentScale = -1 / (Float(d * d) * 0.5)
        let histogramWidth = descriptorScaleFactor * scale
        let width = image.width, height = image.height
        var radius = Int((histogramWidth * 1.4142135623730951 * Float(d + 1) * 0.5).rounded(.toNearestOrEven))
        radius = min(radius, Int(Double(width * width + height * height).squareRoot()))
        let cosine = cosf(radians) / histogramWidth, sine = sinf(radians) / histogramWidth
        let histogramCount = (d + 2) * (d + 2) * (n + 2)
        var histogram = [Float](repeating: 0, count: histogramCount)
        guard radius >= 0 else { return }
        // Gather the samples inside the descriptor window first, then evaluate angle, magnitude and weight in
        // straight loops the compiler can vectorise, then accumulate.
        let capacity = (2 * radius + 1) * (2 * radius + 1)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: capacity * 5)
        defer { scratch.deallocate() }
        let gradientX = scratch, gradientY = scratch + capacity, rowBins = scratch + 2 * capacity
        let columnBins = scratch + 3 * capacity, weights = scratch + 4 * capacity
        var sampleCount = 0
        image.pixels.withUnsafeBufferPointer { img in
            for i in -radius ... radius {
                let r = centreY + i
                if r <= 0 || r >= height - 1 { continue }
                for j in -radius ... radius {
                    let c = centreX + j
                    if c <= 0 || c >= width - 1 { continue }
                    let columnRotated = Float(j) * cosine - Float(i) * sine
                    let rowRotated = Float(j) * sine + Float(i) * cosine
                    let rowBin = rowRotated + Float(d / 2) - 0.5
                    let columnBin = columnRotated + Float(d / 2) - 0.5
                    guard rowBin > -1, rowBin < Float(d), columnBin > -1, columnBin < Float(d) else { continue }
                    let index = r * width + c
                    gradientX[sampleCount] = img[index + 1] - img[index - 1]
                    gradientY[sampleCount] = img[index - width] - img[index + width]
                    rowBins[sampleCount] = rowBin
                    columnBins[sampleCount] = columnBin
                    weights[sampleCount] = (columnRotated * columnRotated + rowRotated * rowRotated) * exponentScale
                    sampleCount += 1
                }
            }
        }
        for k in 0 ..< sampleCount { weights[k] = expf(weights[k]) }
        for k in 0 ..< sampleCount {
            let dx = gradientX[k], dy = gradientY[k]
            gradientX[k] = fastAtan2Degrees(dy, dx)
            gradientY[k] = (dx * dx + dy * dy).squareRoot() * weights[k]
        }
        histogram.withUnsafeMutableBufferPointer { hist in
            for k in 0 ..< sampleCount {
                var rowBin = rowBins[k], columnBin = columnBins[k]
                var orientationBin = (gradientX[k] - orientation) * binsPerDegree
                let r0 = Int(rowBin.rounded(.down)), c0 = Int(columnBin.rounded(.down))
                var o0 = Int(orientationBin.rounded(.down))
                rowBin -= Float(r0)
                columnBin -= Float(c0)
                orientationBin -= Float(o0)
                if o0 < 0 { o0 += n }
                if o0 >= n { o0 -= n }
                let value = gradientY[k]
                let vR1 = value * rowBin, vR0 = value - vR1
                let vRC11 = vR1 * columnBin, vRC10 = vR1 - vRC11
                let vRC01 = vR0 * columnBin, vRC00 = vR0 - vRC01
                let vRCO111 = vRC11 * orientationBin, vRCO110 = vRC11 - vRCO111
                let vRCO101 = vRC10 * orientationBin, vRCO100 = vRC10 - vRCO101
                let vRCO011 = vRC01 * orientationBin, vRCO010 = vRC01 - vRCO011
                let vRCO001 = vRC00 * orientationBin, vRCO000 = vRC00 - vRCO001
                let h = ((r0 + 1) * (d + 2) + c0 + 1) * (n + 2) + o0
                hist[h] += vRCO000
                hist[h + 1] += vRCO001
                hist[h + (n + 2)] += vRCO010
                hist[h + (n + 3)] += vRCO011
                hist[h + (d + 2) * (n + 2)] += vRCO100
                hist[h + (d + 2) * (n + 2) + 1] += vRCO101
                hist[h + (d + 3) * (n + 2)] += vRCO110
                hist[h + (d + 3) * (n + 2) + 1] += vRCO111
            }
        }
        let length = d * d * n
        for i in 0 ..< d {
            for j in 0 ..< d {
                let h = ((i + 1) * (d + 2) + (j + 1)) * (n + 2)
                histogram[h] += histogram[h + n]
                histogram[h + 1] += histogram[h + n + 1]
                for k in 0 ..< n { destination[(i * d + j) * n + k] = histogram[h + k] }
            }
        }
        var squared: Float = 0
        for k in 0 ..< length { squared += destination[k] * destination[k] }
        let clip = squared.squareRoot() * descriptorMagnitudeThreshold
        squared = 0
        for k in 0 ..< length {
            let value = min(destination[k], clip)
            destination[k] = value
            squared += value * value
        }
        let factor = descriptorIntegerFactor / max(squared.squareRoot(), Float.ulpOfOne)
        for k in 0 ..< length {
            destination[k] = min(max((destination[k] * factor).rounded(.toNearestOrEven), 0), 255)
        }
    }
}

/// Angle of (x, y) in degrees, 0 ..< 360, from a degree-7 odd minimax polynomial of arctan on [0, 1]
/// (error about 0.01°). OpenCV's SIFT uses an approximation of this kind too, and `atan2f` dominated the profile.
@inline(__always)
func fastAtan2Degrees(_ y: Float, _ x: Float) -> Float {
    let absX = abs(x), absY = abs(y)
    let largest = max(absX, absY)
    guard largest > 0 else { return 0 }
    let t = min(absX, absY) / largest
    let t2 = t * t
    let c1: Float = 0.9997878412794807 * (180 / .pi), c3: Float = -0.3258083974640975 * (180 / .pi)
    let c5: Float = 0.1555786518463281 * (180 / .pi), c7: Float = -0.04432655554792128 * (180 / .pi)
    var angle = ((c7 * t2 + c5) * t2 + c3) * t2 * t + c1 * t
    if absY > absX { angle = 90 - angle }
    if x < 0 { angle = 180 - angle }
    if y < 0 { angle = 360 - angle }
    return angle >= 360 ? angle - 360 : angle
}
