import Foundation
import LandmarkDescriptors
import LandmarkIndex
import LandmarkPipeline
import Testing

@Suite struct IndexBuilderTests {
    let extractor = GradientColourHistogramBaseline()

    @Test func indexesGoodImagesAndReportsTheUnreadableOnes() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 3, distractors: 1)
        // Unreadable files among the photographs, and a file that is not an image at all.
        try Data().write(to: images.appendingPathComponent("images/empty.jpg"))
        try Data("not a picture".utf8).write(to: images.appendingPathComponent("images/text.png"))
        try Data("notes".utf8).write(to: images.appendingPathComponent("notes.txt"))

        let summary = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: extractor,
                                             options: IndexBuildOptions(shardSize: 2))
        #expect(summary.total == entries.count + 2)
        #expect(summary.described == entries.count)
        #expect(summary.skipped.map(\.image) == ["images/empty.jpg", "images/text.png"])
        #expect(summary.skipped.allSatisfy { !$0.reason.isEmpty })

        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.manifest.count == entries.count)
        #expect(index.store.identifiers == entries.map(\.relativePath).sorted())
        #expect(index.manifest.skipped.count == 2)
        #expect(!FileManager.default.fileExists(atPath: temporary.path("index/" + IndexLayout.workDirectoryName).path))
    }

    /// Issue 14, 1: the tool deletes only what it created, and never fills a folder that is not an index.
    @Test func neverDeletesOrFillsWhatItDidNotCreate() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let fileManager = FileManager.default
        // `landmark index data/partial --out data`: the photos live inside --out, which is no index.
        let data = temporary.path("data")
        let photos = data.appendingPathComponent("partial")
        let entries = try makeSyntheticDataset(in: photos, landmarks: 2, views: 2, distractors: 1)
        do {
            _ = try IndexBuilder.build(images: photos, index: data, extractor: extractor)
            Issue.record("a non-empty --out that is not an index must be refused")
        } catch {
            #expect(error.code == .invalidRequest && error.file == data.path)
        }
        for entry in entries { #expect(fileManager.fileExists(atPath: photos.appendingPathComponent(entry.relativePath).path)) }
        #expect(try fileManager.contentsOfDirectory(atPath: data.path) == ["partial"])

        // A folder named like the old work folder inside a real index survives every run.
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        let userFolder = index.appendingPathComponent("partial")
        try fileManager.createDirectory(at: userFolder, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: userFolder.appendingPathComponent("notes.txt"))
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        #expect(try Data(contentsOf: userFolder.appendingPathComponent("notes.txt")) == Data("keep".utf8))

        // A work folder with something of the user's in it: checkpoints go, the user's file stays.
        let work = try makeWorkDirectory(in: index)
        try Data("mine".utf8).write(to: work.appendingPathComponent("mine.txt"))
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        #expect(try fileManager.contentsOfDirectory(atPath: work.path).sorted() == [IndexLayout.workMarkerFileName, "mine.txt"])

        // A folder of that name the tool did not make (no marker) is refused and left alone.
        try fileManager.removeItem(at: work)
        try fileManager.createDirectory(at: work, withIntermediateDirectories: true)
        try Data("theirs".utf8).write(to: work.appendingPathComponent("shard-000000.lmd"))
        #expect(throws: PipelineError.self) { try IndexBuilder.build(images: photos, index: index, extractor: extractor) }
        #expect(try Data(contentsOf: work.appendingPathComponent("shard-000000.lmd")) == Data("theirs".utf8))
    }

    @Test func rerunReusesDescriptorsAndWritesTheSameStore() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        let first = try Data(contentsOf: index.appendingPathComponent(IndexLayout.storeFileName))
        let again = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(again.described == 0)
        #expect(again.reused == again.total)
        #expect(try Data(contentsOf: index.appendingPathComponent(IndexLayout.storeFileName)) == first)
    }

    @Test func refusesAnIndexBuiltWithAnotherDescriptor() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: GradientColourHistogramBaseline(inputSize: 128))
        // Same name, so this succeeds; a store with another name must be refused.
        try DescriptorStoreWriter.write(.init(rows: 1, columns: 3, storage: [1, 0, 0]), identifiers: ["x.jpg"],
                                        metadata: ["descriptor": "other"], to: index.appendingPathComponent(IndexLayout.storeFileName))
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: images, index: index, extractor: extractor)
        }
    }

    @Test func emptyOrMissingFoldersAreClearErrors() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: temporary.path("missing"), index: temporary.path("index"), extractor: extractor)
        }
        try FileManager.default.createDirectory(at: temporary.path("empty"), withIntermediateDirectories: true)
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: temporary.path("empty"), index: temporary.path("index"), extractor: extractor)
        }
        #expect(throws: PipelineError.self) { try RetrievalIndex.open(temporary.path("empty")) }
    }

    @Test func searchFindsTheQueryItselfFirst() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 2)
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: extractor)
        let index = try RetrievalIndex.open(temporary.path("index"))
        let queries = entries.prefix(3).map { images.appendingPathComponent($0.relativePath) }
        let outcomes = index.search(images: queries + [temporary.path("nothing.jpg")], top: 4)
        for (entry, outcome) in zip(entries.prefix(3), outcomes) {
            let hits = try outcome.get()
            #expect(hits.count == 4)
            #expect(hits.first?.image == entry.relativePath)
            #expect(abs((hits.first?.score ?? 0) - 1) < 1e-4)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        guard case .failure = outcomes[3] else {
            Issue.record("a missing query file must fail")
            return
        }
    }
}

@Suite struct BadImageCorpusTests {
    /// The image module's corpus of broken files (empty, truncated, corrupt, wrong type, bombs…).
    static let corpus = packageRoot.appendingPathComponent("Tests/LandmarkImageTests/Fixtures/bad")

    @Test func indexingAFolderWithTheWholeBadCorpusSkipsEachFileAndIndexesTheRest() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let badDirectory = images.appendingPathComponent("bad")
        try FileManager.default.copyItem(at: Self.corpus, to: badDirectory)
        let badImages = try ImageCollection.scan(badDirectory).map { "bad/" + $0 }
        #expect(badImages.count >= 10)

        let summary = try IndexBuilder.build(images: images, index: temporary.path("index"),
                                             extractor: GradientColourHistogramBaseline())
        #expect(summary.described == entries.count)
        #expect(summary.skipped.map(\.image) == badImages.sorted())
        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.store.count == entries.count)
    }
}
