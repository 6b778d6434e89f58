import Foundation
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures

/// Decodes images and extracts SIFT features on all cores: one single-threaded extraction per core, which
/// keeps both cores busy through decoding and the serial parts of SIFT. Every extraction of many images
/// (index building, searches, evaluations) goes through here.
struct LocalFeatureExtraction: Sendable {
    let verifier: SpatialVerifier
    let workerCount: Int

    /// Extracts with `sift` as configured (its RootSIFT flag included), single-threaded per image.
    init(sift: SIFTConfiguration, decoding: ImageDecodingOptions,
         workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        var configuration = sift
        configuration.threads = 1
        verifier = SpatialVerifier(sift: SIFT(configuration), decoding: decoding)
        self.workerCount = max(1, workerCount)
    }

    /// - Parameter rootSIFT: RootSIFT descriptors (queries) or plain SIFT (what the store keeps).
    init(sift: SIFTConfiguration, rootSIFT: Bool, decoding: ImageDecodingOptions,
         workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        var configuration = sift
        configuration.rootSIFT = rootSIFT
        self.init(sift: configuration, decoding: decoding, workerCount: workerCount)
    }

    /// The features `verifier` itself would extract (its SIFT settings and decoding options).
    init(verifier: SpatialVerifier, workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.init(sift: verifier.sift.configuration, decoding: verifier.decoding, workerCount: workerCount)
    }

    /// Features of every image, in order, reporting progress after each image under its name in `names`
    /// (default: the file names).
    func extractAll(_ urls: [URL], names: [String]? = nil,
                    progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> [Result<LocalFeatures, SkippedImage>] {
        let slots = ResultSlots<Result<LocalFeatures, SkippedImage>>(
            count: urls.count, initial: .failure(SkippedImage(image: "", reason: "not processed")))
        let counter = ProgressCounter(total: urls.count, report: progress)
        let names = names ?? urls.map(\.lastPathComponent)
        let workers = min(workerCount, max(1, urls.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < urls.count {
                slots.set(index, verifier.features(of: urls[index]).map(\.features))
                counter.advance(current: names[index])
                index += workers
            }
        }
        return slots.values
    }
}

/// The ASMK part of `landmark index --local rootsift-asmk`.
enum LocalIndexBuilder {
    /// Trains the vocabulary on an even sample of the store's RootSIFT descriptors (or keeps the one
    /// already in `directory` when it has the configured size, unless `retrainVocabulary`), indexes every
    /// image in store order, writes `asmk-vocabulary.lmv` and `asmk-index.lmi` into `directory`.
    static func buildASMK(features url: URL, in directory: URL, configuration: LocalIndexConfiguration,
                          workerCount: Int = ProcessInfo.processInfo.activeProcessorCount) throws(PipelineError) -> LocalIndexManifest {
        let store: LocalFeatureStore
        do {
            store = try LocalFeatureStore.open(url)
        } catch {
            throw PipelineError(code: .invalidIndex, file: url.path, reason: error.reason)
        }
        let total = store.featureCount
        guard configuration.vocabularySize >= 1, total > configuration.vocabularySize else {
            throw PipelineError(code: .invalidRequest, file: url.path,
                                reason: "the index holds \(total) local features, too few for a \(configuration.vocabularySize)-word "
                                    + "vocabulary; use a smaller --vocabulary-size or more images")
        }
        let dimension = store.dimension
        let vocabularyURL = directory.appendingPathComponent(IndexLayout.vocabularyFileName)
        if !configuration.retrainVocabulary, let kept = try? VisualVocabulary.load(contentsOf: vocabularyURL),
           kept.size == configuration.vocabularySize, kept.dimension == dimension {
            return try indexImages(store, vocabulary: kept, features: url, in: directory, configuration: configuration,
                                   workerCount: workerCount)
        }
        let stride = max(1, total / max(1, configuration.vocabularySamples))
        var sample: [Float] = []
        sample.reserveCapacity(min(total, configuration.vocabularySamples + store.imageCount) * dimension)
        var running = 0
        for image in 0 ..< store.imageCount {
            let record = store.record(at: image)
            guard record.count > 0 else { continue }
            let descriptors = LocalFeatureStorage.rootSIFTDescriptors(record.descriptors, dimension: dimension)
            for row in 0 ..< record.count {
                if running % stride == 0 { sample.append(contentsOf: descriptors.row(row)) }
                running += 1
            }
        }
        let vocabulary: VisualVocabulary
        do {
            vocabulary = try VisualVocabulary.train(
                Matrix(rows: sample.count / dimension, columns: dimension, storage: sample),
                size: configuration.vocabularySize, iterations: configuration.vocabularyIterations, seed: 0)
        } catch {
            throw PipelineError(code: .invalidDataset, file: url.path, reason: error.description)
        }
        return try indexImages(store, vocabulary: vocabulary, features: url, in: directory, configuration: configuration,
                               workerCount: workerCount)
    }

    /// Builds the inverted file of every image of `store` with `vocabulary`, and writes both files.
    private static func indexImages(_ store: LocalFeatureStore, vocabulary: VisualVocabulary, features url: URL, in directory: URL,
                                    configuration: LocalIndexConfiguration, workerCount: Int) throws(PipelineError) -> LocalIndexManifest {
        let dimension = store.dimension, total = store.featureCount
        var index = ASMKIndex(vocabulary: vocabulary, configuration: configuration.asmk)
        let slots = ResultSlots<ASMKImageRepresentation>(
            count: store.imageCount, initial: ASMKImageRepresentation(words: [], codes: [], residuals: []))
        let workers = max(1, min(workerCount, store.imageCount))
        let frozen = index
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var image = worker
            while image < store.imageCount {
                let record = store.record(at: image)
                let descriptors = LocalFeatureStorage.rootSIFTDescriptors(record.descriptors, dimension: dimension)
                slots.set(image, frozen.represent(descriptors, multipleAssignment: configuration.asmk.databaseMultipleAssignment))
                image += workers
            }
        }
        for representation in slots.values { _ = index.add(representation: representation) }

        let vocabularyURL = directory.appendingPathComponent(IndexLayout.vocabularyFileName)
        let asmkURL = directory.appendingPathComponent(IndexLayout.asmkFileName)
        do {
            try vocabulary.write(to: vocabularyURL)
            try index.write(to: asmkURL)
        } catch {
            throw PipelineError(code: .writeFailed, file: error.file, reason: error.reason)
        }
        return LocalIndexManifest(
            method: LocalIndexConfiguration.rootSIFTASMK, extractor: configuration.extractorName,
            maximumFeatures: configuration.sift.maximumFeatures, imageSize: configuration.sift.imageSize,
            featureCount: total, vocabularySize: configuration.vocabularySize,
            featuresFile: IndexLayout.localFeaturesFileName, vocabularyFile: IndexLayout.vocabularyFileName,
            asmkFile: IndexLayout.asmkFileName)
    }
}
