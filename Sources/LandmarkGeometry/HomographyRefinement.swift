import LandmarkLinearAlgebra
extension MinimalSolvers {
    /// Levenberg–Marquardt refinement of a homography on the summed squared forward transfer error
    /// over `correspondences` (its inliers), the error RANSAC scores with. The DLT minimises an
    /// algebraic error instead, which weights points unequally under perspective; OpenCV's
    /// `findHomography` refines the same way. Returns nil when no step lowers the error.
    public static func refinedHomography(_ model: GeometricModel,
                                         _ correspondences: [PointCorrespondence]) -> GeometricModel? {
        let (sources, targets) = split(correspondences)
        return refineHomography(model, sources: sources, targets: targets, indices: Array(sources.indices))
    }

    static func refineHomography(_ model: GeometricModel, sources: [SIMD2<Double>], targets: [SIMD2<Double>],
                                 indices: [Int], maximumSteps: Int = 10) -> GeometricModel? {
        guard model.kind == .homography, indices.count >= 5,
              let (s, sc) = normalisation(sources, indices),
              let (t, tc) = normalisation(targets, indices) else { return nil }
        // Work in Hartley-normalised coordinates so the normal equations are well scaled; the target
        // normalisation is a similarity, so the cost is the pixel cost times t².
        let sourceInverse: [Double] = [1 / s, 0, sc.x, 0, 1 / s, sc.y, 0, 0, 1]
        let targetForward: [Double] = [t, 0, -t * tc.x, 0, t, -t * tc.y, 0, 0, 1]
        let normalised = multiply(targetForward, multiply(model.matrix, sourceInverse))
        guard abs(normalised[8]) > 1e-12 else { return nil }
        var h = normalised.map { $0 / normalised[8] }
        let p = indices.map { (sources[$0] - sc) * s }
        let q = indices.map { (targets[$0] - tc) * t }

        func cost(_ h: [Double]) -> Double {
            var total = 0.0
            for i in p.indices {
                let w = h[6] * p[i].x + h[7] * p[i].y + 1
                guard abs(w) > 1e-12 else { return .infinity }
                let u = (h[0] * p[i].x + h[1] * p[i].y + h[2]) / w - q[i].x
                let v = (h[3] * p[i].x + h[4] * p[i].y + h[5]) / w - q[i].y
                total += u * u + v * v
            }
            return total.isFinite ? total : .infinity
        }

        var current = cost(h)
        guard current.isFinite else { return nil }
        let start = current
        var lambda = 1e-3
        for _ in 0 ..< maximumSteps {
            var normal = [Double](repeating: 0, count: 64), gradient = [Double](repeating: 0, count: 8)
            var ju = [Double](repeating: 0, count: 8), jv = [Double](repeating: 0, count: 8)
            for i in p.indices {
                let x = p[i].x, y = p[i].y
                let w = h[6] * x + h[7] * y + 1
                let u = (h[0] * x + h[1] * y + h[2]) / w, v = (h[3] * x + h[4] * y + h[5]) / w
                let ru = u - q[i].x, rv = v - q[i].y
                ju[0] = x / w; ju[1] = y / w; ju[2] = 1 / w; ju[3] = 0; ju[4] = 0; ju[5] = 0
                ju[6] = -u * x / w; ju[7] = -u * y / w
                jv[0] = 0; jv[1] = 0; jv[2] = 0; jv[3] = x / w; jv[4] = y / w; jv[5] = 1 / w
                jv[6] = -v * x / w; jv[7] = -v * y / w
                for r in 0 ..< 8 {
                    gradient[r] += ju[r] * ru + jv[r] * rv
                    for c in r ..< 8 { normal[r * 8 + c] += ju[r] * ju[c] + jv[r] * jv[c] }
                }
            }
            for r in 0 ..< 8 { for c in 0 ..< r { normal[r * 8 + c] = normal[c * 8 + r] } }
            var improved = false
            for _ in 0 ..< 6 {
                var damped = normal
                for r in 0 ..< 8 { damped[r * 8 + r] *= 1 + lambda }
                guard let step = LinearSystem.solve(damped, gradient.map { -$0 }, n: 8) else { lambda *= 10; continue }
                var candidate = h
                for r in 0 ..< 8 { candidate[r] += step[r] }
                let candidateCost = cost(candidate)
                if candidateCost < current {
                    h = candidate
                    let gain = current - candidateCost
                    current = candidateCost
                    lambda = max(lambda / 10, 1e-12)
                    improved = gain > 1e-12 * current
                    break
                }
                lambda *= 10
            }
            if !improved { break }
        }
        guard current < start else { return nil }
        // Back to pixels: H = T_target⁻¹ · Hn · T_source.
        return denormalised(h, sourceScale: s, sourceCentre: sc, targetScale: t, targetCentre: tc)
    }

    static func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
        var c = [Double](repeating: 0, count: 9)
        for r in 0 ..< 3 { for k in 0 ..< 3 { for j in 0 ..< 3 { c[r * 3 + j] += a[r * 3 + k] * b[k * 3 + j] } } }
        return c
    }
}
