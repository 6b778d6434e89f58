import Foundation
import LandmarkImage
import LandmarkCheckpoint
import LandmarkDescriptors
@_spi(Benchmarks) import LandmarkLinearAlgebra
import LandmarkNetworks
import LandmarkPipeline

/// Speed and memory of CNN descriptor extraction on real photographs, measured the way PyTorch's side
/// is (scripts/reference/pytorch_extraction_bench.py): per image, decode → thumbnail → network → pooling.
public struct CNNExtractionBenchmarkResult: Sendable, Codable {
    public var label: String
    public var descriptor: String
    public var images: Int
    /// One image at a time, using every core inside the image (the latency a query sees).
    public var secondsPerImage: Double
    public var imagesPerSecond: Double { secondsPerImage > 0 ? 1 / secondsPerImage : 0 }
    /// Convolution arithmetic per second during the one-at-a-time run (2 × multiply-accumulates).
    public var gflops: Double
    /// Images per second when indexing: one image per core at a time.
    public var batchImagesPerSecond: Double
    /// The process's peak resident memory after this measurement.
    public var peakResidentMegabytes: Double
    /// The machine's measured sgemm rate, for comparison (set by the caller; 0 if not measured).
    public var sgemmPeakGFLOPS: Double = 0

    public var description: String {
        let ratio = sgemmPeakGFLOPS > 0 ? String(format: " = %.0f %% of sgemm peak", 100 * gflops / sgemmPeakGFLOPS) : ""
        return String(format: "%@: %.3f s/image (%.2f images/s, %.1f GFLOP/s%@), indexing %.2f images/s, peak RSS %.0f MB",
                      label, secondsPerImage, imagesPerSecond, gflops, ratio, batchImagesPerSecond, peakResidentMegabytes)
    }
}

public enum CNNExtractionBenchmark {
    /// An extractor with seeded (untrained) weights of a torchvision ResNet — same speed as trained ones,
    /// with nothing to download.
    public static func seededResNet(depth: Int, configuration: CNNDescriptorConfiguration) throws(DescriptorError) -> CNNGlobalDescriptor {
        guard let shapes = ResNet.stateDictionaryShapes(depth: depth) else {
            throw DescriptorError(code: .invalidConfiguration, reason: "no ResNet-\(depth)")
        }
        let checkpoint = SeededParameters().checkpoint(shapes: shapes, file: "seeded-resnet\(depth)")
        return try CNNGlobalDescriptor(configuration, checkpoint: checkpoint, architecture: "resnet\(depth)")
    }

    /// Times `extractor` on `files`: a warm-up image, then every file one at a time with all cores, then
    /// all files again as indexing runs them (one image per core).
    /// - Parameter blasThreads: when set, one image at a time runs its matrix products on this many BLAS
    ///   threads (and no engine threads) instead of on the tensor engine's own threads.
    public static func run(label: String, extractor: CNNGlobalDescriptor, files: [URL],
                           blasThreads: Int? = nil) -> CNNExtractionBenchmarkResult {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let items = files.map { ExtractionItem(url: $0, name: $0.lastPathComponent) }
        // Full decodes, as the PyTorch side (PIL's open + convert + thumbnail) does: the same work on both sides.
        let extraction = DescriptorExtraction(extractor: extractor, decoding: ImageDecodingOptions(reducedScaleDecoding: false))
        let previousThreads = BLAS.threadCount
        BLAS.setThreadCount(blasThreads ?? 1)
        let engineThreads = blasThreads == nil ? cores : 1
        if let first = items.first { _ = extraction.describe(first, threads: engineThreads) }
        let operationsBefore = extractor.multiplyAccumulateCount
        let start = DispatchTime.now().uptimeNanoseconds
        for item in items { _ = extraction.describe(item, threads: engineThreads) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let operations = Double(extractor.multiplyAccumulateCount - operationsBefore) * 2
        BLAS.setThreadCount(previousThreads)

        let batchStart = DispatchTime.now().uptimeNanoseconds
        _ = extraction.describeAll(items)
        let batchSeconds = Double(DispatchTime.now().uptimeNanoseconds - batchStart) / 1e9

        let count = Double(max(1, items.count))
        return CNNExtractionBenchmarkResult(
            label: label, descriptor: extractor.name, images: items.count, secondsPerImage: seconds / count,
            gflops: seconds > 0 ? operations / seconds / 1e9 : 0,
            batchImagesPerSecond: batchSeconds > 0 ? count / batchSeconds : 0,
            peakResidentMegabytes: peakResidentMegabytes())
    }

    /// Peak resident set size of this process so far (Linux reports kilobytes).
    public static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
