import Foundation
import LandmarkDescriptors
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import Testing

@Suite struct VectorIndexIntegrationTests {
    let extractor = GradientColourHistogramBaseline()

    /// An index of 3 landmarks × 4 views + 2 distractors, built with `factory`.
    func buildIndex(_ factory: IndexFactory?, in temporary: TemporaryDirectory) throws -> (URL, [URL]) {
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 4, distractors: 2)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: IndexBuildOptions(factory: factory))
        return (index, entries.map { images.appendingPathComponent($0.relativePath) })
    }

    @Test("an HNSW or IVF index ranks like exact search on a small folder, and reruns keep the built index", arguments: [
        IndexFactory.hierarchicalGraph(links: 8), .invertedFile(cells: 2, productQuantizerBytes: nil), .flat(float16: true),
    ])
    func approximateIndexMatchesExact(_ factory: IndexFactory) throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let (directory, photos) = try buildIndex(factory, in: temporary)
        var index = try RetrievalIndex.open(directory)
        #expect(index.manifest.vectorIndex == factory)
        #expect(index.vectorIndex.factory == factory)
        #expect(index.store.elementType == factory.storeElementType)
        index.searchParameters = SearchParameters(probes: 2, efSearch: 50)
        let exact = FlatIndex(rows: DatabaseRows(index.store.matrix()))
        let queries = index.store.matrix()
        let expected = exact.search(queries, k: 5).map { $0.map { index.store.identifiers[$0.index] } }
        let found = index.search(descriptors: queries, top: 5).map { $0.map(\.image) }
        #expect(found == expected)
        #expect(try index.search(images: Array(photos.prefix(2)), top: 1).map { try $0.get().first?.image }
                == index.store.identifiers.filter { photos.prefix(2).map(\.lastPathComponent).contains(($0 as NSString).lastPathComponent) })
        // A pipeline's first stage searches the same index (here exhaustively, so like exact search).
        let pipeline = try PipelineDescription.parse("aqe1")
        #expect(try index.search(images: photos, top: 5, pipeline: pipeline).map { try $0.get().map(\.image) }
                == RetrievalIndex.open(directory).search(images: photos, top: 5, pipeline: pipeline).map { try $0.get().map(\.image) })

        // A rerun without --index keeps the factory and does not rebuild the approximate index.
        let vectorFile = directory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        let before = (try? FileManager.default.attributesOfItem(atPath: vectorFile.path)[.modificationDate]) as? Date
        _ = try IndexBuilder.build(images: temporary.path("images"), index: directory, extractor: extractor)
        #expect(try RetrievalIndex.open(directory).manifest.vectorIndex == factory)
        let after = (try? FileManager.default.attributesOfItem(atPath: vectorFile.path)[.modificationDate]) as? Date
        #expect(before == after)
        #expect(IndexCheck.run(directory).allSatisfy { $0.problem == nil })
    }

    @Test("switching back to Flat removes the approximate index the builder made")
    func switchingToFlat() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let (directory, _) = try buildIndex(.hierarchicalGraph(links: 4), in: temporary)
        let vectorFile = directory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        #expect(FileManager.default.fileExists(atPath: vectorFile.path))
        _ = try IndexBuilder.build(images: temporary.path("images"), index: directory, extractor: extractor,
                                   options: IndexBuildOptions(factory: .defaultFactory))
        #expect(!FileManager.default.fileExists(atPath: vectorFile.path))
        #expect(try RetrievalIndex.open(directory).manifest.vectorIndex == nil)
    }

    @Test("a factory the folder cannot train fails before the index is touched")
    func untrainableFactory() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        do {
            _ = try buildIndex(.invertedFile(cells: 64, productQuantizerBytes: nil), in: temporary)
            Issue.record("IVF64 on 14 images must fail")
        } catch let error as PipelineError {
            #expect(error.reason.contains("cannot train 64 cells"))
        }
        #expect(!FileManager.default.fileExists(atPath: temporary.path("index/index.json").path))
    }

    @Test("a damaged approximate index, store or manifest is refused on open and reported by the check")
    func damagedFiles() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let (directory, _) = try buildIndex(.hierarchicalGraph(links: 4), in: temporary)
        let vectorFile = directory.appendingPathComponent(IndexLayout.vectorIndexFileName)
        var bytes = try [UInt8](Data(contentsOf: vectorFile))
        bytes[bytes.count - 10] ^= 0x55
        try Data(bytes).write(to: vectorFile)
        #expect(throws: PipelineError.self) { try RetrievalIndex.open(directory) }
        let results = IndexCheck.run(directory)
        #expect(results.first { $0.file == IndexLayout.vectorIndexFileName }?.problem != nil)
        #expect(results.first { $0.file == IndexLayout.storeFileName }?.problem == nil)

        // The manifest edited by hand: its checksum no longer matches, and the index is refused.
        let manifestURL = directory.appendingPathComponent(IndexManifest.fileName)
        var manifest = try JSONDecoder().decode(IndexManifest.self, from: Data(contentsOf: manifestURL))
        #expect(manifest.checksum != nil)
        let original = try Data(contentsOf: manifestURL)
        try Data(String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"count\" : ", with: "\"count\" : 1").utf8)
            .write(to: manifestURL)
        do {
            _ = try RetrievalIndex.open(directory)
            Issue.record("an edited manifest must be refused")
        } catch {
            #expect(error.reason.contains("does not match its checksum"), "\(error)")
        }
        #expect(IndexCheck.run(directory).contains { $0.problem?.contains("does not match its checksum") == true })

        // A manifest naming another descriptor than the store's (written consistently, or from before
        // checksums) is refused by the cross-check with the store.
        manifest.descriptor = "cnn model=lite0 size=256"
        manifest.vectorIndex = nil
        manifest = manifest.sealed()
        try JSONEncoder().encode(manifest).write(to: manifestURL)
        do {
            _ = try RetrievalIndex.open(directory)
            Issue.record("a manifest naming another descriptor than the store's must be refused")
        } catch {
            #expect(error.reason.contains("was made with"))
        }
        #expect(IndexCheck.run(directory).contains { $0.problem?.contains("was made with") == true })
    }
}
