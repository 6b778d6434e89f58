import Foundation
import LandmarkDescriptors
import LandmarkLinearAlgebra
import Testing

/// Whitening against cirtorch's pcawhitenlearn / whitenlearn / whitenapply.
///
/// Eigenvector signs are arbitrary, so comparisons are sign-invariant: (1) PᵀP and P[:16]ᵀP[:16]
/// (unchanged by flipping any row of P); (2) the Gram matrix of whitened descriptors (inner products,
/// what retrieval uses); (3) the whitened descriptors themselves after flipping each output dimension
/// of ours to agree with the reference's projection row. Tolerance 1e-4 absolute on whitened
/// (unit-norm) outputs; PᵀP relative 1e-4 of its largest entry.
@Suite struct WhiteningTests {
    struct Learned {
        let reference: ReferenceData
        let descriptors: Matrix
        let test: Matrix
    }

    static func load() throws -> Learned {
        let reference = try ReferenceData.load()
        return Learned(reference: reference, descriptors: try reference.matrix(reference.manifest.whitening.descriptors),
                       test: try reference.matrix(reference.manifest.whitening.test))
    }

    static func gram(_ a: Matrix) -> Matrix { a.multiplied(byTransposeOf: a) }

    static func projectionInvariant(_ p: Matrix, rows: Int) -> [Double] {
        let d = p.columns
        var result = [Double](repeating: 0, count: d * d)
        for k in 0 ..< rows {
            for i in 0 ..< d {
                for j in 0 ..< d { result[i * d + j] += Double(p[k, i]) * Double(p[k, j]) }
            }
        }
        return result
    }

    func check(_ whitening: Whitening, against kindName: String, data: Learned) throws {
        let reference = data.reference
        let kind = try #require(reference.manifest.whitening.kinds[kindName])
        let expectedMean = try reference.array(kind.mean)
        #expect(maximumAbsoluteDifference(whitening.mean, expectedMean) <= 1e-6)
        let expectedProjection = try reference.matrix(kind.projection)
        #expect(whitening.projection.rows == expectedProjection.rows && whitening.projection.columns == expectedProjection.columns)

        for rows in [expectedProjection.rows, 16] {
            let ours = Self.projectionInvariant(whitening.projection, rows: rows)
            let theirs = Self.projectionInvariant(expectedProjection, rows: rows)
            let scale = theirs.map(abs).max() ?? 1
            let difference = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-4 * scale, "\(kindName) PᵀP over \(rows) rows: relative \(difference / scale)")
        }

        // Per-dimension sign that aligns our projection rows with the reference's.
        let signs: [Float] = (0 ..< expectedProjection.rows).map { k in
            var dot: Double = 0
            for i in 0 ..< expectedProjection.columns {
                dot += Double(whitening.projection[k, i]) * Double(expectedProjection[k, i])
            }
            return dot < 0 ? -1 : 1
        }
        for (key, dimensions) in [("full", nil), ("16", 16)] as [(String, Int?)] {
            let applied = try #require(kind.applied[key])
            for (name, inputs, expectedName) in [("train", data.descriptors, applied.train), ("test", data.test, applied.test)] {
                let expected = try reference.matrix(expectedName)
                let whitened = whitening.apply(inputs, dimensions: dimensions)
                #expect(whitened.rows == expected.rows && whitened.columns == expected.columns)
                var aligned = whitened
                for row in 0 ..< aligned.rows {
                    for column in 0 ..< aligned.columns { aligned[row, column] *= signs[column] }
                }
                let difference = maximumAbsoluteDifference(aligned.storage, expected.storage)
                #expect(difference <= 1e-4, "\(kindName) \(key) \(name): max |Δ| \(difference)")
                let gramDifference = maximumAbsoluteDifference(Self.gram(whitened).storage, Self.gram(expected).storage)
                #expect(gramDifference <= 1e-4, "\(kindName) \(key) \(name): inner products max |Δ| \(gramDifference)")
            }
        }
        // One descriptor at a time gives the same rows.
        let single = whitening.apply(data.test.row(3), dimensions: 16)
        #expect(maximumAbsoluteDifference(single, whitening.apply(data.test, dimensions: 16).row(3)) <= 1e-6)
    }

    @Test func pcaWhiteningMatchesCirtorch() throws {
        let data = try Self.load()
        let whitening = try Whitening.learnPCA(data.descriptors)
        #expect(whitening.kind == .pca)
        try check(whitening, against: "pca", data: data)
    }

    @Test func learnedWhiteningMatchesCirtorch() throws {
        let data = try Self.load()
        let manifest = data.reference.manifest.whitening
        let whitening = try Whitening.learn(data.descriptors, queryIndices: manifest.queryIndices,
                                            positiveIndices: manifest.positiveIndices)
        #expect(whitening.kind == .learned)
        try check(whitening, against: "learned", data: data)
    }

    /// PCA-whitened training descriptors (before L2N) have identity covariance.
    @Test func pcaWhitensTheTrainingSet() throws {
        let data = try Self.load()
        let whitening = try Whitening.learnPCA(data.descriptors)
        let n = data.descriptors.rows, d = data.descriptors.columns
        var centred = data.descriptors
        for row in 0 ..< n { for column in 0 ..< d { centred[row, column] -= whitening.mean[column] } }
        let projected = centred.multiplied(byTransposeOf: whitening.projection)  // N × D
        let covariance = projected.transposed().multiplied(byTransposeOf: projected.transposed())
        for i in 0 ..< d {
            for j in 0 ..< d {
                #expect(abs(covariance[i, j] / Float(n) - (i == j ? 1 : 0)) < 1e-3)
            }
        }
    }

    @Test func tooFewDescriptors() throws {
        let descriptors = Matrix(rows: 8, columns: 8, storage: (0 ..< 64).map { Float(($0 * 37) % 11) })
        #expect(throws: WhiteningError.self) { try Whitening.learnPCA(descriptors) }
        do {
            _ = try Whitening.learnPCA(descriptors)
        } catch {
            #expect(error.code == .tooFewDescriptors)
            #expect(error.description.contains("more than 8"))
        }
        // Enough rows, but they span only 2 of 4 dimensions.
        let flat = Matrix(rows: 10, columns: 4, storage: (0 ..< 10).flatMap { i -> [Float] in [Float(i), Float(i * i), 0, 0] })
        #expect { try Whitening.learnPCA(flat) } throws: { ($0 as? WhiteningError)?.code == .singularCovariance }
        var bad = Matrix(rows: 10, columns: 2, storage: (0 ..< 20).map { Float($0 % 7) })
        bad[3, 1] = .nan
        #expect { try Whitening.learnPCA(bad) } throws: { ($0 as? WhiteningError)?.code == .nonFiniteDescriptors }
    }

    @Test func degeneratePairs() throws {
        let data = try Self.load()
        let manifest = data.reference.manifest.whitening
        let d = data.descriptors
        // Every pair is a descriptor with itself.
        #expect { try Whitening.learn(d, queryIndices: manifest.queryIndices, positiveIndices: manifest.queryIndices) }
            throws: { ($0 as? WhiteningError)?.code == .singularPairCovariance }
        // Pairs that differ along one direction only.
        var copies = d
        for row in 100 ..< 200 { for column in 0 ..< d.columns { copies[row, column] = d[row - 100, column] } }
        for row in 100 ..< 200 { copies[row, 0] += Float(row % 5) * 0.01 + 0.01 }
        let queries = Array(0 ..< 100), positives = Array(100 ..< 200)
        #expect { try Whitening.learn(copies, queryIndices: queries, positiveIndices: positives) }
            throws: { ($0 as? WhiteningError)?.code == .singularPairCovariance }
        // Fewer pairs than dimensions.
        #expect { try Whitening.learn(d, queryIndices: [0, 1, 2], positiveIndices: [3, 4, 5]) }
            throws: { ($0 as? WhiteningError)?.code == .tooFewDescriptors }
        #expect { try Whitening.learn(d, queryIndices: [0, 1], positiveIndices: [3]) }
            throws: { ($0 as? WhiteningError)?.code == .invalidPairs }
        #expect { try Whitening.learn(d, queryIndices: manifest.queryIndices, positiveIndices: manifest.positiveIndices.map { $0 + 100 }) }
            throws: { ($0 as? WhiteningError)?.code == .invalidPairs }
    }

    @Test func dimensionLargerThanInputIsAProgrammingError() async throws {
        await #expect(processExitsWith: .failure) {
            let whitening = try Whitening(kind: .pca, mean: [0, 0], projection: Matrix(rows: 2, columns: 2, storage: [1, 0, 0, 1]))
            _ = whitening.apply([1, 2], dimensions: 3)
        }
        #expect { try Whitening(kind: .pca, mean: [0, 0], projection: Matrix(rows: 3, columns: 2, repeating: 1)) }
            throws: { ($0 as? WhiteningError)?.code == .corrupt }
    }
}

@Suite struct WhiteningFileTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-whitening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func sample() throws -> Whitening {
        let data = try WhiteningTests.load()
        let manifest = data.reference.manifest.whitening
        return try Whitening.learn(data.descriptors, queryIndices: manifest.queryIndices, positiveIndices: manifest.positiveIndices)
    }

    @Test func roundTrip() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whitening = try Self.sample()
        let url = directory.appendingPathComponent("lw.whiten")
        try whitening.write(to: url)
        #expect(try Whitening.load(contentsOf: url) == whitening)
        // Overwriting replaces the file and leaves no temporary files behind.
        let pca = try Whitening.learnPCA(try WhiteningTests.load().descriptors)
        try pca.write(to: url)
        #expect(try Whitening.load(contentsOf: url) == pca)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["lw.whiten"])
        // Codable too.
        let json = try JSONEncoder().encode(whitening)
        #expect(try JSONDecoder().decode(Whitening.self, from: json) == whitening)
    }

    @Test func damagedFiles() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("w.whiten")
        try Self.sample().write(to: url)
        let good = try [UInt8](Data(contentsOf: url))

        func code(of bytes: [UInt8]) throws -> WhiteningError.Code? {
            let damaged = directory.appendingPathComponent("damaged.whiten")
            try Data(bytes).write(to: damaged)
            do {
                _ = try Whitening.load(contentsOf: damaged)
                return nil
            } catch {
                #expect(error.file == damaged.path)
                return error.code
            }
        }
        #expect(try code(of: Array(good.prefix(good.count - 1))) == .truncated)
        #expect(try code(of: Array(good.prefix(100))) == .truncated)
        #expect(try code(of: Array(good.prefix(12))) == .truncated)
        #expect(try code(of: []) == .truncated)
        #expect(try code(of: good + [0]) == .corrupt)
        var flipped = good
        flipped[200] ^= 0x10
        #expect(try code(of: flipped) == .checksumMismatch)
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(try code(of: magic) == .notWhiteningFile)
        #expect(try code(of: Array("hello, world, this is not a whitening file".utf8)) == .notWhiteningFile)
        var version = good
        version[8] = 2
        #expect(try code(of: version) == .unsupportedVersion)
        var dimension = good
        dimension[19] = 0xFF
        #expect(try code(of: dimension) == .corrupt)
        var kind = good
        kind[12] = 7
        #expect(try code(of: kind) == .corrupt)

        let missing = directory.appendingPathComponent("missing.whiten")
        #expect { try Whitening.load(contentsOf: missing) } throws: { ($0 as? WhiteningError)?.code == .io }
    }
}
