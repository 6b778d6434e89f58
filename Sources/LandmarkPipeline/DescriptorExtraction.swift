import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkLinearAlgebra

/// One image to describe: where it is, the name results use for it, and an optional box to crop to
/// first (the query region of the revisited Oxford/Paris benchmarks).
public struct ExtractionItem: Sendable {
    public var url: URL
    public var name: String
    /// x0, y0, x1, y1 in pixels of the decoded (orientation-corrected) image.
    public var cropBox: (x0: Double, y0: Double, x1: Double, y1: Double)?

    public init(url: URL, name: String, cropBox: (x0: Double, y0: Double, x1: Double, y1: Double)? = nil) {
        self.url = url
        self.name = name
        self.cropBox = cropBox
    }
}

/// An image that could not be described, and why; indexing and evaluation go on without it.
public struct SkippedImage: Error, Sendable, Codable, Equatable {
    public var image: String
    public var reason: String

    public init(image: String, reason: String) {
        self.image = image
        self.reason = reason
    }
}

/// How far a long job has come, for progress bars.
public struct PipelineProgress: Sendable {
    public var completed: Int
    public var total: Int
    /// The image just finished.
    public var current: String

    public init(completed: Int, total: Int, current: String) {
        self.completed = completed
        self.total = total
        self.current = current
    }
}

/// Decodes, resizes and describes images on all cores.
public struct DescriptorExtraction: Sendable {
    public let extractor: any GlobalDescriptorExtractor
    public var decoding: ImageDecodingOptions
    /// Images described at once; the default keeps both cores busy.
    public var workerCount: Int

    public init(extractor: any GlobalDescriptorExtractor, decoding: ImageDecodingOptions = .init(),
                workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.extractor = extractor
        self.decoding = decoding
        self.workerCount = max(1, workerCount)
    }

    /// The shorter side below which a resized image is too thin to describe; panoramas keep at least this.
    public static let minimumShorterSide = 32

    /// Describes one image: decode (with EXIF orientation), crop, resize to the extractor's input size,
    /// describe. The reason of a failure names what went wrong, not the file (the caller knows it).
    public func describe(_ item: ExtractionItem, threads: Int = 1) -> Result<[Float], SkippedImage> {
        var image: RGBImage
        do {
            // Query boxes are in full-size pixels; otherwise the decoder may shrink a huge JPEG on the way.
            let options = item.cropBox == nil ? decoding.shrinking(to: extractor.inputSize) : decoding
            image = try ImageDecoder.decode(contentsOf: item.url, options: options)
        } catch {
            return .failure(SkippedImage(image: item.name, reason: error.reason))
        }
        if let box = item.cropBox {
            // Python's round (half to even), as PIL's crop applies to a float box.
            guard let cropped = image.cropped(
                x0: Int(box.x0.rounded(.toNearestOrEven)), y0: Int(box.y0.rounded(.toNearestOrEven)),
                x1: Int(box.x1.rounded(.toNearestOrEven)), y1: Int(box.y1.rounded(.toNearestOrEven))) else {
                return .failure(SkippedImage(image: item.name, reason: "the query box lies outside the image"))
            }
            image = cropped
        }
        let resized = image.resized(longerSide: extractor.inputSize, minimumShorterSide: Self.minimumShorterSide)
        do {
            return .success(try extractor.describe(resized, threads: threads))
        } catch {
            return .failure(SkippedImage(image: item.name, reason: error.description))
        }
    }

    /// Describes every item, `workerCount` at a time, reporting progress after each image.
    /// - Returns: one result per item, in item order.
    public func describeAll(_ items: [ExtractionItem],
                            progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> [Result<[Float], SkippedImage>] {
        let results = ResultSlots<Result<[Float], SkippedImage>>(
            count: items.count, initial: .failure(SkippedImage(image: "", reason: "not processed")))
        let counter = ProgressCounter(total: items.count, report: progress)
        let workers = min(workerCount, max(1, items.count))
        // Images in parallel, each with its share of the cores (the extractors parallelise inside an
        // image themselves, see `describe(_:threads:)`).
        let threadsPerImage = max(1, ProcessInfo.processInfo.activeProcessorCount / workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < items.count {
                let result = describe(items[index], threads: threadsPerImage)
                results.set(index, result)
                counter.advance(current: items[index].name)
                index += workers
            }
        }
        return results.values
    }
}

/// Counts finished images across worker threads and forwards progress, one report at a time.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var completed = 0
    private let total: Int
    private let report: (@Sendable (PipelineProgress) -> Void)?

    init(total: Int, report: (@Sendable (PipelineProgress) -> Void)?) {
        self.total = total
        self.report = report
    }

    func advance(current: String) {
        lock.lock()
        defer { lock.unlock() }
        completed += 1
        report?(PipelineProgress(completed: completed, total: total, current: current))
    }
}

extension Matrix {
    /// Stacks equally long vectors as the rows of a matrix (an empty matrix of `dimension` columns if none).
    init(stacking vectors: [[Float]], dimension: Int) {
        var storage: [Float] = []
        storage.reserveCapacity(vectors.count * dimension)
        for vector in vectors { storage.append(contentsOf: vector) }
        self.init(rows: vectors.count, columns: dimension, storage: storage)
    }
}
