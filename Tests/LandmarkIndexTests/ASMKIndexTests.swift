import Foundation
import Testing
import LandmarkIndex
import LandmarkLinearAlgebra

@Suite("ASMK index and selective match kernel")
struct ASMKIndexTests {
    /// Synthetic "images": each is a set of local descriptors, every one a shared pattern plus
    /// noise. Patterns are spread over a 40-word vocabulary trained on all of them.
    private struct Scene {
        var patterns: [[Float]]
        var imagePatterns: [[Int]]
        var vocabulary: VisualVocabulary
    }

    private func scene() throws -> Scene {
        var generator = ASMKTestGenerator(seed: 21)
        let dimension = 64
        let patterns = (0 ..< 80).map { _ in (0 ..< dimension).map { _ in generator.uniform(-1 ... 1) } }
        // Eight images of 12 distinct patterns each; image 3 holds patterns 0..<12.
        var imagePatterns: [[Int]] = []
        for image in 0 ..< 8 {
            if image == 3 { imagePatterns.append(Array(0 ..< 12)); continue }
            var chosen = Set<Int>()
            while chosen.count < 12 { chosen.insert(Int.random(in: 8 ..< 80, using: &generator)) }
            imagePatterns.append(chosen.sorted())
        }
        let training = asmkNoisyRows(patterns + patterns, noise: 0.05, generator: &generator)
        let vocabulary = try VisualVocabulary.train(training, size: 40, seed: 4)
        return Scene(patterns: patterns, imagePatterns: imagePatterns, vocabulary: vocabulary)
    }

    private func build(_ scene: Scene, configuration: ASMKConfiguration) -> (ASMKIndex, [Matrix]) {
        var generator = ASMKTestGenerator(seed: 99)
        var index = ASMKIndex(vocabulary: scene.vocabulary, configuration: configuration)
        var images: [Matrix] = []
        for (expected, patternIDs) in scene.imagePatterns.enumerated() {
            let descriptors = asmkNoisyRows(patternIDs.map { scene.patterns[$0] }, noise: 0.05, generator: &generator)
            images.append(descriptors)
            #expect(index.add(imageDescriptors: descriptors) == expected)
        }
        return (index, images)
    }

    @Test(arguments: [true, false])
    func imageSharingTheMostPatternsRanksFirst(binary: Bool) throws {
        let scene = try scene()
        let (index, _) = build(scene, configuration: ASMKConfiguration(binary: binary))
        var generator = ASMKTestGenerator(seed: 5)
        // Ten of image 3's patterns (new noise) plus two unrelated ones.
        let query = asmkNoisyRows((0 ..< 10).map { scene.patterns[$0] } + [scene.patterns[70], scene.patterns[75]],
                                  noise: 0.05, generator: &generator)
        let results = index.searchOne(query, k: 8)
        #expect(results.count == 8)
        #expect(results.first?.index == 3)
        let scores = results.map(\.score)
        #expect(scores == scores.sorted(by: >))
        #expect((results.first?.score ?? 0) > 1.5 * (results.dropFirst().first?.score ?? 0))
    }

    @Test("through the one search protocol, a batch of query images gives each image's own results, on 1 or 2 threads")
    func searchProtocolBatches() throws {
        let scene = try scene()
        let (index, images) = build(scene, configuration: ASMKConfiguration(binary: true))
        // Written against the protocol alone, as evaluation and the benchmarks are.
        func rankings<Index: SearchIndex>(_ index: Index, _ queries: Index.Queries, threads: Int) -> [[Neighbor]] {
            index.search(queries, k: 5, parameters: SearchParameters(threads: threads))
        }
        let queries = images + [Matrix(rows: 0, columns: index.vocabulary.dimension)]
        let serial = rankings(index, queries, threads: 1)
        #expect(rankings(index, queries, threads: 2) == serial)
        #expect(serial.count == queries.count && serial.last == [])
        for (image, descriptors) in images.enumerated() { #expect(serial[image] == index.searchOne(descriptors, k: 5)) }
        #expect(index.count == images.count)
    }

    @Test("idf and image normalisers computed once give the same scores as computed per query", arguments: [true, false])
    func preparedWeightsGiveTheSameScores(binary: Bool) throws {
        let scene = try scene()
        var (index, images) = build(scene, configuration: ASMKConfiguration(binary: binary))
        let before = images.map { index.scores(for: index.represent($0, multipleAssignment: 5)) }
        let rankings = images.map { index.searchOne($0, k: 8).map(\.index) }
        index.prepareForSearch()
        #expect(images.map { index.scores(for: index.represent($0, multipleAssignment: 5)) } == before)
        #expect(images.map { index.searchOne($0, k: 8).map(\.index) } == rankings)
    }

    @Test(arguments: [true, false])
    func identicalImageScoresHighest(binary: Bool) throws {
        let scene = try scene()
        let (index, images) = build(scene, configuration: ASMKConfiguration(binary: binary))
        for (image, descriptors) in images.enumerated() {
            #expect(index.search([descriptors], k: 1)[0].first?.index == image)
        }
        // With single assignment on both sides an image matches itself perfectly: score 1.
        let single = ASMKConfiguration(queryMultipleAssignment: 1, binary: binary)
        let (singleIndex, _) = build(scene, configuration: single)
        let top = singleIndex.searchOne(images[5], k: 2)
        #expect(top.first?.index == 5)
        #expect(abs((top.first?.score ?? 0) - 1) < 1e-4)
    }

    @Test func selectivityFunction() {
        #expect(ASMKIndex.selectivity(0.5, alpha: 3, threshold: 0) == 0.125)
        #expect(ASMKIndex.selectivity(1, alpha: 3, threshold: 0) == 1)
        #expect(ASMKIndex.selectivity(-0.5, alpha: 3, threshold: 0) == 0)
        #expect(ASMKIndex.selectivity(-0.5, alpha: 3, threshold: -1) == -0.125)
        #expect(ASMKIndex.selectivity(0.2, alpha: 3, threshold: 0.3) == 0)
        #expect(ASMKIndex.selectivity(0.3, alpha: 1, threshold: 0.3) == 0.3) // the reference keeps u ≥ τ
    }

    /// One word at the origin in 64-D, so an image's code is just the signs of its descriptor.
    /// Query: all positive. Image 0: identical signs (u = 1). Image 1: 16 of 64 signs flipped
    /// (u = 0.5). Image 2: 48 flipped (u = −0.5). Image 3: the query's word plus a second word.
    private func handIndex(_ configuration: ASMKConfiguration) -> ASMKIndex {
        let dimension = 64
        var secondCentroid = [Float](repeating: 0, count: dimension)
        secondCentroid[0] = 100
        let vocabulary = VisualVocabulary(centroids: Matrix(rowVectors: [[Float](repeating: 0, count: dimension), secondCentroid]))
        var index = ASMKIndex(vocabulary: vocabulary, configuration: configuration)
        func signs(flipped: Int) -> [Float] { (0 ..< dimension).map { $0 < flipped ? -1 : 1 } }
        _ = index.add(imageDescriptors: Matrix(rowVectors: [signs(flipped: 0)]))
        _ = index.add(imageDescriptors: Matrix(rowVectors: [signs(flipped: 16)]))
        _ = index.add(imageDescriptors: Matrix(rowVectors: [signs(flipped: 48)]))
        var far = signs(flipped: 0)
        far[0] = 101
        _ = index.add(imageDescriptors: Matrix(rowVectors: [signs(flipped: 0), far]))
        return index
    }

    private func scores(_ configuration: ASMKConfiguration) -> [Float] {
        let index = handIndex(configuration)
        let query = Matrix(rowVectors: [[Float](repeating: 1, count: 64)])
        let results = index.searchOne(query, k: 10)
        var byImage = [Float](repeating: .nan, count: index.imageCount)
        for result in results { byImage[result.index] = result.score }
        return byImage
    }

    @Test func alphaThresholdAndNormalisationOnAHandCase() {
        let base = ASMKConfiguration(queryMultipleAssignment: 1)
        let cubic = scores(base)
        #expect(cubic[0] == 1)
        #expect(abs(cubic[1] - 0.125) < 1e-6)
        #expect(cubic[2] == 0)                                   // negative similarity is below τ = 0
        #expect(abs(cubic[3] - 1 / Float(2).squareRoot()) < 1e-6) // two words: normalised by √2
        var linear = base
        linear.alpha = 1
        #expect(abs(scores(linear)[1] - 0.5) < 1e-6)
        var strict = base
        strict.threshold = 0.6
        #expect(scores(strict)[1] == 0)                          // τ filters the weak match
        var permissive = base
        permissive.threshold = -1
        #expect(abs(scores(permissive)[2] + 0.125) < 1e-6)        // below-zero matches count negatively
        // Multiple assignment: the query descriptor also lands in the second word, so the query has
        // two words (normalised by √2) and image 3 matches in both.
        var multiple = base
        multiple.queryMultipleAssignment = 2
        let spread = scores(multiple)
        #expect(abs(spread[0] - 1 / Float(2).squareRoot()) < 1e-6)
    }

    @Test func tiesGoToTheSmallerImageID() {
        let results = handIndex(ASMKConfiguration(queryMultipleAssignment: 1))
            .searchOne(Matrix(rowVectors: [[Float](repeating: -1, count: 64)]), k: 4)
        // Query all negative: image 2 (u = 0.5) first, all others score 0 and keep id order.
        #expect(results.map(\.index) == [2, 0, 1, 3])
    }

    @Test func emptyInputsNeverCrash() {
        let vocabulary = VisualVocabulary(centroids: Matrix(rowVectors: [[0, 0], [1, 1]]))
        var index = ASMKIndex(vocabulary: vocabulary)
        #expect(index.searchOne(Matrix(rows: 0, columns: 2), k: 5).isEmpty)
        #expect(index.searchOne(Matrix(rowVectors: [[0.5, 0.5]]), k: 5).isEmpty)
        #expect(index.add(imageDescriptors: Matrix(rows: 0, columns: 0)) == 0)
        #expect(index.add(imageDescriptors: Matrix(rowVectors: [[0.9, 1.2]])) == 1)
        #expect(index.searchOne(Matrix(rows: 0, columns: 2), k: 5).isEmpty)
        #expect(index.searchOne(Matrix(rowVectors: [[0.9, 1.2]]), k: 0).isEmpty)
        let results = index.searchOne(Matrix(rowVectors: [[0.9, 1.2]]), k: 5)
        #expect(results.map(\.index) == [1, 0])
        let noWords = ASMKIndex(vocabulary: VisualVocabulary(centroids: Matrix(rows: 0, columns: 2)))
        #expect(noWords.searchOne(Matrix(rowVectors: [[1, 2]]), k: 3).isEmpty)
        #expect(noWords.represent(Matrix(rowVectors: [[1, 2]]), multipleAssignment: 5).words.isEmpty)
    }

    @Test(arguments: [true, false])
    func fileRoundTripAndCorruption(binary: Bool) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("asmk-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let scene = try scene()
        let configuration = ASMKConfiguration(alpha: 2.5, threshold: 0.1, queryMultipleAssignment: 3, binary: binary, useIDF: true)
        let (index, images) = build(scene, configuration: configuration)
        let url = directory.appendingPathComponent("index.asmk")
        try index.write(to: url)
        let loaded = try ASMKIndex.load(contentsOf: url)
        #expect(loaded.configuration == configuration)
        #expect(loaded.vocabulary == index.vocabulary)
        #expect(loaded.imageCount == index.imageCount)
        for descriptors in images {
            let before = index.search([descriptors], k: 8)[0], after = loaded.search([descriptors], k: 8)[0]
            #expect(before.map(\.index) == after.map(\.index))
            #expect(before.map(\.score) == after.map(\.score))
        }

        let bytes = try [UInt8](Data(contentsOf: url))
        func code(of mutated: [UInt8]) -> ASMKError.Code? {
            let broken = directory.appendingPathComponent("broken")
            try? Data(mutated).write(to: broken)
            do { _ = try ASMKIndex.load(contentsOf: broken); return nil } catch { return error.code }
        }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x01
        #expect(code(of: flipped) == .checksumMismatch)
        for length in [0, 5, 14, 40, bytes.count / 2, bytes.count - 1] {
            let result = code(of: Array(bytes.prefix(length)))
            #expect(result == .truncated || result == .checksumMismatch || result == .badMagic, "length \(length)")
        }
        #expect(code(of: Array(VisualVocabularyBytes.header)) == .badMagic)
    }
}

/// A vocabulary file's magic is not an index's.
private enum VisualVocabularyBytes {
    static let header: [UInt8] = Array("LMASMKVO".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
}
