import LandmarkLinearAlgebra
import Foundation
@testable import LandmarkGeometry

/// Correspondences from a known model: uniform points in a 1024×768 frame, Gaussian noise on the
/// targets, and a fraction replaced by uniform random targets (outliers).
struct SyntheticSet {
    var correspondences: [PointCorrespondence]
    var isInlier: [Bool]
    var truth: GeometricModel

    init(truth: GeometricModel, count: Int, outlierRatio: Double, noise: Double = 0.5, seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        func uniform() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
        func gaussian() -> Double {
            let u = max(uniform(), 1e-300), v = uniform()
            return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
        }
        self.truth = truth
        correspondences = []
        isInlier = []
        let outliers = Int((Double(count) * outlierRatio).rounded())
        while correspondences.count < count {
            let source = SIMD2(uniform() * 1024, uniform() * 768)
            let index = correspondences.count
            if index < outliers {
                correspondences.append(PointCorrespondence(source: source, target: SIMD2(uniform() * 1024, uniform() * 768)))
                isInlier.append(false)
            } else {
                guard let mapped = truth.transform(source) else { continue }
                let target = mapped + SIMD2(gaussian(), gaussian()) * noise
                correspondences.append(PointCorrespondence(source: source, target: target))
                isInlier.append(true)
            }
        }
        // Interleave outliers and inliers so that index order carries no information.
        var order = Array(correspondences.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, generator.below(i + 1)) }
        correspondences = order.map { correspondences[$0] }
        isInlier = order.map { isInlier[$0] }
    }

    static func model(_ kind: GeometricModelKind) -> GeometricModel? {
        switch kind {
        case .similarity:
            let angle = 0.3, scale = 0.8
            return GeometricModel(kind: .similarity, matrix: [scale * cos(angle), -scale * sin(angle), 150,
                                                              scale * sin(angle), scale * cos(angle), -40, 0, 0, 1])
        case .affine:
            return GeometricModel(kind: .affine, matrix: [0.9, 0.15, 40, -0.1, 1.1, 25, 0, 0, 1])
        case .homography:
            return GeometricModel(kind: .homography, matrix: [0.85, 0.1, 60, -0.05, 0.95, 30, 1.5e-4, -1e-4, 1])
        }
    }
}

