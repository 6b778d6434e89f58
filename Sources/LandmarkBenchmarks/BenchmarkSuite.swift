import Foundation
import LandmarkDemo
import LandmarkLinearAlgebra
import LandmarkPipeline

/// Everything `landmark bench` measures, as text for people and JSON for scripts.
public struct BenchmarkReport: Sendable {
    public var text: String
    public var json: String
}

/// The benchmark suite: image decoding, the machine's sgemm rate, and exact search at the sizes the
/// foundation issue names (100k × 512 and 100k × 2048 with 1000 queries).
public enum BenchmarkSuite {
    public static func run(imagesDirectory: URL?, quick: Bool, log: (String) -> Void) -> BenchmarkReport {
        var lines: [String] = []
        var object: [String: Any] = ["blas_backend": BLAS.backendDescription]

        // 1. Decoding and resizing real files.
        let (files, source) = benchmarkImages(imagesDirectory, log: log)
        log("decoding \(files.count) images from \(source)…")
        let decode = ImageDecodeBenchmark.run(files, resizeSide: 512, rounds: quick ? 1 : 3)
        lines.append(String(format: "images: %d files (%.1f Mpixel) from %@", decode.images, decode.megapixels, source))
        lines.append(String(format: "  decode: %.1f images/s; decode + resize to %d: %.1f images/s (1 thread)",
                            decode.decodedPerSecond, decode.resizeSide, decode.decodedAndResizedPerSecond))
        lines.append(String(format: "  reduced-scale decode + resize to %d: %.1f images/s (%d of %d images reduced; resized pixels differ from a full decode's by at most %d, %.2f on average)",
                            decode.resizeSide, decode.reducedDecodedAndResizedPerSecond, decode.reducedImages, decode.images,
                            decode.reducedMaximumPixelDifference, decode.reducedMeanPixelDifference))
        object["decode"] = [
            "images": decode.images, "megapixels": decode.megapixels,
            "decoded_per_second": decode.decodedPerSecond,
            "decoded_and_resized_per_second": decode.decodedAndResizedPerSecond, "resize_side": decode.resizeSide,
            "reduced_decoded_and_resized_per_second": decode.reducedDecodedAndResizedPerSecond,
            "reduced_images": decode.reducedImages, "reduced_maximum_pixel_difference": decode.reducedMaximumPixelDifference,
            "reduced_mean_pixel_difference": decode.reducedMeanPixelDifference,
        ]

        // 2. The machine's matrix-product rate.
        log("timing sgemm…")
        let product = MatrixProductBenchmark.run(repetitions: quick ? 2 : 5)
        lines.append(product.description)
        object["sgemm"] = [
            "m": product.m, "n": product.n, "k": product.k,
            "gflops_1_thread": product.singleThreadGFLOPS, "gflops_all_threads": product.allThreadsGFLOPS,
            "threads": product.threadCount,
        ]

        // 3. Exact search.
        let databaseCount = quick ? 10_000 : 100_000
        let queryCount = quick ? 100 : 1000
        var searches: [[String: Any]] = []
        var best = product.bestGFLOPS
        for dimension in [512, 2048] {
            log("timing exact search \(databaseCount) × \(dimension) with \(queryCount) queries…")
            let result = SearchBenchmark.run(databaseCount: databaseCount, dimension: dimension,
                                             queryCount: queryCount, k: 100, repetitions: quick ? 2 : 5)
            best = max(best, result.matrixProduct.bestGFLOPS)
            lines.append(result.description)
            searches.append([
                "database": databaseCount, "dimension": dimension, "queries": queryCount, "k": result.k,
                "queries_per_second": result.queriesPerSecond, "effective_gflops": result.effectiveGFLOPS,
                "sgemm_same_shape_gflops": result.matrixProduct.bestGFLOPS, "ratio_to_sgemm": result.peakRatio,
            ])
        }
        object["search"] = searches
        object["best_sgemm_gflops"] = best
        lines.append(String(format: "best measured sgemm rate: %.1f GFLOP/s", best))

        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return BenchmarkReport(text: lines.joined(separator: "\n"), json: String(decoding: data, as: UTF8.self))
    }

    /// The photographs to time: the named folder, else `../shared/devset` if present, else a freshly
    /// rendered synthetic set.
    /// Photographs for benchmarks: the given folder, else ../shared/devset, else synthetic ones.
    public static func photographs(_ directory: URL?, log: (String) -> Void) -> (files: [URL], source: String) {
        benchmarkImages(directory, log: log)
    }

    static func benchmarkImages(_ directory: URL?, log: (String) -> Void) -> (files: [URL], source: String) {
        let candidates = [directory, URL(fileURLWithPath: "../shared/devset")].compactMap { $0 }
        for candidate in candidates {
            if let paths = try? ImageCollection.scan(candidate), !paths.isEmpty {
                return (paths.map { candidate.appendingPathComponent($0) }, candidate.path)
            }
        }
        let temporary = FileManager.default.temporaryDirectory
            .appendingPathComponent("landmark-bench-\(ProcessInfo.processInfo.processIdentifier)")
        log("no photographs found; rendering synthetic ones into \(temporary.path)")
        let configuration = SyntheticLandmarkDataset.Configuration(
            landmarkCount: 6, viewsPerLandmark: 4, distractorCount: 6, width: 1024, height: 768)
        guard let entries = try? SyntheticLandmarkDataset(configuration: configuration).write(to: temporary) else {
            return ([], "nothing")
        }
        return (entries.map { temporary.appendingPathComponent($0.relativePath) }, "synthetic 1024×768 JPEGs")
    }
}
