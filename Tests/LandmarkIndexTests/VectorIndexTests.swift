import Foundation
import Testing
@_spi(Benchmarks) @testable import LandmarkIndex
import LandmarkLinearAlgebra

/// Unit vectors in clusters, as in the search benchmark but small: neighbours are well defined.
/// `sampleSeed` draws the points; the same `seed` gives the same clusters, so queries drawn with
/// another `sampleSeed` come from the database's distribution.
private func clusteredUnitVectors(rows: Int, dimension: Int, clusters: Int, seed: UInt64, sampleSeed: UInt64 = 0) -> Matrix {
    var centreRandom = SplitMix64(seed: seed)
    let centres = (0 ..< clusters).map { _ in (0 ..< dimension).map { _ in Float(centreRandom.nextUnit() - 0.5) } }
    var random = SplitMix64(seed: sampleSeed &+ 0x5EED)
    var matrix = Matrix(rows: rows, columns: dimension)
    for row in 0 ..< rows {
        let centre = centres[Int(random.next() % UInt64(clusters))]
        for component in 0 ..< dimension {
            matrix.storage[row * dimension + component] = centre[component] + 0.15 * Float(random.nextUnit() - 0.5)
        }
    }
    matrix.normalizeRows()
    return matrix
}

private func recall(_ found: [[Neighbor]], _ truth: [[Neighbor]], at k: Int) -> Double {
    var total = 0.0
    for (hits, exact) in zip(found, truth) {
        let expected = Set(exact.prefix(k).map(\.index))
        total += Double(hits.prefix(k).filter { expected.contains($0.index) }.count) / Double(expected.count)
    }
    return total / Double(truth.count)
}

private func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Index factory strings")
struct IndexFactoryTests {
    @Test("canonical forms parse, case-insensitively, and print back")
    func parsesCanonicalForms() throws {
        for (text, canonical) in [("Flat", "Flat"), ("flat,F16", "Flat,f16"), ("IVF256,Flat", "IVF256,Flat"),
                                  ("ivf4096,pq64", "IVF4096,PQ64"), ("HNSW32", "HNSW32"), (" hnsw16 ", "HNSW16")] {
            #expect(try IndexFactory(parsing: text).description == canonical)
        }
        #expect(try IndexFactory(parsing: "Flat,f16").storeElementType == .float16)
        #expect(try IndexFactory(parsing: "HNSW8").isExact == false)
    }

    @Test("unknown or incomplete strings fail naming the accepted forms", arguments: [
        "", "IVF", "IVF0,Flat", "IVF256", "IVF256,SQ8", "OPQ16_64,IVF256,PQ16", "HNSW", "HNSW32,Flat", "Flat,f8", "LSH",
    ])
    func rejects(_ text: String) {
        #expect(throws: VectorIndexError.self) { try IndexFactory(parsing: text) }
        do {
            _ = try IndexFactory(parsing: text)
        } catch {
            #expect(error.code == .invalidFactory)
            #expect(error.reason.contains("accepted: Flat"))
        }
    }

    @Test("factories that the data cannot train fail before anything is built")
    func untrainable() {
        #expect(throws: VectorIndexError.self) { try VectorIndexBuilder.validate(.invertedFile(cells: 64, productQuantizerBytes: nil), count: 63, dimension: 8) }
        #expect(throws: VectorIndexError.self) { try VectorIndexBuilder.validate(.invertedFile(cells: 4, productQuantizerBytes: 3), count: 1000, dimension: 8) }
        #expect(throws: VectorIndexError.self) { try VectorIndexBuilder.validate(.invertedFile(cells: 4, productQuantizerBytes: 4), count: 255, dimension: 8) }
        #expect(throws: Never.self) { try VectorIndexBuilder.validate(.invertedFile(cells: 4, productQuantizerBytes: 4), count: 256, dimension: 8) }
        let rows = DatabaseRows(clusteredUnitVectors(rows: 30, dimension: 8, clusters: 3, seed: 1))
        #expect(throws: VectorIndexError.self) { try VectorIndexBuilder.build(.invertedFile(cells: 64, productQuantizerBytes: nil), rows: rows, progress: nil) }
    }
}

@Suite("Approximate indexes")
struct ApproximateIndexTests {
    let database = clusteredUnitVectors(rows: 3000, dimension: 32, clusters: 40, seed: 3)
    let queries = clusteredUnitVectors(rows: 50, dimension: 32, clusters: 40, seed: 3, sampleSeed: 1)

    @Test("an inverted file with flat cells and every cell probed returns exactly what exact search returns")
    func invertedFileAllProbedIsExact() throws {
        let rows = DatabaseRows(database)
        let exact = FlatIndex(rows: rows).search(queries, k: 20)
        let index = try InvertedFileIndex.build(rows: rows, factory: .invertedFile(cells: 16, productQuantizerBytes: nil))
        let found = index.search(queries, k: 20, parameters: SearchParameters(probes: 16))
        for (hits, truth) in zip(found, exact) {
            #expect(hits.map(\.index) == truth.map(\.index))
            for (hit, reference) in zip(hits, truth) { #expect(abs(hit.score - reference.score) < 1e-5) }
        }
        // Fewer cells visited: fewer candidates, still mostly right on clustered data.
        #expect(recall(index.search(queries, k: 20, parameters: SearchParameters(probes: 4)), exact, at: 20) > 0.8)
    }

    @Test("product-quantised cells with re-ranking find the exact neighbours; without re-ranking the scores are the codes' inner products")
    func productQuantisedRecall() throws {
        let rows = DatabaseRows(database)
        let exact = FlatIndex(rows: rows).search(queries, k: 10)
        let index = try InvertedFileIndex.build(rows: rows, factory: .invertedFile(cells: 8, productQuantizerBytes: 8))
        let reranked = index.search(queries, k: 10, parameters: SearchParameters(probes: 8, rerankDepth: 200))
        #expect(recall(reranked, exact, at: 10) > 0.97)
        // Without re-ranking a hit's score is ⟨q, c⟩ + ⟨q, decoded residual⟩ = ⟨q, reconstruction⟩.
        let quantizer = try #require(index.quantizer)
        let coded = index.search(queries, k: 5, parameters: SearchParameters(probes: 8, rerankDepth: 0))
        for (query, hits) in coded.enumerated() {
            for hit in hits {
                let cell = try #require(index.cellRows.firstIndex { $0.contains(Int32(hit.index)) })
                let position = try #require(index.cellRows[cell].firstIndex(of: Int32(hit.index)))
                let code = Array(index.cellCodes[cell][position * 8 ..< (position + 1) * 8])
                let residual = quantizer.decode(code).row(0)
                let reconstruction = (0 ..< 32).map { index.cells.centroids[cell, $0] + residual[$0] }
                let expected = (0 ..< 32).reduce(Float(0)) { $0 + queries[query, $1] * reconstruction[$1] }
                #expect(abs(hit.score - expected) < 1e-4)
            }
        }
    }

    @Test("HNSW finds the exact neighbours of clustered vectors, built at once or grown in two steps")
    func graphRecall() throws {
        let rows = DatabaseRows(database)
        let exact = FlatIndex(rows: rows).search(queries, k: 10)
        let graph = HNSWIndex.build(rows: rows, links: 12)
        #expect(recall(graph.search(queries, k: 10, parameters: SearchParameters(efSearch: 100)), exact, at: 10) > 0.97)
        // Growing: the first 1000 rows, then the rest, as an index that gains images would.
        var grown = HNSWIndex(rows: DatabaseRows(Matrix(rows: 1000, columns: 32, storage: Array(database.storage[0 ..< 32_000]))), links: 12)
        grown.addRemainingRows()
        grown = HNSWIndex(links: 12, efConstruction: grown.efConstruction, rows: rows, levels: grown.levels, offsets: grown.offsets,
                          neighbours: grown.neighbours, entryPoint: grown.entryPoint, maxLevel: grown.maxLevel, count: grown.count)
        let base = grown
        grown.addRemainingRows()
        // What an additions file holds, applied to the earlier graph, gives the grown one back.
        let change = try #require(grown.extensionSince(base))
        #expect(change.levels.count == 2000 && !change.changedSlots.isEmpty && change.changedSlots.count < base.neighbours.count)
        var reapplied = base
        let applied = reapplied.apply(change, rowCount: rows.count)
        #expect(applied)
        #expect(reapplied.neighbours == grown.neighbours && reapplied.offsets == grown.offsets && reapplied.levels == grown.levels
            && reapplied.entryPoint == grown.entryPoint && reapplied.maxLevel == grown.maxLevel && reapplied.count == grown.count)
        var outOfRange = change
        outOfRange.changedValues[0] = Int32(rows.count)
        var rejected = base
        let appliedOutOfRange = rejected.apply(outOfRange, rowCount: rows.count)
        #expect(!appliedOutOfRange)
        #expect(grown.extensionSince(HNSWIndex.build(rows: rows, links: 8)) == nil)
        // Node levels depend on the row alone; the links differ, since each call inserts its rows
        // from the top level down.
        #expect(grown.levels == graph.levels && grown.count == graph.count)
        #expect(recall(grown.search(queries, k: 10, parameters: SearchParameters(efSearch: 100)), exact, at: 10) > 0.97)
        // Built at once, the highest-level node is the entry point.
        #expect(Int(graph.levels[Int(graph.entryPoint)]) == graph.maxLevel)
        #expect(graph.maxLevel == Int(graph.levels.max() ?? 0))
    }

    @Test("saved indexes load back and search identically; a damaged or stale file is refused with its name")
    func fileRoundTrip() throws {
        let directory = try temporaryDirectory("vector-index")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = DatabaseRows(database)
        for factory in [IndexFactory.invertedFile(cells: 8, productQuantizerBytes: 4), .invertedFile(cells: 8, productQuantizerBytes: nil),
                        .hierarchicalGraph(links: 8)] {
            let url = directory.appendingPathComponent("\(factory).lmx")
            let built = try VectorIndexBuilder.build(factory, rows: rows, progress: nil)
            try VectorIndexBuilder.write(built, storeChecksum: 1234, to: url)
            let loaded = try VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: rows, storeChecksum: 1234)
            #expect(loaded.search(queries, k: 10) == built.search(queries, k: 10))
            #expect(throws: VectorIndexError.self) {
                try VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: rows, storeChecksum: 999)
            }
            var bytes = try [UInt8](Data(contentsOf: url))
            bytes[bytes.count / 2] ^= 0xFF
            try Data(bytes).write(to: url)
            do {
                _ = try VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: rows, storeChecksum: 1234)
                Issue.record("a damaged \(factory) file loaded")
            } catch {
                #expect(error.code == .invalidFile)
                #expect(error.file == url.path)
            }
        }
    }

    @Test("graph search reads mapped float32 and float16 rows (four at a time) as it reads the same rows on the heap", arguments: [
        DescriptorElementType.float32, .float16])
    func graphOverMappedRows(_ elementType: DescriptorElementType) throws {
        let directory = try temporaryDirectory("mapped-graph")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("descriptors.lmd")
        try DescriptorStoreWriter.write(database, identifiers: (0 ..< database.rows).map { "v\($0)" }, metadata: [:],
                                        elementType: elementType, to: url)
        let store = try DescriptorStore.open(url, verifyChecksum: false)
        let onHeap = HNSWIndex.build(rows: DatabaseRows(store.matrix()), links: 8)
        let mapped = HNSWIndex(links: 8, efConstruction: onHeap.efConstruction, rows: DatabaseRows(store), levels: onHeap.levels,
                               offsets: onHeap.offsets, neighbours: onHeap.neighbours, entryPoint: onHeap.entryPoint,
                               maxLevel: onHeap.maxLevel, count: onHeap.count)
        let parameters = SearchParameters(efSearch: 40)
        let expected = onHeap.search(queries, k: 10, parameters: parameters)
        #expect(mapped.search(queries, k: 10, parameters: parameters) == expected)
        #expect(expected.allSatisfy { $0.count == 10 })
    }

    @Test("exact search over a mapped float16 store equals exact search over the converted matrix, without copying the store")
    func mappedFloat16Store() throws {
        let directory = try temporaryDirectory("mapped-store")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("descriptors.lmd")
        try DescriptorStoreWriter.write(database, identifiers: (0 ..< database.rows).map { "v\($0)" }, metadata: [:],
                                        elementType: .float16, to: url)
        let store = try DescriptorStore.open(url, verifyChecksum: false)
        var search = ExactSearch(rows: DatabaseRows(store))
        search.blockRows = 1000  // several converted blocks
        // Same block size on both sides: BLAS then sums in the same order and the results agree bit for bit.
        var overMatrix = ExactSearch(database: store.matrix())
        overMatrix.blockRows = 1000
        #expect(search.search(queries, k: 15) == overMatrix.search(queries, k: 15))
        try store.verifyChecksum()
    }
}

@Suite("Product-quantised inverted file against FAISS")
struct InvertedFileReferenceTests {
    struct Fixture: Decodable {
        var source: String
        var dimension: Int, cells: Int, subquantizers: Int
        var centroids: [Float], codebooks: [Float], database: [Float], queries: [Float]
        var cellOfRow: [Int], codes: [Int], resultIds: [[Int]], resultScores: [[Float]]
    }

    @Test("with FAISS's centroids and codebooks, cells, codes and every-cell scores match FAISS's IndexIVFPQ (inner product)")
    func matchesFAISS() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/ivfpq_reference", withExtension: "json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let dimension = fixture.dimension
        let rows = DatabaseRows(Matrix(rows: fixture.database.count / dimension, columns: dimension, storage: fixture.database))
        var index = InvertedFileIndex(
            factory: .invertedFile(cells: fixture.cells, productQuantizerBytes: fixture.subquantizers),
            cells: VisualVocabulary(centroids: Matrix(rows: fixture.cells, columns: dimension, storage: fixture.centroids)),
            quantizer: ProductQuantizer(dimension: dimension, subquantizers: fixture.subquantizers, codebooks: fixture.codebooks),
            rows: rows, cellRows: Array(repeating: [], count: fixture.cells),
            cellCodes: Array(repeating: [], count: fixture.cells), count: 0)
        index.addRemainingRows()
        for row in 0 ..< rows.count {
            let cell = try #require(index.cellRows.firstIndex { $0.contains(Int32(row)) })
            #expect(cell == fixture.cellOfRow[row], "row \(row)")
            let position = try #require(index.cellRows[cell].firstIndex(of: Int32(row)))
            let code = index.cellCodes[cell][position * fixture.subquantizers ..< (position + 1) * fixture.subquantizers].map(Int.init)
            #expect(code == Array(fixture.codes[row * fixture.subquantizers ..< (row + 1) * fixture.subquantizers]), "row \(row)")
        }
        let queries = Matrix(rows: fixture.queries.count / dimension, columns: dimension, storage: fixture.queries)
        let found = index.search(queries, k: 10, parameters: SearchParameters(probes: fixture.cells, rerankDepth: 0))
        for (query, hits) in found.enumerated() {
            #expect(hits.map(\.index) == fixture.resultIds[query], "query \(query)")
            for (hit, score) in zip(hits, fixture.resultScores[query]) { #expect(abs(hit.score - score) < 1e-5) }
        }
    }
}
