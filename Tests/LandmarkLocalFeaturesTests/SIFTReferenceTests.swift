import Foundation
import LandmarkImage
import LandmarkLinearAlgebra
import Testing
@testable import LandmarkLocalFeatures

/// Comparisons with OpenCV 4.6's SIFT (fixture from scripts/fixtures/localfeatures_make_fixtures.py).
struct SIFTReferenceTests {
    static var hasDevset: Bool { FileManager.default.fileExists(atPath: devset.path) }
    static let devset = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/devset/images")

    /// The detector finds the same extrema as OpenCV on a synthetic image: every OpenCV keypoint location has one
    /// here within 0.05 px with size and response within 1 % and the same octave/layer; orientations agree within
    /// 2° for most keypoints (isotropic blobs have nearly flat orientation histograms, whose secondary peaks flip
    /// with OpenCV's approximate arctangent).
    @Test func syntheticKeypointsMatchOpenCV() throws {
        let fixture = try OpenCVFixture.load()
        let width = fixture.synthetic.width, height = fixture.synthetic.height
        let sift = SIFT(SIFTConfiguration(maximumFeatures: 0, imageSize: 0))
        let features = sift.extract(grayscale: syntheticBlobs(width: width, height: height), width: width, height: height)
        let reference = fixture.synthetic.keypoints
        var located = 0, oriented = 0
        for expected in reference {
            let candidates = features.keypoints.filter { keypoint in
                abs(Double(keypoint.x) - expected[0]) < 0.05 && abs(Double(keypoint.y) - expected[1]) < 0.05
                    && abs(Double(keypoint.size) / expected[2] - 1) < 0.01
                    && abs(Double(keypoint.response) / expected[4] - 1) < 0.01
                    && keypoint.octave & 0xFFFF == Int(expected[5]) & 0xFFFF
            }
            if !candidates.isEmpty { located += 1 }
            if candidates.contains(where: { keypoint in
                let difference = abs(Double(keypoint.angle) - expected[3])
                return min(difference, 360 - difference) < 2
            }) { oriented += 1 }
        }
        #expect(located == reference.count, "located \(located) of \(reference.count)")
        #expect(Double(oriented) >= 0.8 * Double(reference.count), "oriented \(oriented) of \(reference.count)")
        #expect(abs(features.count - reference.count) <= max(2, reference.count / 10),
                "\(features.count) keypoints, OpenCV \(reference.count)")
    }

    /// Descriptors of keypoints found with the same position and orientation (within 0.5°) equal OpenCV's up to the
    /// small differences of the arctangent approximations: cosine similarity above 0.999, mean absolute difference
    /// below 1 of 255.
    @Test func syntheticDescriptorsMatchOpenCV() throws {
        let fixture = try OpenCVFixture.load()
        let width = fixture.synthetic.width, height = fixture.synthetic.height
        let sift = SIFT(SIFTConfiguration(maximumFeatures: 0, imageSize: 0, rootSIFT: false))
        let features = sift.extract(grayscale: syntheticBlobs(width: width, height: height), width: width, height: height)
        var compared = 0
        for (expected, reference) in zip(fixture.synthetic.keypoints, fixture.synthetic.descriptors) {
            guard let index = features.keypoints.firstIndex(where: { keypoint in
                let difference = abs(Double(keypoint.angle) - expected[3])
                return abs(Double(keypoint.x) - expected[0]) < 0.05 && abs(Double(keypoint.y) - expected[1]) < 0.05
                    && min(difference, 360 - difference) < 0.5
            }) else { continue }
            let ours = features.descriptors.row(index)
            var dot: Float = 0, normOurs: Float = 0, normReference: Float = 0, absolute: Float = 0
            for (x, y) in zip(ours, reference) {
                dot += x * y
                normOurs += x * x
                normReference += y * y
                absolute += abs(x - y)
            }
            let cosine = dot / max((normOurs * normReference).squareRoot(), 1e-12)
            #expect(cosine > 0.999, "keypoint at \(expected[0]), \(expected[1]): cosine \(cosine)")
            #expect(absolute / 128 < 1, "mean absolute difference \(absolute / 128)")
            compared += 1
        }
        #expect(compared >= fixture.synthetic.keypoints.count * 3 / 4, "compared \(compared)")
    }

    /// On three photos warped by a known homography, repeatability and correct matches are within 10 % of OpenCV's
    /// (or better). Skipped when the development set is absent.
    @Test(.enabled(if: SIFTReferenceTests.hasDevset, "needs ../shared/devset"))
    func warpedPhotosMatchOpenCV() throws {
        for pair in try OpenCVFixture.load().warpedPairs {
            let keypoints = try checkWarpedPair(pair, photo: Self.devset.appendingPathComponent(pair.image))
            #expect(keypoints <= 2001 && keypoints >= 1800)
        }
    }

    /// The warped-photo check on a photograph that lives in the repository (the procedural street of the
    /// network fixtures), so that it runs on a fresh clone without ../shared.
    @Test func warpedProceduralPhotographMatchesOpenCV() throws {
        let pair = try OpenCVFixture.load().proceduralPair
        let photo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("LandmarkNetworksTests/Fixtures").appendingPathComponent(pair.image)
        let keypoints = try checkWarpedPair(pair, photo: photo)
        #expect(Double(keypoints) >= 0.9 * Double(pair.keypointsA), "\(keypoints) keypoints, OpenCV \(pair.keypointsA)")
    }

    /// Decodes and warps `photo` as the fixture script did, checks the pixels against its checksums, and
    /// repeatability and correct matches against OpenCV's; returns the keypoints found in the original.
    func checkWarpedPair(_ pair: OpenCVFixture.WarpedPair, photo: URL) throws -> Int {
        let resized = try ImageDecoder.decode(contentsOf: photo).resized(longerSide: 1024)
        #expect(resized.width == pair.width && resized.height == pair.height)
        let grey = resized.grayscale()
        let warped = warpBilinear(grey, width: pair.width, height: pair.height, inverse: pair.inverse)
        // Decoders (and the grey conversion) may differ by a level here and there; the pixels are otherwise the reference's.
        #expect(abs(Int(grey.reduce(0, +)) - pair.greyChecksum) < pair.width * pair.height / 50)
        #expect(abs(Int(warped.reduce(0, +)) - pair.warpedChecksum) < pair.width * pair.height / 50)
        let sift = SIFT()
        let a = sift.extract(grayscale: grey, width: pair.width, height: pair.height)
        let b = sift.extract(grayscale: warped, width: pair.width, height: pair.height)
        let figures = warpFigures(a, b, homography: pair.homography)
        #expect(figures.repeatability >= 0.9 * pair.repeatability,
                "\(pair.image): repeatability \(figures.repeatability), OpenCV \(pair.repeatability)")
        #expect(Double(figures.correctMatches) >= 0.9 * Double(pair.correctMatches),
                "\(pair.image): correct matches \(figures.correctMatches), OpenCV \(pair.correctMatches)")
        return a.count
    }

    /// On real pairs of the same landmark, ratio-test matches and RANSAC homography inliers (4 px) are within 10 % of
    /// OpenCV's or better. Skipped when the development set is absent.
    @Test(.enabled(if: SIFTReferenceTests.hasDevset, "needs ../shared/devset"))
    func realPairsMatchOpenCV() throws {
        let fixture = try OpenCVFixture.load()
        let sift = SIFT()
        for pair in fixture.realPairs {
            let a = sift.extract(try ImageDecoder.decode(contentsOf: Self.devset.appendingPathComponent(pair.imageA)))
            let b = sift.extract(try ImageDecoder.decode(contentsOf: Self.devset.appendingPathComponent(pair.imageB)))
            let matches = FeatureMatcher.ratioTest(a, b)
            let inliers = ransacHomographyInliers(a, b, matches)
            #expect(Double(matches.count) >= 0.9 * Double(pair.matches),
                    "\(pair.imageA): \(matches.count) matches, OpenCV \(pair.matches)")
            #expect(Double(inliers) >= 0.9 * Double(pair.ransacInliers),
                    "\(pair.imageA): \(inliers) inliers, OpenCV \(pair.ransacInliers)")
        }
    }
}
