import Foundation
import Testing
import LandmarkIndex
import LandmarkLinearAlgebra

@Suite("ASMK visual vocabulary")
struct ASMKVocabularyTests {
    /// Four clusters 20 apart with noise ±0.5: k-means must put one centroid near each centre.
    private func clusteredData() -> (centres: [[Float]], data: Matrix) {
        let dimension = 8
        var centres: [[Float]] = []
        for cluster in 0 ..< 4 {
            var centre = [Float](repeating: 0, count: dimension)
            centre[cluster] = 20
            centre[(cluster + 4) % dimension] = cluster.isMultiple(of: 2) ? -10 : 10
            centres.append(centre)
        }
        var generator = ASMKTestGenerator(seed: 7)
        var rows: [[Float]] = []
        for index in 0 ..< 200 { rows.append(centres[index % 4]) }
        return (centres, asmkNoisyRows(rows, noise: 0.5, generator: &generator))
    }

    @Test func kMeansRecoversWellSeparatedClusters() throws {
        let (centres, data) = clusteredData()
        let vocabulary = try VisualVocabulary.train(data, size: 4, iterations: 20, seed: 3)
        #expect(vocabulary.size == 4 && vocabulary.dimension == 8)
        var matched = Set<Int>()
        for centre in centres {
            let distances = (0 ..< 4).map { word in
                zip(vocabulary.centroids.row(word), centre).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }
            let best = try #require(distances.indices.min { distances[$0] < distances[$1] })
            #expect(distances[best] < 0.1, "centre \(centre) is \(distances[best]) from the nearest centroid")
            matched.insert(best)
        }
        #expect(matched.count == 4)
    }

    @Test func trainingIsDeterministicForASeed() throws {
        let (_, data) = clusteredData()
        let first = try VisualVocabulary.train(data, size: 6, iterations: 5, seed: 11)
        let second = try VisualVocabulary.train(data, size: 6, iterations: 5, seed: 11)
        #expect(first == second)
        // k-means++ must not leave an empty cluster: every word gets members.
        let counts = data.rows == 0 ? [] : first.assign(data).reduce(into: [Int](repeating: 0, count: 6)) { $0[$1[0]] += 1 }
        #expect(counts.allSatisfy { $0 > 0 })
    }

    @Test func trainingOnASampleStillFindsTheClusters() throws {
        let (centres, data) = clusteredData()
        let vocabulary = try VisualVocabulary.train(data, size: 4, seed: 1, maximumSamples: 40)
        for centre in centres {
            let best = (0 ..< 4).map { word in
                zip(vocabulary.centroids.row(word), centre).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            }.min() ?? .infinity
            #expect(best < 0.5)
        }
    }

    @Test func assignmentEqualsBruteForce() {
        var generator = ASMKTestGenerator(seed: 5)
        let centroids = Matrix(rowVectors: (0 ..< 30).map { _ in (0 ..< 16).map { _ in generator.uniform(-1 ... 1) } })
        let descriptors = Matrix(rowVectors: (0 ..< 2100).map { _ in (0 ..< 16).map { _ in generator.uniform(-1 ... 1) } })
        let vocabulary = VisualVocabulary(centroids: centroids)
        for count in [1, 3, 30, 50] {
            let assigned = vocabulary.assign(descriptors, count: count)
            #expect(assigned.count == descriptors.rows)
            for row in stride(from: 0, to: descriptors.rows, by: 7) {
                let distances = (0 ..< 30).map { word in
                    (0 ..< 16).reduce(Float(0)) { sum, d in
                        let difference = descriptors[row, d] - centroids[word, d]
                        return sum + difference * difference
                    }
                }
                let expected = Array(distances.indices.sorted { distances[$0] < distances[$1] }.prefix(min(count, 30)))
                #expect(assigned[row] == expected, "row \(row), count \(count)")
            }
        }
    }

    @Test func invalidTrainingInputsGiveTypedErrors() {
        let empty = Matrix(rows: 0, columns: 8)
        #expect(throws: ASMKError.self) { try VisualVocabulary.train(empty, size: 2) }
        let tooFew = Matrix(rowVectors: [[1, 2], [3, 4]])
        do {
            _ = try VisualVocabulary.train(tooFew, size: 3)
            Issue.record("expected an error")
        } catch { #expect(error.code == .invalidArgument) }
        let duplicates = Matrix(rowVectors: [[1, 2], [1, 2], [1, 2]])
        do {
            _ = try VisualVocabulary.train(duplicates, size: 2)
            Issue.record("expected an error")
        } catch { #expect(error.code == .invalidArgument) }
        let nonFinite = Matrix(rowVectors: [[1, .nan], [3, 4]])
        do {
            _ = try VisualVocabulary.train(nonFinite, size: 1)
            Issue.record("expected an error")
        } catch { #expect(error.code == .nonFinite) }
        #expect(VisualVocabulary(centroids: tooFew).assign(Matrix(rows: 0, columns: 0)).isEmpty)
    }

    @Test func fileRoundTripAndCorruption() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asmk-vocabulary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, data) = clusteredData()
        let vocabulary = try VisualVocabulary.train(data, size: 4, seed: 2)
        let url = directory.appendingPathComponent("words.asmkvoc")
        try vocabulary.write(to: url)
        #expect(try VisualVocabulary.load(contentsOf: url) == vocabulary)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(leftovers == ["words.asmkvoc"])

        let bytes = try [UInt8](Data(contentsOf: url))
        func code(of mutated: [UInt8]) -> ASMKError.Code? {
            let broken = directory.appendingPathComponent("broken")
            try? Data(mutated).write(to: broken)
            do { _ = try VisualVocabulary.load(contentsOf: broken); return nil } catch { return error.code }
        }
        var flipped = bytes
        flipped[40] ^= 0x10
        #expect(code(of: flipped) == .checksumMismatch)
        let truncatedCode = code(of: Array(bytes.prefix(bytes.count - 9)))
        #expect(truncatedCode == .checksumMismatch || truncatedCode == .truncated)
        #expect(code(of: Array(bytes.prefix(10))) == .truncated)
        var foreign = bytes
        foreign[0] = UInt8(ascii: "X")
        #expect(code(of: foreign) == .badMagic)
        var newer = bytes
        newer[8] = 99
        #expect(code(of: newer) == .unsupportedVersion)
        #expect(code(of: []) == .badMagic)
        do {
            _ = try VisualVocabulary.load(contentsOf: directory.appendingPathComponent("missing"))
            Issue.record("expected an error")
        } catch { #expect(error.code == .notFound) }
    }
}
