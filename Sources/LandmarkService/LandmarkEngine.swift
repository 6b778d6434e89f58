import Foundation
import LandmarkVectorDatabase
import LandmarkDescriptors
import LandmarkGeometry
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkPipeline
import LandmarkRecognition
import LandmarkStorage
import Synchronization

/// What the service does for a request, without HTTP: the same library calls as the command line, so
/// the same photograph and index give the same answer either way.
///
/// Every method is synchronous and may take a second or more; the routes run them on the `WorkQueue`.
/// Any number may run at once: the served index is an immutable snapshot, replaced whole when
/// `add`/`remove` change the index (changes are serialised, and searches already running finish on
/// the snapshot they started with).
public final class LandmarkEngine: Sendable {
    public let configuration: ServiceConfiguration
    public let indexDirectory: URL
    private let served: Mutex<ServedIndex>
    private let changes = Mutex<Int>(0)
    /// Recognition against a labelled train index (`--train-index`), if any.
    public let recognizer: IndexRecognition?
    /// The labelled train set of a `dre` stage in `configuration.pipeline`.
    public let trainSet: TrainSet?
    let verifier: SpatialVerifier
    let spool: UploadSpool
    private let thumbnails: Mutex<ThumbnailCache>

    /// Opens the index at `indexDirectory` for serving.
    /// - Throws: `ServiceError` 500 naming the file when the index cannot be opened, or the pipeline
    ///   does not fit the index.
    public init(indexDirectory: URL, configuration: ServiceConfiguration = .init(),
                recognizer: IndexRecognition? = nil, trainSet: TrainSet? = nil) throws(ServiceError) {
        self.configuration = configuration
        self.indexDirectory = indexDirectory
        var index: RetrievalIndex
        do {
            index = try RetrievalIndex.open(indexDirectory)
        } catch {
            throw ServiceError(.internalServerError, error.description)
        }
        index.searchParameters = configuration.searchParameters
        if let database = configuration.database {
            do {
                let remote = try PgVectorIndex(url: database.url, table: database.table, expecting: (index.store.count, index.store.fingerprint))
                try index.searchGlobalDescriptors(with: remote)
            } catch let error as DatabaseError {
                throw ServiceError(.internalServerError, error.description)
            } catch {
                throw ServiceError(.internalServerError, "\(error)")
            }
        }
        if let pipeline = configuration.pipeline {
            if pipeline.needsTrainSet && trainSet == nil {
                throw ServiceError(.internalServerError, "pipeline '\(pipeline)' has a dre stage: give a train index")
            }
            if pipeline.needsLocalFeatures && index.localFeatureStore == nil {
                throw ServiceError(.internalServerError, "pipeline '\(pipeline)' verifies with local features: serve an index built with --local")
            }
        }
        served = Mutex(ServedIndex(index))
        var recognizer = recognizer
        recognizer?.decoding = configuration.decoding
        self.recognizer = recognizer
        self.trainSet = trainSet
        verifier = SpatialVerifier(sift: SIFT(SIFTConfiguration(maximumFeatures: 2000, imageSize: 1024)),
                                   decoding: configuration.decoding)
        spool = try UploadSpool()
        thumbnails = Mutex(ThumbnailCache(capacityBytes: configuration.thumbnailCacheBytes))
    }

    /// Removes the engine's upload folder (the server calls it on shutdown).
    public func close() { spool.close() }

    /// The index as served now.
    public var index: RetrievalIndex { served.withLock { $0.index } }

    public var health: ServiceResponses.Health {
        let index = self.index
        return ServiceResponses.Health(status: "ok", images: index.store.count, descriptor: index.manifest.descriptor,
                                       dimension: index.store.dimension, recognition: recognizer != nil,
                                       updates: configuration.allowsUpdates)
    }

    // MARK: Search

    /// Ranks the index for a photograph (JPEG or PNG bytes), through the configured pipeline.
    public func search(photo: [UInt8], top: Int) throws -> ServiceResponses.Search {
        let snapshot = served.withLock { $0 }
        let outcome = try spool.withFile(photo) { url throws -> Result<[SearchHit], SkippedImage> in
            do {
                if let pipeline = configuration.pipeline {
                    return try snapshot.index.search(images: [url], top: top, pipeline: pipeline, trainSet: trainSet,
                                                     decoding: configuration.decoding)[0]
                }
                return snapshot.index.search(images: [url], top: top, decoding: configuration.decoding)[0]
            } catch {
                throw ServiceError(.internalServerError, "\(error)")
            }
        }
        switch outcome {
        case .success(let hits): return ServiceResponses.Search(results: snapshot.hits(hits))
        case .failure(let skipped): throw ServiceError.unprocessable("the photograph cannot be used: \(skipped.reason)")
        }
    }

    /// Ranks the index for a descriptor (of the index's descriptor and dimension, L2-normalised as the
    /// index's own are).
    public func search(descriptor: [Float], top: Int) throws(ServiceError) -> ServiceResponses.Search {
        let snapshot = served.withLock { $0 }
        let index = snapshot.index
        guard index.hasGlobalDescriptors else {
            throw .badRequest("the index has no global descriptors (built with --descriptor none); search it with a photograph")
        }
        guard descriptor.count == index.store.dimension else {
            throw .badRequest("the descriptor has \(descriptor.count) values; the index's (\(index.manifest.descriptor)) have \(index.store.dimension)")
        }
        guard descriptor.allSatisfy(\.isFinite) else { throw .badRequest("the descriptor has a value that is not a finite number") }
        let hits = index.search(descriptors: Matrix(rows: 1, columns: descriptor.count, storage: descriptor), top: top)[0]
        return ServiceResponses.Search(results: snapshot.hits(hits))
    }

    // MARK: Recognition

    public func recognize(photo: [UInt8]) throws -> ServiceResponses.Recognition {
        guard let recognizer else {
            throw ServiceError.notFound("recognition is off: start the service with --train-index (a labelled index)")
        }
        let outcome = try spool.withFile(photo) { url in recognizer.recognize([url])[0] }
        switch outcome {
        case .success(let answer):
            return ServiceResponses.Recognition(
                landmark: answer.prediction.label, confidence: answer.prediction.confidence, scores: answer.prediction.scores,
                neighbours: answer.neighbours.map {
                    ServiceResponses.Neighbour(image: $0.image, label: $0.label, similarity: $0.similarity, inliers: $0.inliers)
                })
        case .failure(let skipped):
            throw ServiceError.unprocessable("the photograph cannot be used: \(skipped.reason)")
        }
    }

    // MARK: Verification

    /// Verifies two photographs, as `landmark verify` does.
    public func verify(first: [UInt8], second: [UInt8], picture: Bool) throws -> ServiceResponses.Verification {
        try spool.withFile(first) { firstURL in
            try spool.withFile(second) { secondURL in try verify(firstURL, secondURL, picture: picture) }
        }
    }

    /// Verifies a photograph against index image `id`.
    public func verify(photo: [UInt8], againstImage id: Int, picture: Bool) throws -> ServiceResponses.Verification {
        let imageURL = try imageFile(id: id)
        return try spool.withFile(photo) { url in try verify(url, imageURL, picture: picture) }
    }

    private func verify(_ firstURL: URL, _ secondURL: URL, picture: Bool) throws -> ServiceResponses.Verification {
        var extracted: [(image: RGBImage, features: LocalFeatures)] = []
        for (url, which) in [(firstURL, "first"), (secondURL, "second")] {
            switch verifier.features(of: url) {
            case .success(let value): extracted.append(value)
            case .failure(let skipped):
                throw ServiceError.unprocessable("the \(which) photograph cannot be used: \(skipped.reason)")
            }
        }
        let pair = verifier.verify(extracted[0].features, extracted[1].features)
        var dataURL: String?
        if picture {
            let drawn = MatchVisualization.inliers(of: pair, first: extracted[0], second: extracted[1])
            // Large pairs are shrunk: the page shows it at screen size anyway.
            let shown = drawn.width > 1600 ? drawn.resized(longerSide: 1600, filter: .bilinear) : drawn
            do {
                dataURL = "data:image/jpeg;base64," + Data(try ImageEncoder.jpeg(shown, quality: 85)).base64EncodedString()
            } catch {
                throw ServiceError(.internalServerError, "cannot encode the match picture: \(error.reason)")
            }
        }
        let result = pair.result
        return ServiceResponses.Verification(
            featuresFirst: extracted[0].features.count, featuresSecond: extracted[1].features.count,
            matches: pair.matches.count, inliers: pair.distinctInlierCount, verified: pair.isVerified,
            model: result.model?.kind.rawValue,
            reason: pair.rejection(minimumInliers: verifier.minimumInliers),
            picture: dataURL)
    }

    // MARK: Images

    /// The photograph of index row `id`, checked to lie inside the indexed folder.
    /// - Throws: 404 for an unknown row or a missing file, 403 for a file outside the indexed folder.
    public func imageFile(id: Int) throws(ServiceError) -> URL {
        let index = self.index
        guard id >= 0, id < index.store.count else {
            throw .notFound("no image \(id): the index has images 0 to \(index.store.count - 1)")
        }
        let root = URL(fileURLWithPath: index.manifest.imageRoot).resolvingSymlinksInPath().standardizedFileURL.path
        let file = index.imageURL(index.store.identifiers[id]).resolvingSymlinksInPath().standardizedFileURL
        guard file.path.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw ServiceError(.forbidden, "image \(id) lies outside the indexed folder")
        }
        guard FileManager.default.isReadableFile(atPath: file.path) else {
            throw .notFound("image \(id) (\(index.store.identifiers[id])) is no longer in the indexed folder")
        }
        return file
    }

    /// The bytes and media type of index image `id`.
    public func image(id: Int) throws(ServiceError) -> (bytes: [UInt8], mediaType: String) {
        let url = try imageFile(id: id)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw .notFound("image \(id) cannot be read")
        }
        let bytes = [UInt8](data)
        return (bytes, ImageDecoder.mediaType(of: bytes) ?? "application/octet-stream")
    }

    /// A JPEG of index image `id` with its longer side `configuration.thumbnailSize`, cached.
    public func thumbnail(id: Int) throws(ServiceError) -> [UInt8] {
        let url = try imageFile(id: id)
        let key = url.path
        if let cached = thumbnails.withLock({ $0.value(for: key) }) { return cached }
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(contentsOf: url, options: ImageDecodingOptions().shrinking(to: configuration.thumbnailSize))
        } catch {
            throw .unprocessable("image \(id) cannot be decoded: \(error.reason)")
        }
        let size = configuration.thumbnailSize
        let small = max(image.width, image.height) > size ? image.resized(longerSide: size, filter: .bilinear) : image
        let bytes: [UInt8]
        do {
            bytes = try ImageEncoder.jpeg(small, quality: 80)
        } catch {
            throw ServiceError(.internalServerError, "cannot encode the thumbnail: \(error.reason)")
        }
        thumbnails.withLock { $0.insert(bytes, for: key) }
        return bytes
    }

    // MARK: Changes

    /// Saves `photo` as `name` in the indexed folder's upload folder and adds it to the index.
    /// - Throws: 403 when updates are off, 400 for a bad name, 409 when the file exists or the index
    ///   cannot take descriptors (local features), 422 when the photograph cannot be described.
    public func add(photo: [UInt8], name: String) throws(ServiceError) -> ServiceResponses.IndexChange {
        guard configuration.allowsUpdates else {
            throw ServiceError(.forbidden, "changes are off: start the service with --allow-updates")
        }
        let fileName = try Self.checkedFileName(name)
        return try changes.withLock { _ throws(ServiceError) -> ServiceResponses.IndexChange in
            let index = self.index
            guard index.manifest.local == nil, index.hasGlobalDescriptors else {
                throw ServiceError(.conflict, "the index has local features, which only `landmark index` on the folder can extract")
            }
            let identifier = configuration.uploadFolder + "/" + fileName
            let destination = index.imageURL(identifier)
            guard !FileManager.default.fileExists(atPath: destination.path), !index.store.identifiers.contains(identifier) else {
                throw ServiceError(.conflict, "\(identifier) already exists in the indexed folder; choose another name")
            }
            let described = DescriptorExtraction(extractor: index.extractor, decoding: configuration.decoding, workerCount: 1)
            let descriptor: [Float]
            do {
                descriptor = try spool.withFile(photo) { url in
                    try described.describe(ExtractionItem(url: url, name: fileName),
                                           threads: ProcessInfo.processInfo.activeProcessorCount).get()
                }
            } catch let skipped as SkippedImage {
                throw .unprocessable("the photograph cannot be used: \(skipped.reason)")
            } catch {
                throw ServiceError(.internalServerError, "\(error)")
            }
            do {
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                try DurableFile.write(photo, to: destination)
            } catch {
                throw ServiceError(.internalServerError, "cannot save \(destination.path): \(error)")
            }
            do throws(PipelineError) {
                _ = try IndexUpdate(additions: [(identifier, descriptor)]).apply(to: indexDirectory)
            } catch {
                // The file is ours (written just now); the index did not take it.
                try? FileManager.default.removeItem(at: destination)
                throw ServiceError(error.code == .indexBusy ? .conflict : .internalServerError, error.description)
            }
            let snapshot = try reopen()
            return ServiceResponses.IndexChange(image: identifier, id: snapshot.rows[identifier], images: snapshot.index.store.count)
        }
    }

    /// Removes index image `id` from the index (its photograph stays in the folder).
    public func remove(id: Int) throws(ServiceError) -> ServiceResponses.IndexChange {
        guard configuration.allowsUpdates else {
            throw ServiceError(.forbidden, "changes are off: start the service with --allow-updates")
        }
        return try changes.withLock { _ throws(ServiceError) -> ServiceResponses.IndexChange in
            let index = self.index
            guard id >= 0, id < index.store.count else { throw .notFound("no image \(id)") }
            guard index.manifest.local == nil, index.hasGlobalDescriptors else {
                throw ServiceError(.conflict, "the index has local features; remove the photograph from the folder and rerun `landmark index`")
            }
            let identifier = index.store.identifiers[id]
            do throws(PipelineError) {
                _ = try IndexUpdate(removals: [identifier]).apply(to: indexDirectory)
            } catch {
                throw ServiceError(error.code == .indexBusy ? .conflict : .internalServerError, error.description)
            }
            let snapshot = try reopen()
            return ServiceResponses.IndexChange(image: identifier, id: nil, images: snapshot.index.store.count)
        }
    }

    private func reopen() throws(ServiceError) -> ServedIndex {
        do {
            var index = try RetrievalIndex.open(indexDirectory)
            index.searchParameters = configuration.searchParameters
            let snapshot = ServedIndex(index)
            served.withLock { $0 = snapshot }
            return snapshot
        } catch {
            throw ServiceError(.internalServerError, "the index changed but cannot be reopened: \(error.description)")
        }
    }

    /// A plain file name for an upload: no folders, no leading dot, a JPEG or PNG extension.
    static func checkedFileName(_ name: String) throws(ServiceError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let lowered = name.lowercased()
        guard !name.isEmpty, name.count <= 128, !name.hasPrefix("."), name.allSatisfy(allowed.contains),
              [".jpg", ".jpeg", ".png"].contains(where: lowered.hasSuffix) else {
            throw .badRequest("name must be a plain file name of letters, digits, '.', '_' or '-' ending in .jpg, .jpeg or .png")
        }
        return name
    }
}

/// The index a request works on, with the row of each identifier.
struct ServedIndex: Sendable {
    var index: RetrievalIndex
    var rows: [String: Int]

    init(_ index: RetrievalIndex) {
        self.index = index
        var rows: [String: Int] = [:]
        rows.reserveCapacity(index.store.count)
        for (row, identifier) in index.store.identifiers.enumerated() { rows[identifier] = row }
        self.rows = rows
    }

    func hits(_ hits: [SearchHit]) -> [ServiceResponses.Hit] {
        hits.map { ServiceResponses.Hit(image: $0.image, score: $0.score, id: rows[$0.image] ?? -1) }
    }
}

/// Thumbnails by file, dropped oldest first beyond a byte budget.
struct ThumbnailCache: Sendable {
    let capacityBytes: Int
    private var entries: [String: [UInt8]] = [:]
    private var order: [String] = []
    private var bytes = 0

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    func value(for key: String) -> [UInt8]? { entries[key] }

    mutating func insert(_ value: [UInt8], for key: String) {
        guard entries[key] == nil, value.count <= capacityBytes else { return }
        entries[key] = value
        order.append(key)
        bytes += value.count
        while bytes > capacityBytes, !order.isEmpty {
            let oldest = order.removeFirst()
            bytes -= entries.removeValue(forKey: oldest)?.count ?? 0
        }
    }
}
