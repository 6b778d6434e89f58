import Foundation
import LandmarkDescriptors
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import Testing

@Suite struct ShardedIndexBuildTests {
    let extractor = GradientColourHistogramBaseline()

    @Test("the assignment is FNV-1a of the path, so every machine and run agrees")
    func assignmentIsAStableHash() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c, of "foobar" 0x85944171f73967e8 (the published test vectors).
        #expect(ShardAssignment.shard(of: "a", count: Int.max) == 3_414_815_163_700_866_189)
        #expect(ShardAssignment.shard(of: "foobar", count: 7) == 6)
        #expect(ShardAssignment.shard(of: "images/clock_tower__1.jpg", count: 3) == 1)
    }

    func scores(_ index: RetrievalIndex, queries: [String]) -> [[String: Float]] {
        let rows = queries.compactMap { index.store.identifiers.firstIndex(of: $0) }
        let matrix = Matrix(rows: rows.count, columns: index.store.dimension, storage: rows.flatMap { index.store.descriptor(at: $0) })
        return index.search(descriptors: matrix, top: 10).map { Dictionary(uniqueKeysWithValues: $0.map { ($0.image, $0.score) }) }
    }

    func expectClose(_ first: [[String: Float]], _ second: [[String: Float]], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(first.map { $0.keys.sorted() } == second.map { $0.keys.sorted() }, sourceLocation: sourceLocation)
        #expect(zip(first, second).allSatisfy { one, other in one.allSatisfy { abs($0.value - (other[$0.key] ?? .infinity)) < 1e-5 } },
                sourceLocation: sourceLocation)
    }

    @Test("a sharded index is ordinary index directories that together rank like one index, and updates touch only their shards")
    func shardsRankLikeOneIndex() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 4, views: 4, distractors: 4).map(\.relativePath).sorted()
        let sharded = temporary.path("sharded"), single = temporary.path("single")
        let summary = try ShardedIndexBuilder.build(images: images, index: sharded, shardCount: 3, extractor: extractor)
        #expect(summary.total == entries.count && summary.described == entries.count)
        _ = try IndexBuilder.build(images: images, index: single, extractor: extractor)

        var union: [String] = []
        for number in 0 ..< 3 {
            let shard = try RetrievalIndex.open(sharded.appendingPathComponent(ShardedIndexManifest.directoryName(number)))
            #expect(shard.store.identifiers.allSatisfy { ShardAssignment.shard(of: $0, count: 3) == number })
            union += shard.store.identifiers
        }
        #expect(union.sorted() == entries)
        let opened = try RetrievalIndex.open(sharded)
        #expect(opened.store.count == entries.count && opened.vectorIndex is ShardedIndex)
        expectClose(scores(opened, queries: entries), scores(try RetrievalIndex.open(single), queries: entries))
        #expect(IndexCheck.run(sharded).allSatisfy { $0.problem == nil })

        // Removing one photo changes only its shard's manifest.
        let gone = entries[3]
        let owner = ShardedIndexManifest.directoryName(ShardAssignment.shard(of: gone, count: 3))
        func manifests() throws -> [String: Data] {
            try Dictionary(uniqueKeysWithValues: (0 ..< 3).map { ShardedIndexManifest.directoryName($0) }.map {
                ($0, try Data(contentsOf: sharded.appendingPathComponent($0).appendingPathComponent(IndexManifest.fileName)))
            })
        }
        let before = try manifests()
        try FileManager.default.removeItem(at: images.appendingPathComponent(gone))
        let update = try ShardedIndexBuilder.build(images: images, index: sharded, shardCount: nil, extractor: extractor)
        #expect(update.removed == 1 && update.descriptorBytesWritten == 0)
        let after = try manifests()
        #expect(after.filter { before[$0.key] != $0.value }.map(\.key) == [owner])
        _ = try IndexBuilder.build(images: images, index: single, extractor: extractor)
        expectClose(scores(try RetrievalIndex.open(sharded), queries: Array(entries.prefix(5))),
                    scores(try RetrievalIndex.open(single), queries: Array(entries.prefix(5))))
    }

    @Test("another shard count, an unsharded directory, empty shards and shards that disagree are refused")
    func refusals() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 2)
        let sharded = temporary.path("sharded")
        _ = try ShardedIndexBuilder.build(images: images, index: sharded, shardCount: 2, extractor: extractor)
        #expect(throws: PipelineError.self) {
            try ShardedIndexBuilder.build(images: images, index: sharded, shardCount: 3, extractor: extractor)
        }
        let single = temporary.path("single")
        _ = try IndexBuilder.build(images: images, index: single, extractor: extractor)
        #expect(throws: PipelineError.self) {
            try ShardedIndexBuilder.build(images: images, index: single, shardCount: 2, extractor: extractor)
        }
        #expect(throws: PipelineError.self) {
            try ShardedIndexBuilder.build(images: images, index: temporary.path("many"), shardCount: 50, extractor: extractor)
        }
        // One shard switched to another search index: opening the whole names that shard.
        let shard = sharded.appendingPathComponent(ShardedIndexManifest.directoryName(1))
        _ = try IndexBuilder.build(images: images, index: shard, extractor: extractor,
                                   options: IndexBuildOptions(factory: .hierarchicalGraph(links: 4), shard: ShardSelection(number: 1, count: 2)))
        do {
            _ = try RetrievalIndex.open(sharded)
            Issue.record("shards with different descriptors must be refused")
        } catch {
            #expect(error.file == shard.path)
        }
        #expect(IndexCheck.run(sharded).first?.problem != nil)
    }
}
