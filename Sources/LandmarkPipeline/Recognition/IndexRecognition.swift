import LandmarkGeometry
import Foundation
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkRecognition

/// The answer for one query photograph: the prediction and the neighbours that voted.
public struct RecognitionAnswer: Sendable, Codable {
    public var prediction: RecognitionPrediction
    public var neighbours: [Neighbour]

    public struct Neighbour: Sendable, Codable {
        public var image: String
        public var label: String
        public var similarity: Float
        public var inliers: Int?
    }
}

/// Recognises landmarks in photographs by kNN voting against a labelled train index (METHODS.md §4),
/// with the inlier term when `verifier` is set: the K neighbours are verified against the query with
/// local features, so a neighbour showing the same physical scene outweighs a look-alike.
public struct IndexRecognition: Sendable {
    public let index: RetrievalIndex
    public let labels: LandmarkLabels
    public var recognition: KNNRecognition
    public var verifier: SpatialVerifier?
    /// When set, confidences are calibrated probabilities and low ones answer "no landmark".
    public var calibration: RecognitionCalibration?
    /// How query photographs are decoded (a service lowers the pixel limit; the verifier has its own).
    public var decoding = ImageDecodingOptions()

    public init(index: RetrievalIndex, labels: LandmarkLabels, recognition: KNNRecognition = KNNRecognition(),
                verifier: SpatialVerifier? = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC, minimumInliers: VerificationThresholds.recognitionCounting)) {
        self.index = index
        self.labels = labels.resolved(for: index)
        self.recognition = recognition
        self.verifier = verifier
    }

    /// Index images that carry a label; an index without any cannot recognise anything.
    public var labelledImageCount: Int { index.store.identifiers.filter { labels.label(of: $0) != nil }.count }

    public func recognize(_ images: [URL]) -> [Result<RecognitionAnswer, SkippedImage>] {
        var rowOfIdentifier: [String: Int] = [:]
        if index.localFeatureStore != nil {
            for (row, identifier) in index.store.identifiers.enumerated() { rowOfIdentifier[identifier] = row }
        }
        let searched: [Result<[RecognitionNeighbour], SkippedImage>]
        if index.defaultRetrieval == .global {
            // Describe once, then search only as deep as K labelled neighbours need.
            let described = DescriptorExtraction(extractor: index.extractor, decoding: decoding)
                .describeAll(images.map { ExtractionItem(url: $0, name: $0.path) })
            let vectors = described.compactMap { try? $0.get() }
            var lists = Self.labelledNeighbours(Matrix(stacking: vectors, dimension: index.extractor.dimension),
                                                index: index.vectorIndex, parameters: index.searchParameters,
                                                identifiers: index.store.identifiers, labels: labels,
                                                neighbours: recognition.neighbours).lists.makeIterator()
            searched = described.map { result in result.map { _ in lists.next() ?? [] } }
        } else {
            // ASMK scores every image anyway; its ranking is cut to the labelled K below.
            searched = index.search(images: images, top: index.store.count, decoding: decoding).map { outcome in
                outcome.map { hits in
                    Array(hits.lazy.compactMap { hit -> RecognitionNeighbour? in
                        guard let label = labels.label(of: hit.image) else { return nil }
                        return RecognitionNeighbour(image: hit.image, label: label, similarity: hit.score)
                    }.prefix(recognition.neighbours))
                }
            }
        }
        return zip(images, searched).map { url, outcome in
            outcome.flatMap { labelled -> Result<RecognitionAnswer, SkippedImage> in
                var neighbours = Array(labelled.prefix(recognition.neighbours))
                if let verifier, recognition.inlierWeight > 0 {
                    switch verifier.features(of: url) {
                    case .failure(let failure): return .failure(failure)
                    case .success(let query):
                        for position in neighbours.indices {
                            // The index's stored features when it has them; else the train photograph.
                            let stored = rowOfIdentifier[neighbours[position].image].flatMap { index.localFeatures(ofImage: $0) }
                            guard let train = stored ?? (try? verifier.features(of: index.imageURL(neighbours[position].image)).get().features)
                            else { continue }
                            neighbours[position].inliers = verifier.verify(query.features, train).inlierCount
                        }
                    }
                }
                var prediction = recognition.predict(neighbours)
                if let calibration {
                    prediction = calibration.apply(prediction, evidence: recognition.evidence(neighbours, prediction: prediction))
                }
                return .success(RecognitionAnswer(prediction: prediction, neighbours: neighbours.map {
                    RecognitionAnswer.Neighbour(image: $0.image, label: $0.label, similarity: $0.similarity, inliers: $0.inliers)
                }))
            }
        }
    }
}

extension IndexRecognition {
    /// The `neighbours` best labelled images for each query row, best first, searching no deeper than
    /// needed: K results when every image is labelled, otherwise a depth that grows (doubling) only for
    /// the queries whose first results were not labelled enough. Memory is O(queries × depth), not
    /// O(queries × index), which is what lets a GLDv2-sized train index recognise millions of photos.
    /// - Returns: the lists, and the deepest ranking any query needed.
    static func labelledNeighbours(_ queries: Matrix, index: any VectorIndex, parameters: SearchParameters,
                                   identifiers: [String], labels: LandmarkLabels,
                                   neighbours: Int) -> (lists: [[RecognitionNeighbour]], depth: Int) {
        let total = index.count
        let labelled = identifiers.lazy.filter { labels.label(of: $0) != nil }.count
        guard queries.rows > 0, neighbours > 0, labelled > 0 else { return (Array(repeating: [], count: queries.rows), 0) }
        // Enough when labels are spread evenly; deeper only for queries that still lack K.
        var depth = min(total, Int((Double(neighbours) * Double(total) / Double(labelled)).rounded(.up)) + neighbours)
        var lists = [[RecognitionNeighbour]](repeating: [], count: queries.rows)
        var pending = Array(0 ..< queries.rows)
        var deepest = 0
        while !pending.isEmpty {
            let batch = Matrix(stacking: pending.map { queries.row($0) }, dimension: queries.columns)
            let results = index.search(batch, k: depth, parameters: parameters)
            deepest = depth
            var stillShort: [Int] = []
            for (query, hits) in zip(pending, results) {
                let found = Array(hits.lazy.compactMap { hit -> RecognitionNeighbour? in
                    let image = identifiers[hit.index]
                    guard let label = labels.label(of: image) else { return nil }
                    return RecognitionNeighbour(image: image, label: label, similarity: hit.score)
                }.prefix(neighbours))
                lists[query] = found
                // A short list at full depth is all there is (an approximate index may return fewer).
                if found.count < min(neighbours, labelled), depth < total, hits.count >= depth { stillShort.append(query) }
            }
            pending = stillShort
            depth = min(total, depth * 2)
        }
        return (lists, deepest)
    }

    /// What `calibrated(settings:…)` chose: the calibration, K, and how it was found.
    public struct FittedCalibration: Sendable, Codable, Equatable {
        public var key: String
        public var neighbours: Int
        public var calibration: RecognitionCalibration
        /// Labelled train images the fit used (a sample of large train sets).
        public var images: Int
    }

    /// This recogniser with K and the calibration fitted on the train index itself (`CalibratedLeaveOneOut`:
    /// every sampled train image predicted with itself, and with its landmark, left out), cached in the
    /// index directory (`recognition-calibration-<hash>.json`) for this store, these labels and settings.
    /// Large train sets are sampled (`maximumImages`, evenly over the rows); the neighbours of the sample
    /// are searched among every labelled image.
    public func calibrated(settings: CalibratedLeaveOneOut, maximumImages: Int = 2000,
                           progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> (IndexRecognition, FittedCalibration) {
        let identifiers = index.store.identifiers
        let labelledRows = identifiers.indices.filter { labels.label(of: identifiers[$0]) != nil }
        let step = max(1, labelledRows.count / max(maximumImages, 1))
        let sample = Array(stride(from: 0, to: labelledRows.count, by: step).map { labelledRows[$0] }.prefix(maximumImages))
        var settings = settings
        if verifier == nil { settings.inlierWeight = 0 }
        let labelHash = stableHash(sample.map { identifiers[$0] + "\t" + (labels.label(of: identifiers[$0]) ?? "") }.joined(separator: "\n"))
        let key = "store=\(index.storeVersion) labels=\(String(labelHash, radix: 16)) K=\(settings.candidateNeighbours) "
            + "λ=\(settings.inlierWeight) τ=\(settings.inlierSaturation) unknown=\(settings.unknownShare) thresholds=\(settings.candidateThresholds)"
        let url = index.directory.appendingPathComponent("recognition-calibration-\(String(stableHash(key), radix: 16)).json")
        if let data = try? Data(contentsOf: url), let cached = try? JSONDecoder().decode(FittedCalibration.self, from: data),
           cached.key == key {
            return (with(cached), cached)
        }
        // The sample against itself: neighbours of a sampled image are other sampled images, so that leaving
        // an image (or its landmark) out means the same as for a query.
        let database = index.store.matrix()
        let rows = Matrix(stacking: sample.map { database.row($0) }, dimension: database.columns)
        let similarities = rows.multiplied(byTransposeOf: rows)
        let sampleLabels = sample.map { labels.label(of: identifiers[$0]) }
        var inliers: ((Int, Int) -> Int?)? = nil
        if settings.inlierWeight > 0, let verifier {
            let features = FeatureCache(index: self.index, verifier: verifier, rows: sample)
            inliers = verifier.calibrationInliers(settings, labels: sampleLabels, similarities: similarities,
                                                  features: { features.features($0) }, progress: progress)
        }
        let outcome = settings.predict(labels: sampleLabels, similarities: similarities, inliers: inliers)
        let fitted = FittedCalibration(key: key, neighbours: outcome.neighbours, calibration: outcome.calibration, images: sample.count)
        // Not writable: fitted again next time.
        try? writeAtomically(fitted, to: url)
        return (with(fitted), fitted)
    }

    private func with(_ fitted: FittedCalibration) -> IndexRecognition {
        var copy = self
        copy.recognition.neighbours = fitted.neighbours
        copy.recognition.minimumConfidence = 0
        copy.calibration = fitted.calibration
        return copy
    }
}

/// Local features of sampled train images: the index's stored ones, else extracted from the photograph
/// once (slot per sample row, filled by whichever worker first needs it).
final class FeatureCache: @unchecked Sendable {
    private let index: RetrievalIndex
    private let verifier: SpatialVerifier
    private let rows: [Int]
    private var cache: [Int: LocalFeatures?] = [:]
    private let lock = NSLock()

    init(index: RetrievalIndex, verifier: SpatialVerifier, rows: [Int]) {
        self.index = index
        self.verifier = verifier
        self.rows = rows
    }

    func features(_ position: Int) -> LocalFeatures? {
        lock.lock()
        if let cached = cache[position] { lock.unlock(); return cached }
        lock.unlock()
        let row = rows[position]
        let features = index.localFeatures(ofImage: row)
            ?? (try? verifier.features(of: index.imageURL(index.store.identifiers[row])).get().features)
        lock.lock()
        cache[position] = features
        lock.unlock()
        return features
    }
}

extension RetrievalIndex {
    /// Where an indexed image is on disk (identifiers are relative to the indexed folder).
    public func imageURL(_ identifier: String) -> URL {
        URL(fileURLWithPath: manifest.imageRoot).appendingPathComponent(identifier)
    }
}
