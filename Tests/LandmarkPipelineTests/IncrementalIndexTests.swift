import Foundation
import LandmarkDescriptors
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import Testing

/// `landmark index` on a changed folder updates the index in place: new images become one new
/// segment, removed ones tombstones, and the result ranks exactly like a fresh build of the folder.
@Suite struct IncrementalIndexTests {
    let extractor = GradientColourHistogramBaseline()

    /// A folder of 20 synthetic photos, with `held` of them moved aside (put back by `restore`).
    struct Folder {
        let temporary: TemporaryDirectory
        let images: URL
        let entries: [String]
        let heldNames: [String]

        init(holding held: Int) throws {
            temporary = try TemporaryDirectory()
            images = temporary.path("images")
            let names = try makeSyntheticDataset(in: images, landmarks: 4, views: 4, distractors: 4).map(\.relativePath).sorted()
            entries = names
            // Every fifth photo, so the held ones are spread through the path order.
            heldNames = stride(from: 2, to: names.count, by: 5).prefix(held).map { names[$0] }
            try FileManager.default.createDirectory(at: temporary.path("held"), withIntermediateDirectories: true)
            for name in heldNames { try move(name, from: images, to: temporary.path("held")) }
        }

        func move(_ name: String, from source: URL, to target: URL) throws {
            let destination = target.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.moveItem(at: source.appendingPathComponent(name), to: destination)
        }

        func restore() throws { for name in heldNames { try move(name, from: temporary.path("held"), to: images) } }
        func remove(_ names: [String]) throws { for name in names { try FileManager.default.removeItem(at: images.appendingPathComponent(name)) } }
    }

    /// Every image's top `depth` results as image → score, so that two indexes holding the same
    /// descriptors in different row orders (whose products round differently in the last bit) compare.
    func rankings(_ directory: URL, depth: Int? = nil, parameters: SearchParameters = .init()) throws -> [String: [String: Float]] {
        var index = try RetrievalIndex.open(directory)
        index.searchParameters = parameters
        let hits = index.search(descriptors: index.store.matrix(), top: depth ?? index.store.count)
        var result: [String: [String: Float]] = [:]
        for (identifier, list) in zip(index.store.identifiers, hits) {
            result[identifier] = Dictionary(uniqueKeysWithValues: list.map { ($0.image, $0.score) })
        }
        return result
    }

    func expectSameRankings(_ first: [String: [String: Float]], _ second: [String: [String: Float]],
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(first.keys.sorted() == second.keys.sorted(), sourceLocation: sourceLocation)
        for (query, hits) in first {
            let other = second[query] ?? [:]
            #expect(hits.keys.sorted() == other.keys.sorted(), "\(query)", sourceLocation: sourceLocation)
            #expect(hits.allSatisfy { abs($0.value - (other[$0.key] ?? .infinity)) < 1e-5 }, "\(query)", sourceLocation: sourceLocation)
        }
    }

    func fileData(_ directory: URL, _ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    @Test("adding images writes one new segment and leaves the existing store untouched")
    func addingImagesAppendsASegment() throws {
        let folder = try Folder(holding: 3)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        let base = try fileData(index, IndexLayout.storeFileName)
        try folder.restore()

        let summary = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        #expect(summary.described == 3 && summary.reused == 17 && summary.removed == 0 && !summary.rewritten)
        #expect(try fileData(index, IndexLayout.storeFileName) == base)
        let opened = try RetrievalIndex.open(index)
        let segments = try #require(opened.manifest.segments)
        #expect(segments.map(\.rows) == [17, 3] && segments.allSatisfy(\.removedRows.isEmpty))
        #expect(opened.manifest.formatVersion == IndexManifest.segmentedFormatVersion)
        #expect(Array(opened.store.identifiers.suffix(3)) == folder.heldNames)
        let segmentBytes = try fileData(index, segments[1].file).count
        #expect(summary.descriptorBytesWritten == segmentBytes)
        #expect(segmentBytes * 4 < base.count, "the new segment holds 3 rows, the store 17")

        _ = try IndexBuilder.build(images: folder.images, index: folder.temporary.path("fresh"), extractor: extractor)
        expectSameRankings(try rankings(index), try rankings(folder.temporary.path("fresh")))
    }

    @Test("removed images are tombstoned without rewriting, never returned, and a rerun changes nothing")
    func removingImagesTombstones() throws {
        let folder = try Folder(holding: 0)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        let base = try fileData(index, IndexLayout.storeFileName)
        let gone = [folder.entries[1], folder.entries[7], folder.entries[19]]
        try folder.remove(gone)

        let summary = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        #expect(summary.removed == 3 && summary.described == 0 && summary.descriptorBytesWritten == 0)
        #expect(try fileData(index, IndexLayout.storeFileName) == base)
        let opened = try RetrievalIndex.open(index)
        #expect(opened.manifest.segments?.first?.removedRows == [1, 7, 19])
        #expect(opened.store.count == 17 && Set(opened.store.identifiers).isDisjoint(with: gone))
        let all = try rankings(index)
        #expect(all.values.allSatisfy { Set($0.keys).isDisjoint(with: gone) })
        _ = try IndexBuilder.build(images: folder.images, index: folder.temporary.path("fresh"), extractor: extractor)
        expectSameRankings(all, try rankings(folder.temporary.path("fresh")))

        let manifest = try fileData(index, IndexManifest.fileName)
        let again = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        #expect(again.removed == 0 && again.descriptorBytesWritten == 0)
        #expect(try fileData(index, IndexManifest.fileName) == manifest)
    }

    @Test("compaction writes the live rows in path order, as a fresh build does, and removes the old segments")
    func compactionEqualsAFreshBuild() throws {
        let folder = try Folder(holding: 2)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        try folder.restore()
        try folder.remove([folder.entries[0]])
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        #expect(try RetrievalIndex.open(index).manifest.segments?.count == 2)

        let summary = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor,
                                             options: IndexBuildOptions(compact: true))
        #expect(summary.rewritten)
        let opened = try RetrievalIndex.open(index)
        let segments = try #require(opened.manifest.segments)
        #expect(segments == [IndexSegment(file: "descriptors-000002.lmd", rows: 19)])
        let names = try FileManager.default.contentsOfDirectory(atPath: index.path).filter { $0.hasSuffix(".lmd") }
        #expect(names == ["descriptors-000002.lmd"])
        _ = try IndexBuilder.build(images: folder.images, index: folder.temporary.path("fresh"), extractor: extractor)
        #expect(try fileData(index, segments[0].file) == fileData(folder.temporary.path("fresh"), IndexLayout.storeFileName))
    }

    @Test("past a quarter of removed rows the index compacts by itself")
    func automaticCompaction() throws {
        let folder = try Folder(holding: 0)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        try folder.remove(Array(folder.entries.prefix(4)))   // 4 of 20: under the limit
        #expect(try !IndexBuilder.build(images: folder.images, index: index, extractor: extractor).rewritten)
        try folder.remove(Array(folder.entries[4 ..< 6]))    // 6 of 20: past it
        #expect(try IndexBuilder.build(images: folder.images, index: index, extractor: extractor).rewritten)
        let opened = try RetrievalIndex.open(index)
        #expect(opened.manifest.segments?.count == 1 && opened.manifest.segments?.first?.removedRows == [])
        #expect(opened.store.identifiers == Array(folder.entries.dropFirst(6)))
    }

    @Test("an update killed after writing its segment but before its manifest leaves the old index, and the rerun equals an uninterrupted update")
    func killedUpdateResumes() throws {
        let folder = try Folder(holding: 3)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        let crashed = folder.temporary.path("crashed")
        try FileManager.default.copyItem(at: index, to: crashed)
        try folder.restore()
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)

        // What a kill leaves: a half-written segment no manifest names, and one finished checkpoint.
        let segment = try fileData(index, "descriptors-000001.lmd")
        try segment.prefix(segment.count / 2).write(to: crashed.appendingPathComponent("descriptors-000001.lmd"))
        let partial = try makeWorkDirectory(in: crashed)
        let updated = try RetrievalIndex.open(index)
        try DescriptorStoreWriter.write(updated.store.rows(17 ..< 18), identifiers: [updated.store.identifiers[17]],
                                        metadata: checkpointMetadata(updated.store.metadata, for: [updated.store.identifiers[17]],
                                                                     below: folder.images),
                                        to: partial.appendingPathComponent("shard-000000.lmd"))
        #expect(try RetrievalIndex.open(crashed).store.count == 17)

        let resumed = try IndexBuilder.build(images: folder.images, index: crashed, extractor: extractor)
        #expect(resumed.described == 2 && resumed.reused == 18)
        for name in [IndexManifest.fileName, IndexLayout.storeFileName, "descriptors-000001.lmd"] {
            let expected = try fileData(index, name)
            var actual = try fileData(crashed, name)
            if name == IndexManifest.fileName {
                actual = Data(String(decoding: actual, as: UTF8.self).replacingOccurrences(of: "crashed", with: "index").utf8)
            }
            #expect(actual == expected, "\(name)")
        }
    }

    @Test("an approximate index follows updates (an inverted file without retraining) and ranks like a fresh exact index",
          arguments: [IndexFactory.invertedFile(cells: 4, productQuantizerBytes: nil), .hierarchicalGraph(links: 8)])
    func approximateIndexFollowsUpdates(_ factory: IndexFactory) throws {
        let folder = try Folder(holding: 3)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor,
                                   options: IndexBuildOptions(factory: factory))
        let vectorIndexURL = index.appendingPathComponent(IndexLayout.vectorIndexFileName)
        let before = try Data(contentsOf: vectorIndexURL)
        try folder.restore()
        try folder.remove([folder.entries[5]])
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor)
        let after = try Data(contentsOf: vectorIndexURL)
        let additions = try FileManager.default.contentsOfDirectory(atPath: index.path).filter { $0.hasPrefix("vector-index+") }
        // Not retrained, not rewritten: the main file is untouched and the new rows (with, for a graph,
        // the links they changed) are in one additions file.
        #expect(after == before)
        #expect(additions.count == 1)
        let exhaustive = SearchParameters(probes: 4, efSearch: 64)
        _ = try IndexBuilder.build(images: folder.images, index: folder.temporary.path("fresh"), extractor: extractor)
        expectSameRankings(try rankings(index, depth: 5, parameters: exhaustive), try rankings(folder.temporary.path("fresh"), depth: 5))
    }

    @Test("a combined index with local features keeps its rows aligned through updates")
    func localPartFollowsUpdates() throws {
        let folder = try Folder(holding: 2)
        defer { folder.temporary.cleanUp() }
        let index = folder.temporary.path("index")
        var local = LocalIndexConfiguration(vocabularySize: 16)
        local.vocabularyIterations = 5
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor, local: local)
        try folder.restore()
        try folder.remove([folder.entries[0], folder.entries[9]])
        _ = try IndexBuilder.build(images: folder.images, index: index, extractor: extractor, local: local)
        let opened = try RetrievalIndex.open(index)
        #expect(opened.manifest.segments?.count == 2)
        #expect(opened.localFeatureStore?.identifiers == opened.store.identifiers)
        #expect(opened.asmk?.imageCount == 18)
        let query = opened.imageURL(folder.heldNames[0])
        let hits = try opened.search(images: [query], top: 1, retrieval: .asmk)[0].get()
        #expect(hits.first?.image == folder.heldNames[0])
    }
}

/// `IndexUpdate`: the same update in place, given as descriptors (what a service or a merge applies).
@Suite struct IndexUpdateTests {
    @Test("descriptors added, replaced and removed by identifier update the index in place and search at once")
    func updateFromDescriptors() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 3).map(\.relativePath).sorted()
        let index = temporary.path("index")
        let extractor = GradientColourHistogramBaseline()
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: IndexBuildOptions(factory: .invertedFile(cells: 2, productQuantizerBytes: nil)))
        let opened = try RetrievalIndex.open(index)
        let first = opened.store.descriptor(at: 0), second = opened.store.descriptor(at: 1)

        // entries[1] now carries entries[0]'s descriptor; a new image carries entries[1]'s; entries[2] goes.
        let summary = try IndexUpdate(additions: [(entries[1], first), ("images/new.jpg", second)],
                                      removals: [entries[2], "images/unknown.jpg"]).apply(to: index)
        #expect(summary.removed == 1 && summary.described == 2 && summary.total == entries.count)
        let updated = try RetrievalIndex.open(index)
        #expect(updated.store.count == entries.count)
        #expect(!updated.store.identifiers.contains(entries[2]))
        let row = try #require(updated.store.identifiers.firstIndex(of: entries[1]))
        #expect(updated.store.descriptor(at: row) == first)
        let hits = updated.search(descriptors: Matrix(rows: 1, columns: first.count, storage: second), top: 2)[0]
        #expect(hits.first?.image == "images/new.jpg")
        #expect(IndexCheck.run(index).allSatisfy { $0.problem == nil })

        #expect(throws: PipelineError.self) { try IndexUpdate(additions: [("x.jpg", [1, 2])]).apply(to: index) }
        #expect(throws: PipelineError.self) {
            try IndexUpdate(additions: [("x.jpg", first)], removals: ["x.jpg"]).apply(to: index)
        }
        #expect(throws: PipelineError.self) { try IndexUpdate().apply(to: temporary.path("nowhere")) }
    }
}

/// Rows added to an approximate index in place live in an additions file named after the rows they
/// cover, so a killed update never leaves the committed index without its own.
@Suite struct VectorIndexAdditionsTests {
    @Test("an update killed after writing its additions file leaves the committed index searchable; a damaged one is named",
          arguments: [IndexFactory.invertedFile(cells: 2, productQuantizerBytes: nil), .hierarchicalGraph(links: 4)])
    func additionsSurviveAKilledUpdate(_ factory: IndexFactory) throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 3)
        let index = temporary.path("index")
        let extractor = GradientColourHistogramBaseline()
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: IndexBuildOptions(factory: factory))
        let base = try RetrievalIndex.open(index)
        func vector(_ seed: Float) -> [Float] {
            let raw = (0 ..< base.store.dimension).map { sin(Float($0) * seed) }
            let norm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return raw.map { $0 / norm }
        }
        func additionsFiles(_ directory: URL) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("vector-index+") }.sorted()
        }
        _ = try IndexUpdate(additions: [("images/a.jpg", vector(0.3))]).apply(to: index)
        #expect(try additionsFiles(index).count == 1)
        let stateA = temporary.path("state-a")
        try FileManager.default.copyItem(at: index, to: stateA)
        _ = try IndexUpdate(additions: [("images/b.jpg", vector(0.7))], removals: ["images/a.jpg"]).apply(to: index)
        let afterB = try additionsFiles(index)
        let beforeB = try additionsFiles(stateA)
        #expect(afterB.count == 1 && afterB != beforeB)

        // Killed after B's segment and additions file were written, before its manifest.
        for name in try FileManager.default.contentsOfDirectory(atPath: index.path)
        where !FileManager.default.fileExists(atPath: stateA.appendingPathComponent(name).path) {
            try FileManager.default.copyItem(at: index.appendingPathComponent(name), to: stateA.appendingPathComponent(name))
        }
        let committed = try RetrievalIndex.open(stateA)
        #expect(committed.store.identifiers.contains("images/a.jpg") && !committed.store.identifiers.contains("images/b.jpg"))
        #expect(committed.search(descriptors: Matrix(rows: 1, columns: base.store.dimension, storage: vector(0.3)), top: 1)[0].first?.image == "images/a.jpg")
        _ = try IndexUpdate(additions: [("images/b.jpg", vector(0.7))], removals: ["images/a.jpg"]).apply(to: stateA)
        #expect(try additionsFiles(stateA) == afterB)
        #expect(try Data(contentsOf: stateA.appendingPathComponent(afterB[0])) == Data(contentsOf: index.appendingPathComponent(afterB[0])))

        // A damaged additions file is refused on open and reported by the check, naming it.
        let damaged = index.appendingPathComponent(afterB[0])
        var bytes = try Data(contentsOf: damaged)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: damaged)
        do {
            _ = try RetrievalIndex.open(index)
            Issue.record("a damaged additions file must be refused")
        } catch {
            #expect(error.file == damaged.path)
        }
        #expect(IndexCheck.run(index).contains { $0.problem != nil })
    }
}
