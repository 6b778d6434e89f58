import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import Testing

@testable import LandmarkIndex

/// OPQ against FAISS's `OPQMatrix` (fixture: scripts/fixtures/opq_make_fixtures.py).
@Suite("OPQ rotation against FAISS")
struct OptimizedProductQuantizationTests {
    struct Fixture: Decodable {
        var source: String
        var dimension: Int, cells: Int, subquantizers: Int
        var trainCount: Int, databaseCount: Int, queryCount: Int
        var seeds: [String: UInt64]
        var firstTrainingRow: [Float]
        var rotation: [Float], rotatedCentroids: [Float], codebooks: [Float]
        var cellOfRow: [Int], codes: [Int], resultIds: [[Int]], resultScores: [[Float]]
        var productQuantizationError: Double, optimizedQuantizationError: Double
    }

    static func fixture() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/opq_reference", withExtension: "json"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// The fixture script's vectors: z_j = (u − 0.5) · 2^(−j/3) from SplitMix64 uniforms, mixed by the
    /// normalised 16 × 16 Hadamard matrix, in double, stored as float.
    static func correlated(rows: Int, dimension: Int, seed: UInt64) -> Matrix {
        var random = SplitMix64(seed: seed)
        var result = Matrix(rows: rows, columns: dimension)
        for row in 0 ..< rows {
            let z = (0 ..< dimension).map { (random.nextUnit() - 0.5) * pow(2, -Double($0) / 3) }
            for column in 0 ..< dimension {
                var sum = 0.0
                for component in 0 ..< dimension {
                    // Sylvester's Hadamard matrix: (−1)^popcount(i & j).
                    sum += (component & column).nonzeroBitCount % 2 == 0 ? z[component] : -z[component]
                }
                result.storage[row * dimension + column] = Float(sum / Double(dimension).squareRoot())
            }
        }
        return result
    }

    static func meanSquaredError(_ vectors: Matrix, quantizer: ProductQuantizer) -> Double {
        let decoded = quantizer.decode(quantizer.encode(vectors))
        var total = 0.0
        for (value, reconstruction) in zip(vectors.storage, decoded.storage) { total += Double((value - reconstruction) * (value - reconstruction)) }
        return total / Double(vectors.rows)
    }

    @Test("with FAISS's rotation, centroids and codebooks, cells, codes and every-cell scores match FAISS's OPQ + IVF-PQ")
    func matchesFAISS() throws {
        let fixture = try Self.fixture()
        let dimension = fixture.dimension
        let train = Self.correlated(rows: fixture.trainCount, dimension: dimension, seed: fixture.seeds["train"] ?? 0)
        for (mine, theirs) in zip(train.row(0), fixture.firstTrainingRow) { #expect(abs(mine - theirs) <= 1e-7, "generator") }
        let database = Self.correlated(rows: fixture.databaseCount, dimension: dimension, seed: fixture.seeds["database"] ?? 0)
        let queries = Self.correlated(rows: fixture.queryCount, dimension: dimension, seed: fixture.seeds["queries"] ?? 0)
        // FAISS rotates everything, y = A x; this index keeps the cells unrotated: c = Aᵀ c′.
        let rotation = Matrix(rows: dimension, columns: dimension, storage: fixture.rotation)
        let centroids = Matrix(rows: fixture.cells, columns: dimension, storage: fixture.rotatedCentroids) * rotation
        var index = InvertedFileIndex(
            factory: .invertedFile(cells: fixture.cells, productQuantizerBytes: fixture.subquantizers, rotated: true),
            cells: VisualVocabulary(centroids: centroids),
            quantizer: ProductQuantizer(dimension: dimension, subquantizers: fixture.subquantizers, codebooks: fixture.codebooks),
            rotation: OptimizedProductQuantization(rotation: rotation), rows: DatabaseRows(database),
            cellRows: Array(repeating: [], count: fixture.cells), cellCodes: Array(repeating: [], count: fixture.cells), count: 0)
        index.addRemainingRows()
        var differentCodes = 0
        for row in 0 ..< database.rows {
            let cell = try #require(index.cellRows.firstIndex { $0.contains(Int32(row)) })
            #expect(cell == fixture.cellOfRow[row], "row \(row)")
            let position = try #require(index.cellRows[cell].firstIndex(of: Int32(row)))
            let code = index.cellCodes[cell][position * fixture.subquantizers ..< (position + 1) * fixture.subquantizers].map(Int.init)
            if code != Array(fixture.codes[row * fixture.subquantizers ..< (row + 1) * fixture.subquantizers]) { differentCodes += 1 }
        }
        // The rotated residual is computed as R(x − c) here and as Rx − c′ in FAISS: float rounding may
        // tip a sub-vector lying halfway between two centroids, but not more than one row in 60.
        #expect(differentCodes <= 1)
        let found = index.search(queries, k: 10, parameters: SearchParameters(probes: fixture.cells, rerankDepth: 0))
        for (query, hits) in found.enumerated() {
            if differentCodes == 0 { #expect(hits.map(\.index) == fixture.resultIds[query], "query \(query)") }
            for (hit, expected) in zip(hits, fixture.resultIds[query]) where hit.index == expected {
                #expect(abs(hit.score - fixture.resultScores[query][fixture.resultIds[query].firstIndex(of: expected) ?? 0]) < 1e-5)
            }
        }
    }

    @Test("training lowers the product-quantisation error as much as FAISS's OPQMatrix, and the rotation is orthogonal")
    func trainingMatchesFAISSError() throws {
        let fixture = try Self.fixture()
        let train = Self.correlated(rows: fixture.trainCount, dimension: fixture.dimension, seed: fixture.seeds["train"] ?? 0)
        let plain = try ProductQuantizer.train(train, subquantizers: fixture.subquantizers)
        let opq = try OptimizedProductQuantization.train(train, subquantizers: fixture.subquantizers)
        let rotated = opq.rotate(train)
        let afterRotation = try ProductQuantizer.train(rotated, subquantizers: fixture.subquantizers)
        let plainError = Self.meanSquaredError(train, quantizer: plain)
        let rotatedError = Self.meanSquaredError(rotated, quantizer: afterRotation)
        // Same k-means budget as FAISS on both sides; random starts differ, so 10 % either way.
        #expect(abs(plainError / fixture.productQuantizationError - 1) < 0.1, "PQ \(plainError) vs FAISS \(fixture.productQuantizationError)")
        #expect(rotatedError < fixture.optimizedQuantizationError * 1.1,
                "OPQ + PQ \(rotatedError) vs FAISS \(fixture.optimizedQuantizationError)")
        let identity = opq.rotation.transposeMultiplied(by: opq.rotation)
        for row in 0 ..< fixture.dimension {
            for column in 0 ..< fixture.dimension {
                #expect(abs(identity[row, column] - (row == column ? 1 : 0)) < 1e-5)
            }
        }
    }

    @Test("OPQ factory strings parse, round-trip, and refuse a rotation for another quantiser")
    func factoryStrings() throws {
        let factory = try IndexFactory(parsing: "opq16,ivf64,pq16")
        #expect(factory == .invertedFile(cells: 64, productQuantizerBytes: 16, rotated: true))
        #expect(factory.description == "OPQ16,IVF64,PQ16")
        for bad in ["OPQ16,IVF64,PQ8", "OPQ16,IVF64,Flat", "OPQ16", "OPQ16,HNSW32", "OPQ16_64,IVF64,PQ16"] {
            #expect(throws: VectorIndexError.self, "\(bad)") { try IndexFactory(parsing: bad) }
        }
    }

    @Test("an OPQ inverted file builds, saves, loads and finds neighbours like the unrotated one, or better")
    func buildSaveLoad() throws {
        let database = Self.correlated(rows: 4000, dimension: 16, seed: 21)
        let queries = Self.correlated(rows: 50, dimension: 16, seed: 22)
        let rows = DatabaseRows(database)
        let exact = FlatIndex(rows: rows).search(queries, k: 10)
        let parameters = SearchParameters(probes: 4, rerankDepth: 0)
        func recall(_ found: [[Neighbor]]) -> Double {
            zip(found, exact).map { Double(Set($0.map(\.index)).intersection($1.map(\.index)).count) / 10 }.reduce(0, +) / Double(exact.count)
        }
        let plain = try InvertedFileIndex.build(rows: rows, factory: .invertedFile(cells: 4, productQuantizerBytes: 4))
        let rotated = try InvertedFileIndex.build(rows: rows, factory: .invertedFile(cells: 4, productQuantizerBytes: 4, rotated: true))
        #expect(recall(rotated.search(queries, k: 10, parameters: parameters)) > recall(plain.search(queries, k: 10, parameters: parameters)))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("opq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("vector-index.lmx")
        try VectorIndexBuilder.write(rotated, storeChecksum: 7, to: url)
        let loaded = try VectorIndexBuilder.load(contentsOf: url, factory: rotated.factory, rows: rows, storeChecksum: 7)
        #expect(loaded.search(queries, k: 10, parameters: parameters) == rotated.search(queries, k: 10, parameters: parameters))
    }
}
