import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures

/// One ranked answer to a query.
public struct SearchHit: Sendable, Codable, Equatable {
    /// Path of the index image, relative to the indexed folder.
    public var image: String
    /// Inner product of the L2-normalised descriptors (cosine similarity).
    public var score: Float
}

/// How `RetrievalIndex` ranks: by global descriptors or by ASMK over local features.
public enum RetrievalMethod: String, Sendable, CaseIterable, Codable {
    case global
    case asmk
}

/// A complete index directory opened for searching.
public struct RetrievalIndex: Sendable {
    public let directory: URL
    public let manifest: IndexManifest
    /// Global descriptors, one row per indexed image, in one or more segments; its `identifiers` name
    /// the images of every part of the index. In a local-only index the rows have length 0.
    public let store: SegmentedDescriptorStore
    /// The global descriptor; for a local-only index a stand-in named "none" that describes nothing.
    public let extractor: any GlobalDescriptorExtractor
    /// How the global descriptors are searched: exact over the mapped store, or the directory's
    /// approximate index (the manifest's `vectorIndex`).
    public private(set) var vectorIndex: any VectorIndex
    /// nprobe / efSearch / re-ranking depth for an approximate `vectorIndex`.
    public var searchParameters = SearchParameters()
    /// SIFT features of every indexed image (store order), when the index was built with `--local`.
    public let localFeatureStore: LocalFeatureStore?
    /// The ASMK inverted file over `localFeatureStore`; image numbers are store rows.
    public let asmk: ASMKIndex?
    /// How queries' local features are extracted (RootSIFT, the settings the index was built with).
    public let localExtractor: SIFT?

    /// Searches the global descriptors with `replacement` instead (a database holding the same rows,
    /// `PgVectorIndex`): descriptions, local features, pipelines and paths stay the directory's.
    /// - Throws: `.invalidRequest` when it holds another number of rows or vectors of another length.
    public mutating func searchGlobalDescriptors(with replacement: any VectorIndex) throws(PipelineError) {
        guard replacement.count == store.count, replacement.dimension == store.dimension else {
            throw PipelineError(code: .invalidRequest, file: directory.path,
                                reason: "the replacement search index holds \(replacement.count) vectors of \(replacement.dimension) components; the index \(store.count) of \(store.dimension)")
        }
        vectorIndex = replacement
    }

    /// The index has global descriptors (it was not built with `--descriptor none`).
    public var hasGlobalDescriptors: Bool { manifest.descriptor != IndexManifest.noGlobalDescriptor }
    /// The method `search` uses unless told otherwise: global when available, else ASMK.
    public var defaultRetrieval: RetrievalMethod { hasGlobalDescriptors ? .global : .asmk }

    /// The local features of indexed image `index` (a row of `store`), with RootSIFT descriptors and
    /// keypoints in the pixels of the image resized to the index's SIFT size; nil when the index has no
    /// local features or `index` is out of range.
    public func localFeatures(ofImage index: Int) -> LocalFeatures? {
        guard let localFeatureStore, index >= 0, index < localFeatureStore.imageCount else { return nil }
        return LocalFeatureStorage.rootSIFTFeatures(localFeatureStore.record(at: index), dimension: localFeatureStore.dimension)
    }

    /// Stores up to this size are checksummed on open (about a tenth of a second); larger ones are
    /// opened with header checks only, so that a 10-million-image index opens at once, and are
    /// verified in full by `landmark check INDEX`.
    public static let checksumOnOpenLimit = 256 << 20

    /// Opens an index written by `IndexBuilder` (or a sharded one, `ShardedIndexBuilder`), with the
    /// descriptor it was built with. Nothing is copied: descriptors are searched from the memory-mapped
    /// store.
    /// - Parameter describingQueries: false for work on the stored vectors alone (a kNN graph, a copy
    ///   into a database): an index whose descriptor this build cannot make (a synthetic benchmark
    ///   index) then opens, and only describing a photo against it fails.
    public static func open(_ directory: URL, describingQueries: Bool = true) throws(PipelineError) -> RetrievalIndex {
        if let sharded = try ShardedIndexManifest.load(in: directory) {
            return try openSharded(directory, manifest: sharded)
        }
        let manifestURL = directory.appendingPathComponent(IndexManifest.fileName)
        let data: Data
        do {
            data = try Data(contentsOf: manifestURL)
        } catch {
            let hint = IndexWorkDirectory.isOwnWorkDirectory(directory.appendingPathComponent(IndexLayout.workDirectoryName))
                ? "indexing was interrupted; run `landmark index` again to finish it"
                : "not an index directory (run `landmark index IMAGES --out \(directory.path)` first)"
            throw PipelineError(code: .invalidIndex, file: manifestURL.path, reason: hint)
        }
        let manifest = try IndexManifest.decode(data, file: manifestURL.path)
        guard IndexManifest.supportedFormatVersions.contains(manifest.formatVersion) else {
            throw PipelineError(code: .invalidIndex, file: manifestURL.path,
                                reason: "index format \(manifest.formatVersion) is not supported (this build reads "
                                    + "\(IndexManifest.supportedFormatVersions.lowerBound)…\(IndexManifest.supportedFormatVersions.upperBound))")
        }
        let store = try IndexSegments.open(directory, manifest: manifest)
        let extractor: any GlobalDescriptorExtractor
        if manifest.descriptor == IndexManifest.noGlobalDescriptor {
            guard manifest.local != nil else {
                throw PipelineError(code: .invalidIndex, file: manifestURL.path,
                                    reason: "the index has neither global descriptors nor local features — rebuild it")
            }
            extractor = UnavailableDescriptor(name: IndexManifest.noGlobalDescriptor, dimension: 0,
                                              reason: "the index has no global descriptors; search it with ASMK")
        } else {
            do {
                extractor = try GlobalDescriptorRegistry.extractor(named: manifest.descriptor)
            } catch {
                guard !describingQueries else { throw PipelineError(code: .invalidIndex, file: manifestURL.path, reason: error.reason) }
                extractor = UnavailableDescriptor(name: manifest.descriptor, dimension: manifest.dimension, reason: error.reason)
            }
        }
        var localFeatureStore: LocalFeatureStore?
        var asmk: ASMKIndex?
        var localExtractor: SIFT?
        if let local = manifest.local {
            let parts = try openLocalPart(local, in: directory, identifiers: store.identifiers)
            (localFeatureStore, asmk, localExtractor) = (parts.store, parts.asmk, parts.extractor)
        }
        let vectorIndex: any VectorIndex
        let vectorIndexURL = directory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        do {
            vectorIndex = try store.vectorIndex(manifest.vectorIndex ?? .defaultFactory, savedAt: vectorIndexURL)
        } catch {
            throw PipelineError(code: .invalidIndex, file: error.file, reason: error.reason)
        }
        return RetrievalIndex(directory: directory, manifest: manifest, store: store, extractor: extractor,
                              vectorIndex: vectorIndex, localFeatureStore: localFeatureStore,
                              asmk: asmk, localExtractor: localExtractor)
    }

    private static func openLocalPart(_ local: LocalIndexManifest, in directory: URL, identifiers: [String])
        throws(PipelineError) -> (store: LocalFeatureStore, asmk: ASMKIndex, extractor: SIFT) {
        let manifestPath = directory.appendingPathComponent(IndexManifest.fileName).path
        for name in [local.featuresFile, local.vocabularyFile, local.asmkFile] where !IndexLayout.isPlainFileName(name) {
            throw PipelineError(code: .invalidIndex, file: manifestPath,
                                reason: "names '\(name)', which is not a file of the index directory — rebuild the index")
        }
        guard local.method == LocalIndexConfiguration.rootSIFTASMK else {
            throw PipelineError(code: .invalidIndex, file: manifestPath, reason: "unknown local method '\(local.method)'")
        }
        var sift = LocalIndexConfiguration().sift
        sift.maximumFeatures = local.maximumFeatures
        sift.imageSize = local.imageSize
        sift.rootSIFT = true
        guard LocalIndexConfiguration.extractorName(sift) == local.extractor else {
            throw PipelineError(code: .invalidIndex, file: manifestPath,
                                reason: "local features made with '\(local.extractor)', which this build cannot reproduce for queries")
        }
        let featuresURL = directory.appendingPathComponent(local.featuresFile)
        let store: LocalFeatureStore
        do {
            // Checksummed on open up to the limit the descriptor segments have (a damaged keypoint block
            // would silently change every inlier count); a larger store is verified by `landmark check`.
            let size = ((try? FileManager.default.attributesOfItem(atPath: featuresURL.path))?[.size] as? NSNumber)?.intValue ?? 0
            store = try LocalFeatureStore.open(featuresURL, verifyChecksum: size <= checksumOnOpenLimit)
        } catch {
            throw PipelineError(code: .invalidIndex, file: featuresURL.path, reason: error.reason)
        }
        guard store.identifiers == identifiers else {
            throw PipelineError(code: .invalidIndex, file: featuresURL.path,
                                reason: "its images differ from those of the descriptor store — rebuild the index")
        }
        let asmkURL = directory.appendingPathComponent(local.asmkFile)
        let asmk: ASMKIndex
        do {
            asmk = try ASMKIndex.load(contentsOf: asmkURL)
        } catch {
            throw PipelineError(code: .invalidIndex, file: asmkURL.path, reason: error.reason)
        }
        guard asmk.imageCount == identifiers.count else {
            throw PipelineError(code: .invalidIndex, file: asmkURL.path,
                                reason: "indexes \(asmk.imageCount) images, the index has \(identifiers.count) — rebuild the index")
        }
        return (store, asmk, SIFT(sift))
    }

    init(directory: URL, manifest: IndexManifest, store: SegmentedDescriptorStore,
                 extractor: any GlobalDescriptorExtractor, vectorIndex: any VectorIndex, localFeatureStore: LocalFeatureStore?,
                 asmk: ASMKIndex?, localExtractor: SIFT?) {
        self.directory = directory
        self.manifest = manifest
        self.store = store
        self.extractor = extractor
        self.vectorIndex = vectorIndex
        self.localFeatureStore = localFeatureStore
        self.asmk = asmk
        self.localExtractor = localExtractor
    }

    /// Ranks the index for each query descriptor (rows of `queries`), best first.
    public func search(descriptors queries: Matrix, top k: Int) -> [[SearchHit]] {
        vectorIndex.search(queries, k: k, parameters: searchParameters).map { neighbours in
            neighbours.map { SearchHit(image: store.identifiers[$0.index], score: $0.score) }
        }
    }

    /// Describes the query photographs and ranks the index for each with `defaultRetrieval`; an
    /// unreadable query yields its failure instead of hits.
    public func search(images: [URL], top k: Int,
                       decoding: ImageDecodingOptions = .init()) -> [Result<[SearchHit], SkippedImage>] {
        if defaultRetrieval == .asmk, let asmk, let localExtractor {
            return searchASMK(images: images, top: k, asmk: asmk, sift: localExtractor, decoding: decoding)
        }
        return searchGlobal(images: images, top: k, decoding: decoding)
    }

    /// The same with an explicit method.
    /// - Throws: `.invalidRequest` when the index lacks the part `retrieval` needs.
    public func search(images: [URL], top k: Int, retrieval: RetrievalMethod,
                       decoding: ImageDecodingOptions = .init()) throws(PipelineError) -> [Result<[SearchHit], SkippedImage>] {
        switch retrieval {
        case .global:
            guard hasGlobalDescriptors else {
                throw PipelineError(code: .invalidRequest, file: directory.path,
                                    reason: "the index has no global descriptors (built with --descriptor none); use --retrieval asmk")
            }
            return searchGlobal(images: images, top: k, decoding: decoding)
        case .asmk:
            guard let asmk, let localExtractor else {
                throw PipelineError(code: .invalidRequest, file: directory.path,
                                    reason: "the index has no local features; rebuild it with --local \(LocalIndexConfiguration.rootSIFTASMK)")
            }
            return searchASMK(images: images, top: k, asmk: asmk, sift: localExtractor, decoding: decoding)
        }
    }

    /// Ranks by ASMK similarity (scores are the kernel's, 1 for an image compared with itself).
    private func searchASMK(images: [URL], top k: Int, asmk: ASMKIndex, sift: SIFT,
                            decoding: ImageDecodingOptions) -> [Result<[SearchHit], SkippedImage>] {
        let extraction = LocalFeatureExtraction(sift: sift.configuration, rootSIFT: true, decoding: decoding)
        return extraction.extractAll(images).map { result in
            result.map { features in
                asmk.search([features.descriptors], k: k, parameters: SearchParameters(threads: 1))[0]
                    .map { SearchHit(image: store.identifiers[$0.index], score: $0.score) }
            }
        }
    }

    private func searchGlobal(images: [URL], top k: Int,
                              decoding: ImageDecodingOptions) -> [Result<[SearchHit], SkippedImage>] {
        let extraction = DescriptorExtraction(extractor: extractor, decoding: decoding)
        let described = extraction.describeAll(images.map { ExtractionItem(url: $0, name: $0.path) })
        let vectors = described.compactMap { try? $0.get() }
        let hits = search(descriptors: Matrix(stacking: vectors, dimension: extractor.dimension), top: k)
        var next = 0
        return described.map { result in
            switch result {
            case .success:
                defer { next += 1 }
                return .success(hits[next])
            case .failure(let skipped):
                return .failure(skipped)
            }
        }
    }
}

/// The stand-in descriptor of an index whose queries cannot be described: a local-only index (named
/// "none"), or one opened for its stored vectors only whose descriptor this build cannot make.
struct UnavailableDescriptor: GlobalDescriptorExtractor {
    var name: String
    var dimension: Int
    var reason: String
    var inputSize: Int { 1 }
    func describe(_ image: RGBImage) throws(DescriptorError) -> [Float] {
        throw DescriptorError(code: .invalidConfiguration, reason: reason)
    }
}
