import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
@testable import LandmarkPipeline
import LandmarkRecognition
import Testing

/// GLDv2-style recognition on a synthetic million-image train index: the rankings searched are as deep
/// as K labelled neighbours need, not as long as the index, so memory is O(queries × K).
@Suite struct RecognitionDepthTests {
    @Test("a 1M-image index: K labelled neighbours found at a depth of a few K, equal to those of a full ranking")
    func millionImageIndex() throws {
        let count = 1_000_000, dimension = 8, queries = 200, neighbours = 5
        var random = SplitMix64(seed: 5)
        var database = Matrix(rows: count, columns: dimension)
        for index in database.storage.indices { database.storage[index] = Float(random.nextUnit() - 0.5) }
        database.normalizeRows()
        let queryRows = Matrix(stacking: (0 ..< queries).map { database.row($0 * 4999) }, dimension: dimension)
        let identifiers = (0 ..< count).map { "train/\($0).jpg" }
        // Every third image labelled, as in a train set with unlabelled extras.
        var labelOfImage: [String: String] = [:]
        for row in stride(from: 0, to: count, by: 3) { labelOfImage[identifiers[row]] = "landmark-\(row % 1000)" }
        let labels = LandmarkLabels(labelOfImage)
        let index = FlatIndex(rows: DatabaseRows(database))

        let (lists, depth) = IndexRecognition.labelledNeighbours(queryRows, index: index, parameters: SearchParameters(),
                                                                 identifiers: identifiers, labels: labels, neighbours: neighbours)
        // Labels on a third of the images: about 3K results hold K labelled ones; doubling at most a few times.
        #expect(depth <= 8 * 3 * neighbours + 8 * neighbours)
        let deep = index.search(queryRows, k: 2000)
        for (query, hits) in deep.enumerated() {
            let expected = hits.compactMap { hit -> String? in labels.label(of: identifiers[hit.index]) != nil ? identifiers[hit.index] : nil }
            #expect(lists[query].map(\.image) == Array(expected.prefix(neighbours)))
        }
    }

    @Test("when every image is labelled the depth is K; with no labels there is nothing to search")
    func depthBounds() {
        var database = Matrix(rows: 500, columns: 4)
        var random = SplitMix64(seed: 9)
        for index in database.storage.indices { database.storage[index] = Float(random.nextUnit()) }
        database.normalizeRows()
        let identifiers = (0 ..< 500).map { "\($0).jpg" }
        let everything = LandmarkLabels(Dictionary(uniqueKeysWithValues: identifiers.map { ($0, "x") }))
        let index = FlatIndex(rows: DatabaseRows(database))
        let queries = Matrix(stacking: [database.row(0), database.row(7)], dimension: 4)
        let all = IndexRecognition.labelledNeighbours(queries, index: index, parameters: SearchParameters(), identifiers: identifiers,
                                                      labels: everything, neighbours: 3)
        #expect(all.depth == 6)
        #expect(all.lists.map(\.count) == [3, 3])
        let none = IndexRecognition.labelledNeighbours(queries, index: index, parameters: SearchParameters(), identifiers: identifiers,
                                                       labels: LandmarkLabels([:]), neighbours: 3)
        #expect(none.depth == 0)
        #expect(none.lists.map(\.count) == [0, 0])
        // Only one labelled image, far down: found by deepening to the whole index.
        let one = LandmarkLabels(["499.jpg": "y"])
        let found = IndexRecognition.labelledNeighbours(queries, index: index, parameters: SearchParameters(), identifiers: identifiers,
                                                        labels: one, neighbours: 3)
        #expect(found.lists.map { $0.map(\.image) } == [["499.jpg"], ["499.jpg"]])
    }
}
