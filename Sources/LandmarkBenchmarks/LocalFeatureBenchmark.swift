import Foundation
import LandmarkGeometry
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkPipeline

/// Figures of the local-feature path (METHODS.md §3, §5; issue 4): SIFT extraction, pair verification,
/// ASMK query latency and the disk cost of each part of an index.
public struct LocalFeatureBenchmarkResult: Sendable, Codable, CustomStringConvertible {
    /// Where the photographs came from.
    public var source: String
    public var images: Int
    /// Longer side the photographs are reduced to before SIFT.
    public var imageSize: Int
    public var maximumFeatures: Int
    /// Threads of one SIFT extraction.
    public var threads: Int
    /// Median wall-clock seconds of SIFT (detection + description) on one already decoded, resized grey image.
    public var siftSecondsPerImage: Double
    /// Median seconds to decode, resize and convert one photograph to grey (not included above).
    public var decodeSecondsPerImage: Double
    public var meanFeatures: Double
    /// Pairs of photographs verified (consecutive in path order: views of one landmark and unrelated pairs).
    public var pairs: Int
    /// Median seconds of matching one pair (ratio test and one match per target, 1 thread; best of 3 runs).
    public var matchingSecondsPerPair: Double
    /// Median seconds of RANSAC (homography, defaults) of one pair (1 thread).
    public var ransacSecondsPerPair: Double
    /// 1 / (matching + RANSAC) per pair on one thread.
    public var verificationsPerSecond: Double
    public var meanInliers: Double
    /// The same pairs matched with every distance in float (one matrix product per pair), the path taken
    /// where the processor has no VNNI: the reference for the 8-bit candidates.
    public var floatMatchingSecondsPerPair: Double
    public var floatVerificationsPerSecond: Double
    public var floatMeanInliers: Double
    /// Pairs whose tentative matches are the same with 8-bit candidates as in float.
    public var identicalMatchLists: Int
    /// Largest |inliers − float inliers| / float inliers over the pairs.
    public var largestInlierChange: Double
    /// Images in the timed ASMK index (the photographs' representations repeated to this count).
    public var asmkImages: Int
    public var asmkVocabularySize: Int
    /// Median milliseconds of one ASMK query (word assignment with multiple assignment + inverted-file
    /// scoring + ranking), one thread.
    public var asmkQueryMilliseconds: Double
    /// Bytes on disk per indexed image.
    public var globalStoreBytesPerImage: Double
    public var globalDimension: Int
    public var localFeatureStoreBytesPerImage: Double
    public var asmkIndexBytesPerImage: Double

    public var description: String {
        [
            "local features on \(images) photographs from \(source) (SIFT \(maximumFeatures) features at \(imageSize) px):",
            String(format: "  SIFT extraction: %.1f ms per image (%d thread%@), %.0f features; decode+resize+grey %.1f ms",
                   1000 * siftSecondsPerImage, threads, threads == 1 ? "" : "s", meanFeatures, 1000 * decodeSecondsPerImage),
            String(format: "  verification (1 thread, %d real pairs): %.1f pairs/s (matching %.2f ms + RANSAC %.2f ms), %.1f inliers on average",
                   pairs, verificationsPerSecond, 1000 * matchingSecondsPerPair, 1000 * ransacSecondsPerPair, meanInliers),
            String(format: "  float matching: %.1f pairs/s (matching %.2f ms), %.1f inliers; same matches in %d of %d pairs, largest inlier change %.1f %%",
                   floatVerificationsPerSecond, 1000 * floatMatchingSecondsPerPair, floatMeanInliers, identicalMatchLists, pairs,
                   100 * largestInlierChange),
            String(format: "  ASMK query (1 thread): %.2f ms on %d images, %d-word vocabulary",
                   asmkQueryMilliseconds, asmkImages, asmkVocabularySize),
            String(format: "  bytes per image on disk: global store %.0f (%d-D float32), local-feature store %.0f, ASMK index %.0f",
                   globalStoreBytesPerImage, globalDimension, localFeatureStoreBytesPerImage, asmkIndexBytesPerImage),
        ].joined(separator: "\n")
    }
}

public enum LocalFeatureBenchmark {
    /// Runs on the first `count` photographs of `imagesDirectory`, else of `../shared/devset`, else of a
    /// freshly rendered synthetic set (the same choice as the core benchmarks).
    public static func run(imagesDirectory: URL?, count: Int, maximumFeatures: Int = 1000, imageSize: Int = 1024,
                           threads: Int = ProcessInfo.processInfo.activeProcessorCount, asmkImages: Int = 10_000,
                           log: (String) -> Void = { _ in }) -> LocalFeatureBenchmarkResult? {
        let (files, source) = BenchmarkSuite.benchmarkImages(imagesDirectory, log: log)
        return run(files: Array(files.prefix(max(2, count))), source: source, maximumFeatures: maximumFeatures,
                   imageSize: imageSize, threads: threads, asmkImages: asmkImages, log: log)
    }

    /// Runs every measurement on `files` (decoded once each; unreadable files are left out).
    /// - Parameters:
    ///   - threads: threads of one SIFT extraction (OpenCV's comparison uses the same count).
    ///   - asmkImages: size of the ASMK index whose query latency is timed.
    ///   - globalDimension: dimension of the global descriptor whose store cost is reported.
    public static func run(files: [URL], source: String, maximumFeatures: Int = 1000, imageSize: Int = 1024,
                           threads: Int = ProcessInfo.processInfo.activeProcessorCount, asmkImages: Int = 10_000,
                           vocabularySize: Int = 1024, globalDimension: Int = 1280,
                           log: (String) -> Void = { _ in }) -> LocalFeatureBenchmarkResult? {
        // Decode, resize, grey: outside the SIFT timing, as for OpenCV (which gets the same grey images).
        var greys: [(pixels: [Float], width: Int, height: Int, name: String)] = []
        var decodeTimes: [Double] = []
        for file in files {
            let start = DispatchTime.now().uptimeNanoseconds
            guard let image = try? ImageDecoder.decode(contentsOf: file) else { continue }
            let resized = image.resized(longerSide: imageSize)
            let grey = resized.grayscale()
            decodeTimes.append(seconds(since: start))
            greys.append((grey, resized.width, resized.height, file.lastPathComponent))
        }
        guard greys.count >= 2 else { return nil }

        log("timing SIFT on \(greys.count) images…")
        let sift = SIFT(SIFTConfiguration(maximumFeatures: maximumFeatures, imageSize: imageSize, rootSIFT: false,
                                          threads: max(1, threads)))
        var siftTimes: [Double] = []
        var plain: [LocalFeatures] = []
        for grey in greys {
            let start = DispatchTime.now().uptimeNanoseconds
            let features = sift.extract(grayscale: grey.pixels, width: grey.width, height: grey.height)
            siftTimes.append(seconds(since: start))
            plain.append(features)
        }
        let rootFeatures = plain.map { features -> LocalFeatures in
            var copy = features
            RootSIFT.transform(&copy.descriptors)
            return copy
        }

        log("timing verification of \(greys.count - 1) pairs…")
        let verifier = SpatialVerifier()
        var matchingTimes: [Double] = [], floatMatchingTimes: [Double] = [], ransacTimes: [Double] = []
        var inliers = 0, floatInliers = 0, identicalMatchLists = 0
        var largestInlierChange = 0.0
        for index in 0 ..< rootFeatures.count - 1 {
            let a = rootFeatures[index], b = rootFeatures[index + 1]
            // Best of three runs: one pair takes about a millisecond, less than a scheduler hiccup.
            func timed<T>(_ work: () -> T) -> (T, Double) {
                var best = Double.infinity
                var value = work()
                for _ in 0 ..< 3 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    value = work()
                    best = min(best, seconds(since: start))
                }
                return (value, best)
            }
            let (matches, matching) = timed {
                FeatureMatcher.uniqueTargets(FeatureMatcher.ratioTest(a, b, ratio: verifier.ratio))
            }
            let (floatMatches, floatMatching) = timed {
                FeatureMatcher.uniqueTargets(FeatureMatcher.ratioTest(a, b, ratio: verifier.ratio, quantizedCandidates: false))
            }
            matchingTimes.append(matching)
            floatMatchingTimes.append(floatMatching)
            if matches.map({ [$0.query, $0.train] }) == floatMatches.map({ [$0.query, $0.train] }) { identicalMatchLists += 1 }
            func correspondences(_ matches: [FeatureMatch]) -> [PointCorrespondence] {
                matches.map { match in
                    PointCorrespondence(source: SIMD2(Double(a.keypoints[match.query].x), Double(a.keypoints[match.query].y)),
                                        target: SIMD2(Double(b.keypoints[match.train].x), Double(b.keypoints[match.train].y)))
                }
            }
            let points = correspondences(matches)
            let (result, ransac) = timed {
                RANSAC.estimate(points, configuration: verifier.ransac, minimumInliers: verifier.minimumInliers)
            }
            ransacTimes.append(ransac)
            let floatResult = RANSAC.estimate(correspondences(floatMatches), configuration: verifier.ransac,
                                              minimumInliers: verifier.minimumInliers)
            inliers += result.inlierCount
            floatInliers += floatResult.inlierCount
            let change = Double(abs(result.inlierCount - floatResult.inlierCount)) / Double(max(floatResult.inlierCount, 1))
            largestInlierChange = max(largestInlierChange, change)
        }

        log("building a \(asmkImages)-image ASMK index…")
        let total = rootFeatures.reduce(0) { $0 + $1.count }
        let words = max(1, min(vocabularySize, total / 10))
        let stride = max(1, total / 100_000)
        var sample: [Float] = []
        var running = 0
        for features in rootFeatures {
            for row in 0 ..< features.count {
                if running % stride == 0 { sample.append(contentsOf: features.descriptors.row(row)) }
                running += 1
            }
        }
        guard let vocabulary = try? VisualVocabulary.train(Matrix(rows: sample.count / 128, columns: 128, storage: sample),
                                                           size: words, iterations: 10, seed: 0) else { return nil }
        var asmk = ASMKIndex(vocabulary: vocabulary)
        let representations = rootFeatures.map {
            asmk.represent($0.descriptors, multipleAssignment: asmk.configuration.databaseMultipleAssignment)
        }
        for image in 0 ..< max(asmkImages, representations.count) {
            _ = asmk.add(representation: representations[image % representations.count])
        }
        asmk.prepareForSearch()
        log("timing ASMK queries…")
        var queryTimes: [Double] = []
        for features in rootFeatures {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = asmk.search([features.descriptors], k: 100, parameters: SearchParameters(threads: 1))
            queryTimes.append(seconds(since: start))
        }

        // Disk cost, from files written the way an index writes them.
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("landmark-bench-local-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let names = greys.map(\.name)
        let records = zip(names, plain).map { LocalFeatureStorage.record(identifier: $0, sift: $1) }
        let localURL = directory.appendingPathComponent("local.lmf")
        let globalURL = directory.appendingPathComponent("global.lmd")
        let asmkURL = directory.appendingPathComponent("asmk.lmi")
        try? LocalFeatureStoreWriter.write(records, metadata: ["extractor": "benchmark"], to: localURL)
        try? DescriptorStoreWriter.write(Matrix(rows: names.count, columns: globalDimension), identifiers: names,
                                         metadata: ["descriptor": "benchmark"], to: globalURL)
        try? asmk.write(to: asmkURL)
        func size(_ url: URL) -> Double {
            Double(((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0)
        }
        let matching = median(matchingTimes), ransac = median(ransacTimes), floatMatching = median(floatMatchingTimes)
        return LocalFeatureBenchmarkResult(
            source: source, images: greys.count, imageSize: imageSize, maximumFeatures: maximumFeatures,
            threads: max(1, threads), siftSecondsPerImage: median(siftTimes), decodeSecondsPerImage: median(decodeTimes),
            meanFeatures: Double(total) / Double(greys.count), pairs: matchingTimes.count,
            matchingSecondsPerPair: matching, ransacSecondsPerPair: ransac,
            verificationsPerSecond: 1 / max(matching + ransac, 1e-9),
            meanInliers: Double(inliers) / Double(max(1, matchingTimes.count)),
            floatMatchingSecondsPerPair: floatMatching,
            floatVerificationsPerSecond: 1 / max(floatMatching + ransac, 1e-9),
            floatMeanInliers: Double(floatInliers) / Double(max(1, matchingTimes.count)),
            identicalMatchLists: identicalMatchLists, largestInlierChange: largestInlierChange,
            asmkImages: asmk.imageCount, asmkVocabularySize: words, asmkQueryMilliseconds: 1000 * median(queryTimes),
            globalStoreBytesPerImage: size(globalURL) / Double(names.count), globalDimension: globalDimension,
            localFeatureStoreBytesPerImage: size(localURL) / Double(names.count),
            asmkIndexBytesPerImage: size(asmkURL) / Double(asmk.imageCount))
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.sorted()[values.count / 2]
    }
}
