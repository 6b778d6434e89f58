import Testing
import LandmarkLinearAlgebra

/// Reference: full sort by (score descending, index ascending).
private func naiveTopK(_ scores: [Float], k: Int) -> [Neighbor] {
    let all = scores.enumerated().filter { !$0.element.isNaN }.map { Neighbor(index: $0.offset, score: $0.element) }
    let sorted = all.sorted { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }
    return Array(sorted.prefix(k))
}

@Test func topKMatchesFullSort() {
    var generator = SeededGenerator(seed: 21)
    for count in [0, 1, 5, 100, 1000] {
        // Few distinct values force many ties.
        let scores = (0 ..< count).map { _ in Float(Int.random(in: 0 ..< 7, using: &generator)) }
        for k in [0, 1, 3, 10, count, count + 5] {
            let actual = scores.withUnsafeBufferPointer { topK($0, k: k) }
            #expect(actual == naiveTopK(scores, k: k), "count \(count) k \(k)")
        }
    }
}

@Test func topKSkipsNaNAndKeepsInfinities() {
    let scores: [Float] = [.nan, 1, -.infinity, .infinity, .nan, 0]
    let result = scores.withUnsafeBufferPointer { topK($0, k: 6) }
    #expect(result.map(\.index) == [3, 1, 5, 2])
}

@Test func accumulatorResultDoesNotDependOnOrderOrSplitting() {
    var generator = SeededGenerator(seed: 22)
    let scores = (0 ..< 500).map { _ in Float(Int.random(in: 0 ..< 20, using: &generator)) }
    let expected = naiveTopK(scores, k: 25)
    // Two accumulators fed disjoint halves in reverse order, then merged.
    var first = TopKAccumulator(capacity: 25), second = TopKAccumulator(capacity: 25)
    scores.withUnsafeBufferPointer { buffer in
        second.add(UnsafeBufferPointer(rebasing: buffer[250...]), firstIndex: 250)
        first.add(UnsafeBufferPointer(rebasing: buffer[..<250]), firstIndex: 0)
    }
    second.merge(first)
    #expect(second.sorted() == expected)
    var single = TopKAccumulator(capacity: 25)
    for index in scores.indices.reversed() { single.add(score: scores[index], index: index) }
    #expect(single.sorted() == expected)
    #expect(single.count == 25)
}
