import LandmarkLinearAlgebra
import Foundation
import LandmarkGeometry

/// Geometric verification throughput for each model kind.
public struct VerificationBenchmarkResult: Sendable, CustomStringConvertible {
    public struct Entry: Sendable {
        public let kind: GeometricModelKind
        /// Median wall-clock time of one `RANSAC.estimate` call, in seconds.
        public let seconds: Double
        /// Mean hypotheses per call (adaptive stopping makes this depend on the kind).
        public let meanIterations: Double
        /// Mean inliers found per call, as a sanity check that the benchmark did real work.
        public let meanInliers: Double
        public var verificationsPerSecond: Double { 1 / seconds }
    }

    public let correspondences: Int
    public let outlierRatio: Double
    public let repetitions: Int
    public let entries: [Entry]

    public var description: String {
        var lines = [String(format: "geometric verification, %d correspondences, %.0f %% outliers, %d repetitions (1 thread):",
                            correspondences, 100 * outlierRatio, repetitions)]
        for entry in entries {
            lines.append(String(format: "  %@: %.0f verifications/s (%.3f ms each, %.0f hypotheses, %.0f inliers)",
                                entry.kind.rawValue, entry.verificationsPerSecond, 1000 * entry.seconds,
                                entry.meanIterations, entry.meanInliers))
        }
        return lines.joined(separator: "\n")
    }
}

public enum VerificationBenchmark {
    /// Times `RANSAC.estimate` with default settings (4 px, confidence 0.999, LO on) on synthetic
    /// correspondences from a known model of each kind; each repetition uses a different seed so
    /// that the timing covers the spread of adaptive stopping.
    public static func run(correspondences: Int = 500, outlierRatio: Double = 0.5,
                           repetitions: Int = 200) -> VerificationBenchmarkResult {
        let count = max(correspondences, 4), rounds = max(repetitions, 1)
        let ratio = min(max(outlierRatio, 0), 1)
        var entries: [VerificationBenchmarkResult.Entry] = []
        for kind in GeometricModelKind.allCases {
            let points = synthetic(kind, count: count, outlierRatio: ratio)
            var times: [Double] = []
            var iterations = 0, inliers = 0
            times.reserveCapacity(rounds)
            for round in 0 ..< rounds {
                var result: VerificationResult?
                times.append(measure {
                    result = RANSAC.estimate(points, configuration: .init(kind: kind, seed: UInt64(round)))
                })
                iterations += result?.iterations ?? 0
                inliers += result?.inlierCount ?? 0
            }
            times.sort()
            entries.append(.init(kind: kind, seconds: times[times.count / 2],
                                 meanIterations: Double(iterations) / Double(rounds),
                                 meanInliers: Double(inliers) / Double(rounds)))
        }
        return VerificationBenchmarkResult(correspondences: count, outlierRatio: ratio, repetitions: rounds,
                                           entries: entries)
    }

    /// Uniform points in a 1024×768 frame mapped by a fixed model with ±0.5 px noise; outliers get
    /// uniform random targets.
    static func synthetic(_ kind: GeometricModelKind, count: Int, outlierRatio: Double) -> [PointCorrespondence] {
        let matrix: [Double] = switch kind {
        case .similarity: [0.9, -0.2, 50, 0.2, 0.9, -20, 0, 0, 1]
        case .affine: [0.95, 0.1, 30, -0.12, 1.05, 10, 0, 0, 1]
        case .homography: [0.85, 0.1, 60, -0.05, 0.95, 30, 1.5e-4, -1e-4, 1]
        }
        guard let model = GeometricModel(kind: kind, matrix: matrix) else { return [] }
        var generator = SplitMix64(seed: 2024)
        func uniform() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
        let outliers = Int((Double(count) * outlierRatio).rounded())
        return (0 ..< count).map { index in
            let source = SIMD2(uniform() * 1024, uniform() * 768)
            let noise = SIMD2(uniform() - 0.5, uniform() - 0.5)
            if index < outliers {
                return PointCorrespondence(source: source, target: SIMD2(uniform() * 1024, uniform() * 768))
            }
            return PointCorrespondence(source: source, target: (model.transform(source) ?? source) + noise)
        }
    }
}
