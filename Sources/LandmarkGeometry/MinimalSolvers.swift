/// Closed-form model fits: from a minimal sample (what RANSAC hypothesises from) and by least squares
/// from any number of inliers (what local optimisation and the final refit use).
///
/// Every solver returns nil on degenerate input (coincident or collinear points, a rank-deficient
/// system, a non-finite result) rather than a meaningless model.
public enum MinimalSolvers {
    /// Similarity from exactly 2 correspondences.
    public static func similarity(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        guard correspondences.count == 2 else { return nil }
        return leastSquaresSimilarity(correspondences)
    }

    /// Affine map from exactly 3 non-collinear correspondences.
    public static func affine(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        guard correspondences.count == 3 else { return nil }
        return leastSquaresAffine(correspondences)
    }

    /// Homography from exactly 4 correspondences, no three of them collinear (normalised DLT).
    public static func homography(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        guard correspondences.count == 4 else { return nil }
        let (sources, targets) = split(correspondences)
        return fitMinimalHomography(sources: sources, targets: targets, indices: [0, 1, 2, 3])
    }

    /// The minimal solver of `kind`.
    public static func minimal(_ kind: GeometricModelKind, _ correspondences: [PointCorrespondence]) -> GeometricModel? {
        guard correspondences.count == kind.minimalSampleSize else { return nil }
        let (sources, targets) = split(correspondences)
        return fitMinimal(kind, sources: sources, targets: targets, indices: Array(sources.indices))
    }

    /// The least-squares fit of `kind` to at least its minimal number of correspondences.
    public static func leastSquares(_ kind: GeometricModelKind, _ correspondences: [PointCorrespondence]) -> GeometricModel? {
        let (sources, targets) = split(correspondences)
        return fit(kind, sources: sources, targets: targets, indices: Array(sources.indices))
    }

    /// Least-squares similarity (no reflection) minimising the forward transfer error: in complex
    /// notation, the scale-rotation c = Σ conj(p)·q / Σ |p|² on centred points.
    public static func leastSquaresSimilarity(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        let (sources, targets) = split(correspondences)
        return fitSimilarity(sources: sources, targets: targets, indices: Array(sources.indices))
    }

    /// Least-squares affine map minimising the forward transfer error (normal equations on centred
    /// points: A = Σ q pᵀ (Σ p pᵀ)⁻¹).
    public static func leastSquaresAffine(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        let (sources, targets) = split(correspondences)
        return fitAffine(sources: sources, targets: targets, indices: Array(sources.indices))
    }

    /// Normalised DLT (Hartley): both point sets are moved to zero mean and mean distance √2, the
    /// homography is the eigenvector of AᵀA with the smallest eigenvalue (Double-precision Jacobi),
    /// then denormalised and scaled to h₃₃ = 1. It minimises the algebraic error, which on
    /// normalised points is close to the geometric one for the noise levels of keypoints.
    public static func leastSquaresHomography(_ correspondences: [PointCorrespondence]) -> GeometricModel? {
        let (sources, targets) = split(correspondences)
        return fitHomography(sources: sources, targets: targets, indices: Array(sources.indices))
    }

    // MARK: - Index-based fits used by RANSAC without copying correspondences.

    static func split(_ correspondences: [PointCorrespondence]) -> ([SIMD2<Double>], [SIMD2<Double>]) {
        (correspondences.map(\.source), correspondences.map(\.target))
    }

    static func fit(_ kind: GeometricModelKind, sources: [SIMD2<Double>], targets: [SIMD2<Double>],
                    indices: [Int]) -> GeometricModel? {
        switch kind {
        case .similarity: fitSimilarity(sources: sources, targets: targets, indices: indices)
        case .affine: fitAffine(sources: sources, targets: targets, indices: indices)
        case .homography: fitHomography(sources: sources, targets: targets, indices: indices)
        }
    }

    /// The minimal solver on `indices` (exactly `kind.minimalSampleSize` of them).
    static func fitMinimal(_ kind: GeometricModelKind, sources: [SIMD2<Double>], targets: [SIMD2<Double>],
                           indices: [Int]) -> GeometricModel? {
        switch kind {
        case .similarity: fitSimilarity(sources: sources, targets: targets, indices: indices)
        case .affine: fitAffine(sources: sources, targets: targets, indices: indices)
        case .homography: fitMinimalHomography(sources: sources, targets: targets, indices: indices)
        }
    }

    static func centroid(_ points: [SIMD2<Double>], _ indices: [Int]) -> SIMD2<Double> {
        var sum = SIMD2<Double>.zero
        for i in indices { sum += points[i] }
        return sum / Double(indices.count)
    }

    static func fitSimilarity(sources: [SIMD2<Double>], targets: [SIMD2<Double>], indices: [Int]) -> GeometricModel? {
        guard indices.count >= 2 else { return nil }
        let ps = centroid(sources, indices), qs = centroid(targets, indices)
        var norm = 0.0, targetNorm = 0.0, real = 0.0, imaginary = 0.0
        for i in indices {
            let p = sources[i] - ps, q = targets[i] - qs
            norm += p.x * p.x + p.y * p.y
            targetNorm += q.x * q.x + q.y * q.y
            real += p.x * q.x + p.y * q.y
            imaginary += p.x * q.y - p.y * q.x
        }
        // Coincident sources leave the rotation undetermined; coincident targets give scale 0.
        guard norm > 1e-18, targetNorm > 1e-18 else { return nil }
        let a = real / norm, b = imaginary / norm
        let tx = qs.x - (a * ps.x - b * ps.y), ty = qs.y - (b * ps.x + a * ps.y)
        return GeometricModel(kind: .similarity, matrix: [a, -b, tx, b, a, ty, 0, 0, 1])
    }

    static func fitAffine(sources: [SIMD2<Double>], targets: [SIMD2<Double>], indices: [Int]) -> GeometricModel? {
        guard indices.count >= 3 else { return nil }
        let ps = centroid(sources, indices), qs = centroid(targets, indices)
        var sxx = 0.0, sxy = 0.0, syy = 0.0, qxpx = 0.0, qxpy = 0.0, qypx = 0.0, qypy = 0.0
        for i in indices {
            let p = sources[i] - ps, q = targets[i] - qs
            sxx += p.x * p.x; sxy += p.x * p.y; syy += p.y * p.y
            qxpx += q.x * p.x; qxpy += q.x * p.y; qypx += q.y * p.x; qypy += q.y * p.y
        }
        let determinant = sxx * syy - sxy * sxy
        // Relative test: collinear sources make the covariance singular whatever the pixel scale.
        guard determinant > 1e-12 * (sxx + syy) * (sxx + syy), determinant > 0 else { return nil }
        let i11 = syy / determinant, i12 = -sxy / determinant, i22 = sxx / determinant
        let a = qxpx * i11 + qxpy * i12, b = qxpx * i12 + qxpy * i22
        let c = qypx * i11 + qypy * i12, d = qypx * i12 + qypy * i22
        let tx = qs.x - (a * ps.x + b * ps.y), ty = qs.y - (c * ps.x + d * ps.y)
        return GeometricModel(kind: .affine, matrix: [a, b, tx, c, d, ty, 0, 0, 1])
    }

    /// Hartley's normalisation: (scale, centroid) such that scale·(p − centroid) has mean distance √2.
    static func normalisation(_ points: [SIMD2<Double>], _ indices: [Int]) -> (Double, SIMD2<Double>)? {
        let c = centroid(points, indices)
        var meanDistance = 0.0
        for i in indices {
            let d = points[i] - c
            meanDistance += (d * d).sum().squareRoot()
        }
        meanDistance /= Double(indices.count)
        guard meanDistance > 1e-12, meanDistance.isFinite else { return nil }
        return (2.0.squareRoot() / meanDistance, c)
    }

    static func fitHomography(sources: [SIMD2<Double>], targets: [SIMD2<Double>], indices: [Int]) -> GeometricModel? {
        guard indices.count >= 4,
              let (sourceScale, sourceCentre) = normalisation(sources, indices),
              let (targetScale, targetCentre) = normalisation(targets, indices) else { return nil }
        // Normal matrix AᵀA of the 2N×9 DLT system, accumulated row pair by row pair.
        var normal = [Double](repeating: 0, count: 81)
        normal.withUnsafeMutableBufferPointer { m in
            var r1 = [Double](repeating: 0, count: 9), r2 = [Double](repeating: 0, count: 9)
            for i in indices {
                let p = (sources[i] - sourceCentre) * sourceScale
                let q = (targets[i] - targetCentre) * targetScale
                // q × (H p) = 0 gives two independent equations.
                r1[0] = 0; r1[1] = 0; r1[2] = 0
                r1[3] = -p.x; r1[4] = -p.y; r1[5] = -1
                r1[6] = q.y * p.x; r1[7] = q.y * p.y; r1[8] = q.y
                r2[0] = p.x; r2[1] = p.y; r2[2] = 1
                r2[3] = 0; r2[4] = 0; r2[5] = 0
                r2[6] = -q.x * p.x; r2[7] = -q.x * p.y; r2[8] = -q.x
                for row in 0 ..< 9 {
                    let a1 = r1[row], a2 = r2[row]
                    for column in row ..< 9 { m[row * 9 + column] += a1 * r1[column] + a2 * r2[column] }
                }
            }
            for row in 0 ..< 9 { for column in 0 ..< row { m[row * 9 + column] = m[column * 9 + row] } }
        }
        guard normal.allSatisfy(\.isFinite) else { return nil }
        let eigen = SymmetricJacobi(symmetric: normal, n: 9)
        let order = eigen.ascendingOrder
        guard let largest = order.last, eigen.eigenvalues[largest] > 0 else { return nil }
        // A second (near-)null direction means the points do not pin the homography down
        // (e.g. three of four collinear).
        guard eigen.eigenvalues[order[1]] > 1e-10 * eigen.eigenvalues[largest] else { return nil }
        let h = eigen.eigenvector(order[0])
        return denormalised(h, sourceScale: sourceScale, sourceCentre: sourceCentre,
                            targetScale: targetScale, targetCentre: targetCentre)
    }

    /// Four-point homography: the same normalised DLT, but with h₃₃ = 1 fixed in normalised
    /// coordinates the 8×9 system becomes a square 8×8 one, solved by Gaussian elimination with
    /// partial pivoting — exact on exact data and several times cheaper than the eigen-solver, which
    /// matters because RANSAC calls it once per hypothesis. A vanishing pivot means a degenerate
    /// sample (or one whose centroid maps to infinity); either way no usable model.
    static func fitMinimalHomography(sources: [SIMD2<Double>], targets: [SIMD2<Double>],
                                     indices: [Int]) -> GeometricModel? {
        guard indices.count == 4,
              let (sourceScale, sourceCentre) = normalisation(sources, indices),
              let (targetScale, targetCentre) = normalisation(targets, indices) else { return nil }
        // 8 rows of [a₀ … a₇ | b].
        var system = [Double](repeating: 0, count: 8 * 9)
        let solved: Bool = system.withUnsafeMutableBufferPointer { a in
            for (k, i) in indices.enumerated() {
                let p = (sources[i] - sourceCentre) * sourceScale
                let q = (targets[i] - targetCentre) * targetScale
                let r1 = 2 * k * 9, r2 = (2 * k + 1) * 9
                a[r1] = p.x; a[r1 + 1] = p.y; a[r1 + 2] = 1
                a[r1 + 6] = -q.x * p.x; a[r1 + 7] = -q.x * p.y; a[r1 + 8] = q.x
                a[r2 + 3] = p.x; a[r2 + 4] = p.y; a[r2 + 5] = 1
                a[r2 + 6] = -q.y * p.x; a[r2 + 7] = -q.y * p.y; a[r2 + 8] = q.y
            }
            for column in 0 ..< 8 {
                var pivot = column
                for row in column + 1 ..< 8 where abs(a[row * 9 + column]) > abs(a[pivot * 9 + column]) { pivot = row }
                // Entries are O(1) after normalisation, so an absolute tolerance is meaningful.
                guard abs(a[pivot * 9 + column]) > 1e-9 else { return false }
                if pivot != column {
                    for k in column ..< 9 { a.swapAt(pivot * 9 + k, column * 9 + k) }
                }
                let inverse = 1 / a[column * 9 + column]
                for row in column + 1 ..< 8 {
                    let factor = a[row * 9 + column] * inverse
                    if factor == 0 { continue }
                    for k in column ..< 9 { a[row * 9 + k] -= factor * a[column * 9 + k] }
                }
            }
            for row in stride(from: 7, through: 0, by: -1) {
                var value = a[row * 9 + 8]
                for k in row + 1 ..< 8 { value -= a[row * 9 + k] * a[k * 9 + 8] }
                a[row * 9 + 8] = value / a[row * 9 + row]
            }
            return true
        }
        guard solved else { return nil }
        let h = (0 ..< 8).map { system[$0 * 9 + 8] } + [1]
        return denormalised(h, sourceScale: sourceScale, sourceCentre: sourceCentre,
                            targetScale: targetScale, targetCentre: targetCentre)
    }

    /// H = T_target⁻¹ · Hn · T_source, scaled to h₃₃ = 1.
    static func denormalised(_ h: [Double], sourceScale s: Double, sourceCentre sc: SIMD2<Double>,
                             targetScale t: Double, targetCentre tc: SIMD2<Double>) -> GeometricModel? {
        var hs = [Double](repeating: 0, count: 9)  // Hn · T_source
        for row in 0 ..< 3 {
            let a = h[row * 3], b = h[row * 3 + 1], c = h[row * 3 + 2]
            hs[row * 3] = a * s
            hs[row * 3 + 1] = b * s
            hs[row * 3 + 2] = c - a * s * sc.x - b * s * sc.y
        }
        var result = [Double](repeating: 0, count: 9)
        for column in 0 ..< 3 {
            let bottom = hs[6 + column]
            result[column] = hs[column] / t + tc.x * bottom
            result[3 + column] = hs[3 + column] / t + tc.y * bottom
            result[6 + column] = bottom
        }
        let magnitude = result.reduce(0) { max($0, abs($1)) }
        guard abs(result[8]) > 1e-12 * magnitude else { return nil }
        let h33 = result[8]
        return GeometricModel(kind: .homography, matrix: result.map { $0 / h33 })
    }
}
