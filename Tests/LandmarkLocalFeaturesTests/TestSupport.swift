import Foundation
import LandmarkLinearAlgebra
@testable import LandmarkLocalFeatures

/// The fixture written by scripts/fixtures/localfeatures_make_fixtures.py.
struct OpenCVFixture: Decodable {
    struct Synthetic: Decodable {
        var width: Int
        var height: Int
        /// x, y, size, angle, response, octave.
        var keypoints: [[Double]]
        /// OpenCV's SIFT descriptors (0…255) of `keypoints`.
        var descriptors: [[Float]]
    }
    struct WarpedPair: Decodable {
        var image: String
        var width: Int
        var height: Int
        var homography: [Double]
        var inverse: [Double]
        var greyChecksum: Int
        var warpedChecksum: Int
        var keypointsA: Int
        var keypointsB: Int
        var projectedInside: Int
        var repeatable: Int
        var repeatability: Double
        var matches: Int
        var correctMatches: Int
        var ransacInliers: Int
    }
    struct RealPair: Decodable {
        var imageA: String
        var imageB: String
        var matches: Int
        var ransacInliers: Int
    }
    var synthetic: Synthetic
    var warpedPairs: [WarpedPair]
    /// The procedural street photograph committed beside the network fixtures, warped the same way.
    var proceduralPair: WarpedPair
    var realPairs: [RealPair]

    static func load() throws -> OpenCVFixture {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: folder.appendingPathComponent("localfeatures_opencv.json"))
        return try JSONDecoder().decode(OpenCVFixture.self, from: data)
    }
}

import Testing

/// Same formula as `synthetic_blobs` in the fixture script.
func syntheticBlobs(width: Int = 200, height: Int = 160) -> [Float] {
    let blobs: [(Double, Double, Double, Double)] = [
        (40, 40, 4.0, 120.0), (100, 50, 6.0, -30.0), (150, 110, 8.0, 90.0), (60, 120, 3.0, 150.0),
        (170, 30, 5.0, 100.0), (110, 125, 10.0, 70.0), (25, 90, 2.5, 160.0),
    ]
    var image = [Float](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            var value = 60.0
            for (cx, cy, sigma, amplitude) in blobs {
                let dx = Double(x) - cx, dy = Double(y) - cy
                value += amplitude * exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
            }
            if y >= 70 && y < 100 && x >= 125 && x < 185 { value += 80 }
            image[y * width + x] = Float(min(max((value + 0.5).rounded(.down), 0), 255))
        }
    }
    return image
}

/// A textured test scene: many seeded random blobs of several sizes.
func randomBlobScene(width: Int, height: Int, count: Int, seed: UInt64) -> [Float] {
    var state = seed
    func next() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
    var image = [Double](repeating: 100, count: width * height)
    for _ in 0..<count {
        let cx = next() * Double(width), cy = next() * Double(height)
        let sigma = 1.5 + next() * 6, amplitude = (next() - 0.5) * 200
        let radius = Int(3 * sigma) + 1
        for y in max(0, Int(cy) - radius) ..< min(height, Int(cy) + radius + 1) {
            for x in max(0, Int(cx) - radius) ..< min(width, Int(cx) + radius + 1) {
                let dx = Double(x) - cx, dy = Double(y) - cy
                image[y * width + x] += amplitude * exp(-(dx * dx + dy * dy) / (2 * sigma * sigma))
            }
        }
    }
    return image.map { Float(min(max(($0 + 0.5).rounded(.down), 0), 255)) }
}

/// Same as `warp_bilinear` in the fixture script: out(x, y) samples the source at inverse · (x, y, 1).
func warpBilinear(_ grey: [Float], width: Int, height: Int, inverse h: [Double]) -> [Float] {
    var output = [Float](repeating: 0, count: width * height)
    for y in 0..<height {
        for x in 0..<width {
            let xd = Double(x), yd = Double(y)
            let w = h[6] * xd + h[7] * yd + h[8]
            let sx = (h[0] * xd + h[1] * yd + h[2]) / w
            let sy = (h[3] * xd + h[4] * yd + h[5]) / w
            guard sx >= 0, sy >= 0, sx <= Double(width - 1), sy <= Double(height - 1) else { continue }
            let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
            let fx = sx - Double(x0), fy = sy - Double(y0)
            let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
            func at(_ px: Int, _ py: Int) -> Double { Double(grey[py * width + px]) }
            let top = at(x0, y0) * (1 - fx) + at(x1, y0) * fx
            let bottom = at(x0, y1) * (1 - fx) + at(x1, y1) * fx
            let value = top * (1 - fy) + bottom * fy
            output[y * width + x] = Float(min(max((value + 0.5).rounded(.down), 0), 255))
        }
    }
    return output
}

func project(_ h: [Double], _ x: Float, _ y: Float) -> (Double, Double) {
    let xd = Double(x), yd = Double(y)
    let w = h[6] * xd + h[7] * yd + h[8]
    return ((h[0] * xd + h[1] * yd + h[2]) / w, (h[3] * xd + h[4] * yd + h[5]) / w)
}

/// Homography rotating by `degrees` and scaling by `scale` about (cx, cy).
func similarityAboutCentre(degrees: Double, scale: Double, cx: Double, cy: Double) -> [Double] {
    let angle = degrees * .pi / 180
    let a = scale * cos(angle), b = scale * sin(angle)
    return [a, -b, cx - a * cx + b * cy, b, a, cy - b * cx - a * cy, 0, 0, 1]
}

func invert3(_ m: [Double]) -> [Double] {
    let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6])
    let inv = [
        m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
    ]
    return inv.map { $0 / det }
}

struct WarpFigures {
    var projectedInside: Int
    var repeatable: Int
    var matches: Int
    var correctMatches: Int
    var repeatability: Double { Double(repeatable) / Double(max(projectedInside, 1)) }
}

/// Repeatability (3 px) and correct ratio-test matches (4 px) under the known homography, as the fixture script.
func warpFigures(_ a: LocalFeatures, _ b: LocalFeatures, homography h: [Double]) -> WarpFigures {
    var inside = 0, repeatable = 0
    for keypoint in a.keypoints {
        let (px, py) = project(h, keypoint.x, keypoint.y)
        guard px >= 0, py >= 0, px <= Double(b.imageWidth - 1), py <= Double(b.imageHeight - 1) else { continue }
        inside += 1
        for other in b.keypoints {
            let dx = Double(other.x) - px, dy = Double(other.y) - py
            if dx * dx + dy * dy < 9 {
                repeatable += 1
                break
            }
        }
    }
    let matches = FeatureMatcher.ratioTest(a, b)
    var correct = 0
    for match in matches {
        let source = a.keypoints[match.query], target = b.keypoints[match.train]
        let (px, py) = project(h, source.x, source.y)
        let dx = Double(target.x) - px, dy = Double(target.y) - py
        if dx * dx + dy * dy < 16 { correct += 1 }
    }
    return WarpFigures(projectedInside: inside, repeatable: repeatable, matches: matches.count, correctMatches: correct)
}

/// Least-squares homography with h33 = 1 from ≥ 4 correspondences (normal equations of the DLT rows, solved by
/// Gaussian elimination); nil when degenerate. Test-only stand-in for LandmarkGeometry's RANSAC.
func fitHomography(_ source: [(Double, Double)], _ target: [(Double, Double)]) -> [Double]? {
    guard source.count >= 4 else { return nil }
    // Centre and scale both point sets for conditioning.
    func normaliser(_ points: [(Double, Double)]) -> (Double, Double, Double) {
        let mx = points.map(\.0).reduce(0, +) / Double(points.count)
        let my = points.map(\.1).reduce(0, +) / Double(points.count)
        let spread = points.map { (($0.0 - mx) * ($0.0 - mx) + ($0.1 - my) * ($0.1 - my)).squareRoot() }
            .reduce(0, +) / Double(points.count)
        return (mx, my, spread > 0 ? 1.4142135623730951 / spread : 1)
    }
    let (sx, sy, ss) = normaliser(source), (tx, ty, ts) = normaliser(target)
    var normal = [Double](repeating: 0, count: 64), right = [Double](repeating: 0, count: 8)
    for (p, q) in zip(source, target) {
        let x = (p.0 - sx) * ss, y = (p.1 - sy) * ss, u = (q.0 - tx) * ts, v = (q.1 - ty) * ts
        let rows: [([Double], Double)] = [([x, y, 1, 0, 0, 0, -u * x, -u * y], u), ([0, 0, 0, x, y, 1, -v * x, -v * y], v)]
        for (row, value) in rows {
            for i in 0 ..< 8 {
                right[i] += row[i] * value
                for j in 0 ..< 8 { normal[i * 8 + j] += row[i] * row[j] }
            }
        }
    }
    for column in 0 ..< 8 {
        guard let pivot = (column ..< 8).max(by: { abs(normal[$0 * 8 + column]) < abs(normal[$1 * 8 + column]) }),
              abs(normal[pivot * 8 + column]) > 1e-12 else { return nil }
        for j in 0 ..< 8 { normal.swapAt(column * 8 + j, pivot * 8 + j) }
        right.swapAt(column, pivot)
        for row in 0 ..< 8 where row != column {
            let factor = normal[row * 8 + column] / normal[column * 8 + column]
            for j in 0 ..< 8 { normal[row * 8 + j] -= factor * normal[column * 8 + j] }
            right[row] -= factor * right[column]
        }
    }
    let h = (0 ..< 8).map { right[$0] / normal[$0 * 8 + $0] } + [1]
    // Undo the normalisations: H = T_target⁻¹ · Hn · T_source.
    let source3: [Double] = [ss, 0, -ss * sx, 0, ss, -ss * sy, 0, 0, 1]
    let targetInverse: [Double] = [1 / ts, 0, tx, 0, 1 / ts, ty, 0, 0, 1]
    func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
        var c = [Double](repeating: 0, count: 9)
        for i in 0 ..< 3 { for j in 0 ..< 3 { for k in 0 ..< 3 { c[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j] } } }
        return c
    }
    let result = multiply(targetInverse, multiply(h, source3))
    guard result.allSatisfy(\.isFinite), abs(result[8]) > 1e-12 else { return nil }
    return result.map { $0 / result[8] }
}

/// RANSAC homography inliers (forward reprojection error below `threshold` pixels), fixed seed, with a few
/// least-squares refits on the inliers of the best sample, like findHomography's refinement.
func ransacHomographyInliers(_ a: LocalFeatures, _ b: LocalFeatures, _ matches: [FeatureMatch],
                             threshold: Double = 4, iterations: Int = 2000) -> Int {
    guard matches.count >= 4 else { return 0 }
    let source = matches.map { (Double(a.keypoints[$0.query].x), Double(a.keypoints[$0.query].y)) }
    let target = matches.map { (Double(b.keypoints[$0.train].x), Double(b.keypoints[$0.train].y)) }
    func inliers(_ h: [Double]) -> [Int] {
        var result: [Int] = []
        for index in source.indices {
            let (x, y) = source[index]
            let w = h[6] * x + h[7] * y + h[8]
            let u = (h[0] * x + h[1] * y + h[2]) / w - target[index].0
            let v = (h[3] * x + h[4] * y + h[5]) / w - target[index].1
            if u * u + v * v < threshold * threshold { result.append(index) }
        }
        return result
    }
    var state: UInt64 = 12345
    func random(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
    var best: [Int] = []
    for _ in 0 ..< iterations {
        var sample: [Int] = []
        while sample.count < 4 {
            let candidate = random(source.count)
            if !sample.contains(candidate) { sample.append(candidate) }
        }
        guard let h = fitHomography(sample.map { source[$0] }, sample.map { target[$0] }) else { continue }
        let found = inliers(h)
        if found.count > best.count { best = found }
    }
    for _ in 0 ..< 3 {
        guard let h = fitHomography(best.map { source[$0] }, best.map { target[$0] }) else { break }
        let found = inliers(h)
        if found.count <= best.count { break }
        best = found
    }
    return best.count
}
