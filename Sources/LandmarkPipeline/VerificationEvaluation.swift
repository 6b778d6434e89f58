import Foundation
import LandmarkStorage
import LandmarkEvaluation
import LandmarkLocalFeatures

/// One image pair of a verification evaluation.
public struct VerifiedPair: Sendable, Codable, Equatable {
    /// Indices into the benchmark's images, `first < second`.
    public var first: Int
    public var second: Int
    /// Both images show the same landmark (a distractor is never positive).
    public var positive: Bool
    /// RANSAC inliers of the pair, not thresholded; 0 when either image could not be read.
    public var inliers: Int
    /// Tentative matches, and the inliers' spread over the images (`PairVerification.inlierSpread`).
    public var matches: Int
    public var spread: Double

    public init(first: Int, second: Int, positive: Bool, inliers: Int, matches: Int = 0, spread: Double = 0) {
        self.first = first
        self.second = second
        self.positive = positive
        self.inliers = inliers
        self.matches = matches
        self.spread = spread
    }
}

/// How well the inlier count separates same-landmark pairs from the rest.
public struct VerificationReport: Sendable, Codable, Equatable {
    public var dataset: String
    public var positives: Int
    public var negatives: Int
    /// ROC AUC of the inlier count as the score (Mann–Whitney, ties ½); NaN without positives or negatives.
    public var areaUnderROC: Double
    public var meanInliersPositive: Double
    public var meanInliersNegative: Double
    public var skipped: [SkippedImage]
    public var secondsExtracting: Double
    public var secondsVerifying: Double
    /// Every unordered pair, in (first, second) order.
    public var pairs: [VerifiedPair]

    public var pairCount: Int { pairs.count }
    public var seconds: Double { secondsExtracting + secondsVerifying }

    /// The flat JSON object scripts read.
    public var summary: [String: JSONScalar] {
        [
            "dataset": .string(dataset), "task": .string("verification"),
            "pairs": .integer(pairs.count), "positives": .integer(positives), "negatives": .integer(negatives),
            "auc": .number(areaUnderROC),
            "mean_inliers_positive": .number(meanInliersPositive), "mean_inliers_negative": .number(meanInliersNegative),
            "skipped": .integer(skipped.count),
            "seconds_extracting": .number(secondsExtracting), "seconds_verifying": .number(secondsVerifying),
        ]
    }
}

/// Image-pair verification scored as a binary classifier (METHODS.md §5): every unordered pair of a folder
/// benchmark is positive when both images show the same landmark, negative otherwise, and the RANSAC inlier
/// count is the score. The ROC AUC says how well verification alone tells the two apart, independent of any
/// inlier threshold.
public struct VerificationEvaluation: Sendable {
    public var verifier: SpatialVerifier

    public init(verifier: SpatialVerifier = SpatialVerifier()) {
        self.verifier = verifier
    }

    /// Extracts local features once per image (one image per core, each single-threaded), then verifies every
    /// pair (pairs spread over the cores). An image that cannot be read is reported as skipped and its pairs
    /// score 0 inliers, so a broken file can only lower the figures.
    public func evaluate(_ benchmark: FolderBenchmark,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> VerificationReport {
        let extractStart = Date()
        let count = benchmark.images.count
        let features = LocalFeatureExtraction(verifier: verifier)
            .extractAll(benchmark.images.indices.map { benchmark.imageURL($0) }, names: benchmark.images, progress: progress)
        var extracted: [LocalFeatures?] = []
        var skipped: [SkippedImage] = []
        for (index, result) in features.enumerated() {
            switch result {
            case .success(let value): extracted.append(value)
            case .failure(let failure):
                extracted.append(nil)
                skipped.append(SkippedImage(image: benchmark.images[index], reason: failure.reason))
            }
        }
        let secondsExtracting = Date().timeIntervalSince(extractStart)

        let verifyStart = Date()
        var pairs: [VerifiedPair] = []
        pairs.reserveCapacity(count * max(count - 1, 0) / 2)
        for first in 0..<count {
            for second in (first + 1)..<count {
                let positive = benchmark.labels[first] != nil && benchmark.labels[first] == benchmark.labels[second]
                pairs.append(VerifiedPair(first: first, second: second, positive: positive, inliers: 0))
            }
        }
        let described = extracted
        // The raw count, not `PairVerification.inlierCount`, which is 0 below the verifier's threshold.
        let measured = verifier.measurements(pairs.map { ($0.first, $0.second) },
                                             firstFeatures: { described[$0] }, secondFeatures: { described[$0] })
        for (position, value) in measured.enumerated() {
            pairs[position].inliers = value.inliers
            pairs[position].matches = value.matches
            pairs[position].spread = value.spread
        }
        let positiveScores = pairs.filter(\.positive).map { Double($0.inliers) }
        let negativeScores = pairs.filter { !$0.positive }.map { Double($0.inliers) }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
        return VerificationReport(
            dataset: benchmark.directory.path, positives: positiveScores.count, negatives: negativeScores.count,
            areaUnderROC: BinaryClassificationMetrics.rocAUC(positives: positiveScores, negatives: negativeScores),
            meanInliersPositive: mean(positiveScores), meanInliersNegative: mean(negativeScores),
            skipped: skipped, secondsExtracting: secondsExtracting,
            secondsVerifying: Date().timeIntervalSince(verifyStart), pairs: pairs)
    }

    /// Writes `a<TAB>b<TAB>positive<TAB>inliers<TAB>matches<TAB>spread` lines (image paths as in
    /// `ground_truth.tsv`, positive 1 or 0); the first four columns are the form
    /// `scripts/verification_roc_opencv.py --pairs-out` writes too, so that the two can be joined.
    public static func writePairs(_ report: VerificationReport, images: [String], to url: URL) throws(PipelineError) {
        var text = ""
        for pair in report.pairs {
            text += "\(images[pair.first])\t\(images[pair.second])\t\(pair.positive ? 1 : 0)\t\(pair.inliers)\t\(pair.matches)\t\(pair.spread)\n"
        }
        do {
            try DurableFile.write(Data(text.utf8), to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: "cannot write the pair list: \(error.localizedDescription)")
        }
    }
}
