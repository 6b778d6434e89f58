/// One search hit: the row index of a database item and its score (higher is better).
public struct Neighbor: Sendable, Equatable, Hashable {
    public var index: Int
    public var score: Float

    public init(index: Int, score: Float) {
        self.index = index
        self.score = score
    }
}

/// The `k` largest scores in `scores`, by descending score, ties broken by the smaller index so
/// the result does not depend on evaluation order. NaN scores are never selected. `k` larger
/// than the number of scores returns them all.
public func topK(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [Neighbor] {
    precondition(k >= 0, "k must be non-negative")
    var accumulator = TopKAccumulator(capacity: k)
    accumulator.add(scores, firstIndex: 0)
    return accumulator.sorted()
}

/// A bounded min-heap keeping the best `capacity` (score, index) pairs seen so far.
///
/// The order is total — higher score first, then smaller index — so feeding the same pairs in
/// any order, or splitting them over several accumulators and merging, gives the same result.
/// That is what lets exact search process database blocks in parallel and still match a naive
/// loop exactly.
public struct TopKAccumulator: Sendable {
    /// The most pairs kept.
    public let capacity: Int
    // Structure of arrays: the scan over a score row touches only `threshold` until a candidate
    // qualifies; heap entries (root = worst kept) are touched only then.
    private var heapScores: [Float]
    private var heapIndices: [Int]
    /// Number of pairs kept so far.
    public private(set) var count: Int = 0

    public init(capacity: Int) {
        precondition(capacity >= 0, "Capacity must be non-negative")
        self.capacity = capacity
        // Storage grows with what is offered, not with the capacity: a ranking bounded by a whole
        // index's size costs memory only for the pairs actually seen.
        heapScores = []
        heapIndices = []
    }

    /// Offers every score of `scores`; element `i` has index `firstIndex + i`.
    public mutating func add(_ scores: UnsafeBufferPointer<Float>, firstIndex: Int) {
        guard capacity > 0 else { return }
        let capacity = self.capacity
        let needed = min(capacity, count + scores.count)
        if heapScores.count < needed {
            let grown = min(capacity, max(needed, 2 * heapScores.count))
            heapScores.append(contentsOf: repeatElement(0, count: grown - heapScores.count))
            heapIndices.append(contentsOf: repeatElement(0, count: grown - heapIndices.count))
        }
        var count = self.count
        heapScores.withUnsafeMutableBufferPointer { heapScores in
            heapIndices.withUnsafeMutableBufferPointer { heapIndices in
                // Anything strictly below the worst kept score cannot enter; `>=` also drops NaN.
                var threshold = count == capacity ? heapScores[0] : -Float.infinity
                for position in scores.indices {
                    let score = scores[position]
                    guard score >= threshold else { continue }
                    let index = firstIndex + position
                    if count < capacity {
                        Self.push(score: score, index: index, scores: heapScores, indices: heapIndices, count: &count)
                        if count == capacity { threshold = heapScores[0] }
                    } else if Self.isBetter(score, index, than: heapScores[0], heapIndices[0]) {
                        Self.replaceRoot(score: score, index: index, scores: heapScores, indices: heapIndices,
                                         count: count)
                        threshold = heapScores[0]
                    }
                }
            }
        }
        self.count = count
    }

    /// Offers one pair.
    public mutating func add(score: Float, index: Int) {
        withUnsafePointer(to: score) { pointer in
            add(UnsafeBufferPointer(start: pointer, count: 1), firstIndex: index)
        }
    }

    /// Offers every pair kept by `other`.
    public mutating func merge(_ other: TopKAccumulator) {
        for position in 0 ..< other.count {
            add(score: other.heapScores[position], index: other.heapIndices[position])
        }
    }

    /// The kept pairs, best first.
    public func sorted() -> [Neighbor] {
        var result = (0 ..< count).map { Neighbor(index: heapIndices[$0], score: heapScores[$0]) }
        result.sort { Self.isBetter($0.score, $0.index, than: $1.score, $1.index) }
        return result
    }

    @inline(__always)
    static func isBetter(_ score: Float, _ index: Int, than otherScore: Float, _ otherIndex: Int) -> Bool {
        score > otherScore || (score == otherScore && index < otherIndex)
    }

    private static func push(score: Float, index: Int, scores: UnsafeMutableBufferPointer<Float>,
                             indices: UnsafeMutableBufferPointer<Int>, count: inout Int) {
        // Sift up: parents must be worse than (or equal to) their children.
        var child = count
        count += 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard isBetter(scores[parent], indices[parent], than: score, index) else { break }
            scores[child] = scores[parent]
            indices[child] = indices[parent]
            child = parent
        }
        scores[child] = score
        indices[child] = index
    }

    private static func replaceRoot(score: Float, index: Int, scores: UnsafeMutableBufferPointer<Float>,
                                    indices: UnsafeMutableBufferPointer<Int>, count: Int) {
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            var worst = left
            let right = left + 1
            if right < count, isBetter(scores[left], indices[left], than: scores[right], indices[right]) {
                worst = right
            }
            guard isBetter(score, index, than: scores[worst], indices[worst]) else { break }
            scores[parent] = scores[worst]
            indices[parent] = indices[worst]
            parent = worst
        }
        scores[parent] = score
        indices[parent] = index
    }
}
