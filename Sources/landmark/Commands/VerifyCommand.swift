import ArgumentParser
import Foundation
import LandmarkStorage
import LandmarkGeometry
import LandmarkImage
import LandmarkLocalFeatures
import LandmarkPipeline
import LandmarkStorage

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check whether two photographs show the same scene: RootSIFT matches + RANSAC inliers.",
        discussion: """
        Extracts RootSIFT features from both images (longer side --size), keeps ratio-test matches, fits \
        a geometric model with RANSAC (fixed seed: same inputs, same answer) and prints the inlier count. \
        A pair with at least --min-inliers inliers is "verified".
        """)

    @Argument(help: "First photograph.")
    var imageA: String

    @Argument(help: "Second photograph.")
    var imageB: String

    @Option(help: "Model: homography, affine or similarity.")
    var model: String = "homography"

    @Option(parsing: .unconditional, help: "RANSAC inlier threshold in pixels (at --size).")
    var threshold: Double = 4

    @Option(help: "Inliers needed to call the pair verified.")
    var minInliers: Int = VerificationThresholds.verified

    @Option(parsing: .unconditional, help: "Longer image side for feature extraction.")
    var size: Int = 1024

    @Option(parsing: .unconditional, help: "Strongest features kept per image.")
    var features: Int = 2000

    @Option(help: "Write a side-by-side PNG with the inlier matches drawn.")
    var visualize: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Output: Encodable {
        var imageA: String, imageB: String
        var featuresA: Int, featuresB: Int, matches: Int, inliers: Int, verified: Bool
        var model: String?, matrix: [Double]?, reason: String?
    }

    func run() throws {
        guard let kind = GeometricModelKind(rawValue: model.lowercased()) else {
            throw ValidationError("--model must be homography, affine or similarity")
        }
        guard threshold > 0, size >= 64, features > 0, minInliers >= 0 else {
            throw ValidationError("--threshold, --size (≥ 64), --features and --min-inliers must be positive")
        }
        var ransac = RANSACConfiguration()
        ransac.kind = kind
        ransac.inlierThreshold = threshold
        let verifier = SpatialVerifier(
            sift: SIFT(SIFTConfiguration(maximumFeatures: features, imageSize: size)), ransac: ransac,
            minimumInliers: minInliers)
        var extracted: [(image: RGBImage, features: LocalFeatures)] = []
        for path in [imageA, imageB] {
            switch verifier.features(of: URL(fileURLWithPath: path)) {
            case .success(let value): extracted.append(value)
            case .failure(let skipped):
                Console.error("error: \(path): \(skipped.reason)")
                throw LandmarkExitCode.failure
            }
        }
        let pair = verifier.verify(extracted[0].features, extracted[1].features)
        let result = pair.result
        if let visualize {
            let picture = MatchVisualization.inliers(of: pair, first: extracted[0], second: extracted[1])
            do {
                try DurableFile.write(try ImageEncoder.png(picture), to: URL(fileURLWithPath: visualize))
            } catch {
                Console.error("error: \(visualize): cannot write the picture: \(error)")
                throw LandmarkExitCode.failure
            }
        }
        let output = Output(
            imageA: imageA, imageB: imageB, featuresA: extracted[0].features.count, featuresB: extracted[1].features.count,
            matches: pair.matches.count, inliers: pair.distinctInlierCount, verified: pair.isVerified,
            model: result.model?.kind.rawValue, matrix: result.model?.matrix,
            reason: pair.rejection(minimumInliers: minInliers))
        if json {
            print(JSONOutput.line(output))
        } else {
            print("\(output.verified ? "verified" : "not verified"): \(output.inliers) inliers of \(output.matches) matches "
                + "(\(output.featuresA) and \(output.featuresB) features)" + (output.reason.map { " — \($0)" } ?? ""))
        }
    }
}
