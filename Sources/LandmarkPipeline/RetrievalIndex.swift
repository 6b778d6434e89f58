import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra

/// One ranked answer to a query.
public struct SearchHit: Sendable, Codable, Equatable {
    /// Path of the index image, relative to the indexed folder.
    public var image: String
    /// Inner product of the L2-normalised descriptors (cosine similarity).
    public var score: Float
}

/// A complete index directory opened for searching.
public struct RetrievalIndex: Sendable {
    public let directory: URL
    public let manifest: IndexManifest
    public let store: DescriptorStore
    public let extractor: any GlobalDescriptorExtractor
    private let search: ExactSearch

    /// Opens an index written by `IndexBuilder`, with the descriptor it was built with.
    public static func open(_ directory: URL) throws(PipelineError) -> RetrievalIndex {
        let manifestURL = directory.appendingPathComponent(IndexManifest.fileName)
        let data: Data
        do {
            data = try Data(contentsOf: manifestURL)
        } catch {
            let partial = directory.appendingPathComponent(IndexLayout.partialDirectoryName).path
            let hint = FileManager.default.fileExists(atPath: partial)
                ? "indexing was interrupted; run `landmark index` again to finish it"
                : "not an index directory (run `landmark index IMAGES --out \(directory.path)` first)"
            throw PipelineError(code: .invalidIndex, file: manifestURL.path, reason: hint)
        }
        let manifest: IndexManifest
        do {
            manifest = try JSONDecoder().decode(IndexManifest.self, from: data)
        } catch {
            throw PipelineError(code: .invalidIndex, file: manifestURL.path, reason: "damaged manifest: \(error)")
        }
        guard manifest.formatVersion == IndexManifest.currentFormatVersion else {
            throw PipelineError(code: .invalidIndex, file: manifestURL.path,
                                reason: "index format \(manifest.formatVersion) is not supported (expected \(IndexManifest.currentFormatVersion))")
        }
        let storeURL = directory.appendingPathComponent(IndexLayout.storeFileName)
        let store: DescriptorStore
        do {
            store = try DescriptorStore.open(storeURL)
        } catch {
            throw PipelineError(code: .invalidIndex, file: storeURL.path, reason: error.reason)
        }
        guard store.count == manifest.count, store.dimension == manifest.dimension else {
            throw PipelineError(code: .invalidIndex, file: storeURL.path,
                                reason: "store holds \(store.count) × \(store.dimension) descriptors but the manifest says \(manifest.count) × \(manifest.dimension)")
        }
        let extractor: any GlobalDescriptorExtractor
        do {
            extractor = try GlobalDescriptorRegistry.extractor(named: manifest.descriptor)
        } catch {
            throw PipelineError(code: .invalidIndex, file: manifestURL.path, reason: error.reason)
        }
        return RetrievalIndex(directory: directory, manifest: manifest, store: store, extractor: extractor,
                              search: ExactSearch(database: store.matrix()))
    }

    private init(directory: URL, manifest: IndexManifest, store: DescriptorStore,
                 extractor: any GlobalDescriptorExtractor, search: ExactSearch) {
        self.directory = directory
        self.manifest = manifest
        self.store = store
        self.extractor = extractor
        self.search = search
    }

    /// Ranks the index for each query descriptor (rows of `queries`), best first.
    public func search(descriptors queries: Matrix, top k: Int) -> [[SearchHit]] {
        search.search(queries, k: k).map { neighbours in
            neighbours.map { SearchHit(image: store.identifiers[$0.index], score: $0.score) }
        }
    }

    /// Describes the query photographs and ranks the index for each; an unreadable query yields its
    /// failure instead of hits.
    public func search(images: [URL], top k: Int,
                       decoding: ImageDecodingOptions = .init()) -> [Result<[SearchHit], SkippedImage>] {
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
