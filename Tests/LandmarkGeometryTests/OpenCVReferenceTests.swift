import Foundation
import Testing
@testable import LandmarkGeometry

/// Compares RANSAC with OpenCV 4.6 (findHomography, estimateAffine2D, estimateAffinePartial2D) on the
/// synthetic sets of scripts/fixtures/geometry_make_fixtures.py.
@Suite struct OpenCVReferenceTests {
    struct Fixture: Decodable {
        struct Set: Decodable {
            var kind: GeometricModelKind
            var truth: [Double]
            var sources: [Double]
            var targets: [Double]
            var isInlier: [Bool]
            var opencvModel: [Double]
            var opencvInlierCount: Int
        }
        var threshold: Double
        var sets: [Set]
    }

    static func load() throws -> Fixture {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: folder.appendingPathComponent("geometry_opencv_ransac.json"))
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    /// Largest distance between the two models' images of an 11×9 grid over the 1024×768 frame.
    static func gridDistance(_ a: GeometricModel, _ b: GeometricModel) -> Double {
        var largest = 0.0
        for i in 0 ... 10 {
            for j in 0 ... 8 {
                let p = SIMD2<Double>(Double(i) * 102.4, Double(j) * 96)
                guard let x = a.transform(p), let y = b.transform(p) else { return .infinity }
                largest = max(largest, ((x - y) * (x - y)).sum().squareRoot())
            }
        }
        return largest
    }

    @Test func matchesOpenCVModelsAndInlierCounts() throws {
        let fixture = try Self.load()
        #expect(fixture.sets.count == 6)
        for set in fixture.sets {
            let correspondences = (0 ..< set.sources.count / 2).map { (i: Int) -> PointCorrespondence in
                PointCorrespondence(source: SIMD2<Double>(set.sources[2 * i], set.sources[2 * i + 1]),
                                    target: SIMD2<Double>(set.targets[2 * i], set.targets[2 * i + 1]))
            }
            let result = RANSAC.estimate(correspondences,
                                         configuration: .init(kind: set.kind, inlierThreshold: fixture.threshold))
            let model = try #require(result.model)
            let opencv = try #require(GeometricModel(kind: set.kind, matrix: set.opencvModel))
            let truth = try #require(GeometricModel(kind: set.kind, matrix: set.truth))
            let toOpenCV = Self.gridDistance(model, opencv), toTruth = Self.gridDistance(model, truth)
            // The issue asks for 1 px. On the same inlier set both fits end in the least-squares optimum of
            // the forward error (LM for homographies), so they then agree far closer than that.
            let tolerance = result.inlierCount == set.opencvInlierCount ? 0.01 : 1
            #expect(toOpenCV < tolerance,
                    "\(set.kind): grid distance to OpenCV \(toOpenCV) px, \(result.inlierCount) vs \(set.opencvInlierCount) inliers")
            #expect(toTruth < 1, "\(set.kind): grid distance to the true model \(toTruth) px")
            let relative = abs(Double(result.inlierCount - set.opencvInlierCount)) / Double(set.opencvInlierCount)
            #expect(relative <= 0.05, "\(set.kind): \(result.inlierCount) inliers, OpenCV \(set.opencvInlierCount)")
            #expect(result.isVerified)
        }
    }
}
