import Foundation
import LandmarkLinearAlgebra
@testable import LandmarkReranking
import Testing

@Suite struct DiffusionTests {
    struct Reference: Decodable {
        struct Parameters: Decodable {
            var k: Int
            var kq: Int
            var gamma: Float
            var alpha: Double
            var iterations: Int
            var tolerance: Double
            var topn: Int
        }
        var parameters: Parameters
        var rows: Int
        var columns: Int
        var vectors: [Float]
        var queries: [[Float]]
        var edges: [[Double]]
        var full: [[Double]]
        var truncated: [[Double]]
    }

    static func similarities(_ database: Matrix, _ query: [Float]) -> [Float] {
        (0 ..< database.rows).map { row in zip(database.row(row), query).reduce(Float(0)) { $0 + $1.0 * $1.1 } }
    }

    /// The authors' MATLAB code under Octave (scripts/fixtures/diffusion_make_fixtures.py) on 60 vectors.
    @Test func matchesTheAuthorsCodeOnASmallGraph() throws {
        let reference = try Fixtures.decode(Reference.self, from: "diffusion_reference.json")
        let parameters = reference.parameters
        let database = Matrix(rows: reference.rows, columns: reference.columns, storage: reference.vectors)
        let graph = DiffusionGraph(database: database, neighbours: parameters.k, exponent: parameters.gamma)

        // The mutual kNN graph: the same edges and weights.
        var expected: [SIMD2<Int>: Double] = [:]
        for edge in reference.edges { expected[SIMD2(Int(edge[0]), Int(edge[1]))] = edge[2] }
        var built: [SIMD2<Int>: Double] = [:]
        for row in 0 ..< graph.nodes {
            for entry in graph.rowStarts[row] ..< graph.rowStarts[row + 1] {
                built[SIMD2(row, Int(graph.columns[entry]))] = Double(graph.weights[entry])
            }
        }
        #expect(Set(built.keys) == Set(expected.keys))
        for (edge, weight) in expected { #expect(abs((built[edge] ?? 0) - weight) <= 1e-6, "edge \(edge)") }

        for (query, vector) in reference.queries.enumerated() {
            let similarities = Self.similarities(database, vector)
            for (truncation, solutions) in [(nil, reference.full), (parameters.topn, reference.truncated)] as [(Int?, [[Double]])] {
                let diffusion = Diffusion(queryNeighbours: parameters.kq, alpha: parameters.alpha, iterations: parameters.iterations,
                                          tolerance: parameters.tolerance, truncation: truncation)
                let scores = diffusion.scores(similarities: similarities, graph: graph, exponent: parameters.gamma)
                let scale = max(solutions[query].map(abs).max() ?? 1, 1e-12)
                let error = zip(scores, solutions[query]).map { abs($0 - $1) }.max() ?? 0
                #expect(error / scale <= 1e-5, "query \(query), truncation \(String(describing: truncation)): relative error \(error / scale)")
            }
        }
    }

    /// Two chains that touch only through one far end: the query near one end of chain A must reach the
    /// other end of A before anything in chain B, although B's nearest point is closer to the query.
    @Test func relevanceTravelsAlongTheGraph() {
        func unit(_ angle: Double, _ lift: Double) -> [Float] {
            let v = [cos(angle), sin(angle), lift]
            let norm = (v.map { $0 * $0 }.reduce(0, +)).squareRoot()
            return v.map { Float($0 / norm) }
        }
        // Chain A along angles 0…70°, tightly spaced; chain B, a separate cluster with a small lift.
        var rows: [[Float]] = (0 ..< 8).map { unit(Double($0) * 10 * .pi / 180, 0) }
        rows += (0 ..< 6).map { unit((35 + Double($0) * 2) * .pi / 180, 1.2) }
        let database = Matrix(rowVectors: rows)
        let graph = DiffusionGraph(database: database, neighbours: 4)
        let query = unit(0, 0)
        let similarities = Self.similarities(database, query)
        let bySimilarity = Diffusion.descending(similarities, excluded: nil)
        // Plain similarity puts a chain-B image ahead of chain A's far end.
        #expect(bySimilarity.firstIndex(of: 7)! > bySimilarity.firstIndex(where: { $0 >= 8 })!)
        let diffusion = Diffusion(queryNeighbours: 2)
        let ranking = diffusion.rerank(bySimilarity, scores: diffusion.scores(similarities: similarities, graph: graph, exponent: 3))
        #expect(Set(ranking.prefix(8)) == Set(0 ..< 8))
        #expect(ranking.count == database.rows && Set(ranking) == Set(0 ..< database.rows))
    }

    @Test func theExcludedRowIsNeverASeedAndUnreachedRowsKeepTheirOrder() {
        let database = Matrix(rowVectors: [[1, 0], [0.99, 0.141], [0, 1], [-1, 0]].map { row in
            let norm = (row.map { $0 * $0 }.reduce(0, +)).squareRoot()
            return row.map { Float($0 / norm) }
        })
        let graph = DiffusionGraph(database: database, neighbours: 2)
        let similarities = DiffusionTests.similarities(database, [1, 0])
        let diffusion = Diffusion(queryNeighbours: 1)
        let scores = diffusion.scores(similarities: similarities, graph: graph, exponent: 3, excluded: 0)
        #expect(scores[1] > 0)
        // Rows 2 and 3 are unreached (orthogonal and opposite): they follow in their previous order.
        #expect(diffusion.rerank([3, 2, 1], scores: scores) == [1, 3, 2])
    }

    @Test func aStoredGraphReadsBackAndDamageIsDetected() {
        let database = Matrix(rowVectors: (0 ..< 30).map { i in
            let v = [Float](unsafeUninitializedCapacity: 8) { buffer, count in
                for j in 0 ..< 8 { buffer[j] = Float(sin(Double(i * 8 + j) * 0.7)) }
                count = 8
            }
            let norm = v.map { $0 * $0 }.reduce(0, +).squareRoot()
            return v.map { $0 / norm }
        })
        let graph = DiffusionGraph(database: database, neighbours: 5)
        var bytes = graph.serialized()
        #expect(DiffusionGraph(serialized: bytes) == graph)
        bytes[bytes.count / 2] ^= 0x10
        #expect(DiffusionGraph(serialized: bytes) == nil)
        #expect(DiffusionGraph(serialized: Array(graph.serialized().dropLast(3))) == nil)
        #expect(DiffusionGraph(serialized: []) == nil)
    }
}
