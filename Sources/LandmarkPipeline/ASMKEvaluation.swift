import Foundation
import LandmarkEvaluation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures

/// Retrieval with local features only (METHODS.md §5, "gives retrieval with no learned network at all"):
/// RootSIFT features, a k-means vocabulary trained on a sample of the dataset's own descriptors, and the
/// aggregated selective match kernel (ASMK) over an inverted file.
public struct ASMKRetrieval: Sendable {
    public var sift: SIFT
    public var vocabularySize: Int
    public var vocabularyIterations: Int
    public var vocabularySamples: Int
    public var configuration: ASMKConfiguration
    public var verifier: SpatialVerifier

    public init(sift: SIFT = SIFT(SIFTConfiguration(maximumFeatures: 1000)), vocabularySize: Int = 1024,
                vocabularyIterations: Int = 10, vocabularySamples: Int = 100_000,
                configuration: ASMKConfiguration = .init()) {
        self.sift = sift
        self.vocabularySize = vocabularySize
        self.vocabularyIterations = vocabularyIterations
        self.vocabularySamples = vocabularySamples
        self.configuration = configuration
        verifier = SpatialVerifier(sift: sift)
    }

    /// The name figures carry.
    public var name: String {
        "rootsift-asmk features=\(sift.configuration.maximumFeatures) size=\(sift.configuration.imageSize) "
            + "k=\(vocabularySize) alpha=\(Self.format(configuration.alpha)) threshold=\(Self.format(configuration.threshold))"
    }

    static func format(_ value: Float) -> String { String(format: "%g", value) }

    /// A vocabulary trained on an even sample of every image's descriptors, and the ASMK index of
    /// `features` (one image per element; nil or empty for an image without features).
    public func buildIndex(_ features: [LocalFeatures?], file: String) throws(PipelineError) -> ASMKIndex {
        let available = features.compactMap { $0 }.filter { $0.count > 0 }
        let total = available.reduce(0) { $0 + $1.count }
        guard total > vocabularySize, let first = available.first else {
            throw PipelineError(code: .invalidDataset, file: file,
                                reason: "only \(total) local features in the dataset; a \(vocabularySize)-word vocabulary needs more")
        }
        let stride = max(1, total / vocabularySamples)
        var sample: [Float] = []
        var running = 0
        for item in available {
            for row in 0..<item.count {
                if running % stride == 0 { sample.append(contentsOf: item.descriptors.row(row)) }
                running += 1
            }
        }
        let dimension = first.descriptors.columns
        let vocabulary: VisualVocabulary
        do {
            vocabulary = try VisualVocabulary.train(
                Matrix(rows: sample.count / dimension, columns: dimension, storage: sample),
                size: vocabularySize, iterations: vocabularyIterations, seed: 0)
        } catch {
            throw PipelineError(code: .invalidDataset, file: file, reason: error.description)
        }
        var index = ASMKIndex(vocabulary: vocabulary, configuration: configuration)
        let empty = Matrix(rows: 0, columns: dimension)
        for item in features { _ = index.add(imageDescriptors: item?.descriptors ?? empty) }
        index.prepareForSearch()
        return index
    }

    /// Evaluates a folder benchmark: every image with a landmark queries all the others by ASMK score.
    public func evaluate(_ benchmark: FolderBenchmark, progress: (@Sendable (PipelineProgress) -> Void)? = nil)
        throws(PipelineError) -> (report: RetrievalReport, rankings: [QueryRanking]) {
        let describeStart = Date()
        let urls = benchmark.images.indices.map { benchmark.imageURL($0) }
        let features = LocalFeatureExtraction(sift: sift.configuration, decoding: verifier.decoding)
            .extractAll(urls, names: benchmark.images, progress: progress)
        var skipped: [SkippedImage] = []
        var extracted: [LocalFeatures?] = []
        for (index, result) in features.enumerated() {
            switch result {
            case .success(let value): extracted.append(value)
            case .failure(let failure):
                skipped.append(SkippedImage(image: benchmark.images[index], reason: failure.reason))
                extracted.append(nil)
            }
        }

        let index = try buildIndex(extracted, file: benchmark.directory.path)
        let describeSeconds = Date().timeIntervalSince(describeStart)

        let searchStart = Date()
        let queryIndices = benchmark.queryIndices
        // A query whose features failed ranks nothing (no descriptors, no results).
        let found = index.search(queryIndices.map { extracted[$0]?.descriptors ?? Matrix(rows: 0, columns: 0) }, k: urls.count)
        let rankings = zip(queryIndices, found).map { query, hits in
            hits.map(\.index).filter { $0 != query && extracted[$0] != nil }
        }
        return RetrievalReport.folder(benchmark, rankings: rankings, descriptor: name, skipped: skipped,
                                      secondsDescribing: describeSeconds,
                                      secondsSearching: Date().timeIntervalSince(searchStart))
    }
}
