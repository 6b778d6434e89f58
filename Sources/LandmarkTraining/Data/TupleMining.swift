import Foundation
import LandmarkLinearAlgebra

/// One training tuple (cirtorch's convention): a query, a matching positive, and non-matching negatives,
/// by image index in the ``TrainingSet``.
public struct TrainingTuple: Sendable, Equatable, Codable {
    public var query: Int
    public var positive: Int
    public var negatives: [Int]

    public init(query: Int, positive: Int, negatives: [Int]) {
        self.query = query
        self.positive = positive
        self.negatives = negatives
    }

    /// Query, positive, negatives: the order the contrastive and triplet losses expect.
    public var images: [Int] { [query, positive] + negatives }
    /// cirtorch's target vector: −1 for the query, 1 for the positive, 0 for each negative.
    public var lossLabels: [Int] { [-1, 1] + [Int](repeating: 0, count: negatives.count) }
}

/// Hard-negative mining as cirtorch's TuplesDataset does it each epoch (METHODS.md §7, §9): a random
/// sample of query–positive pairs, a random pool of images, and for every query the pool images
/// nearest to it by the *current* descriptors that are not of its class — at most one per class
/// ("diverse"), so that one near-duplicate landmark cannot fill every negative slot.
public struct TupleMining: Sendable, Equatable, Codable {
    /// Tuples per epoch (cirtorch's `query_size`, 2000); capped by the pairs available.
    public var queriesPerEpoch: Int
    /// Images the negatives are mined from (cirtorch's `pool_size`, 20000); capped by the set.
    public var poolSize: Int
    /// Negatives per tuple (cirtorch's `neg_num`, 5).
    public var negativesPerTuple: Int

    public init(queriesPerEpoch: Int = 2000, poolSize: Int = 20000, negativesPerTuple: Int = 5) {
        self.queriesPerEpoch = max(1, queriesPerEpoch)
        self.poolSize = max(1, poolSize)
        self.negativesPerTuple = max(0, negativesPerTuple)
    }

    /// This epoch's query–positive pairs and negative pool, drawn without replacement.
    public func draw(from set: TrainingSet, generator: inout SplitMix64) -> (pairs: [TrainingSet.QueryPositivePair], pool: [Int]) {
        let candidates = set.candidatePairs
        let pairs = Self.sample(candidates.count, count: min(queriesPerEpoch, candidates.count), generator: &generator)
            .map { candidates[$0] }
        let pool = Self.sample(set.count, count: min(poolSize, set.count), generator: &generator).sorted()
        return (pairs, pool)
    }

    /// Completes each pair with its hardest diverse negatives.
    /// - Parameters:
    ///   - descriptors: L2-normalised descriptors by image index, for at least every query and pool image
    ///     (others may be empty).
    public func tuples(pairs: [TrainingSet.QueryPositivePair], pool: [Int], descriptors: [[Float]],
                       set: TrainingSet) -> [TrainingTuple] {
        guard let dimension = pairs.first.map({ descriptors[$0.query].count }), dimension > 0, !pool.isEmpty,
              negativesPerTuple > 0 else {
            return pairs.map { TrainingTuple(query: $0.query, positive: $0.positive, negatives: []) }
        }
        let queryMatrix = Matrix(rowVectors: pairs.map { descriptors[$0.query] })
        let poolMatrix = Matrix(rowVectors: pool.map { descriptors[$0] })
        let similarities = queryMatrix.multiplied(byTransposeOf: poolMatrix)
        return pairs.enumerated().map { row, pair in
            let queryClass = set.labels[pair.query]
            let order = (0..<pool.count).sorted { a, b in
                let sa = similarities[row, a], sb = similarities[row, b]
                return sa != sb ? sa > sb : pool[a] < pool[b]
            }
            var negatives: [Int] = [], usedClasses: Set<Int> = []
            for column in order {
                let image = pool[column]
                guard image != pair.query, image != pair.positive else { continue }
                let label = set.labels[image]
                if let label {
                    if label == queryClass || usedClasses.contains(label) { continue }
                    usedClasses.insert(label)
                }
                negatives.append(image)
                if negatives.count == negativesPerTuple { break }
            }
            return TrainingTuple(query: pair.query, positive: pair.positive, negatives: negatives)
        }
    }

    /// `count` distinct indices below `total`, in random order (a partial Fisher–Yates shuffle).
    static func sample(_ total: Int, count: Int, generator: inout SplitMix64) -> [Int] {
        var indices = Array(0..<total)
        for position in 0..<min(count, total) {
            let pick = position + Int(generator.next() % UInt64(total - position))
            indices.swapAt(position, pick)
        }
        return Array(indices.prefix(count))
    }
}

/// Class-balanced batches for the cosine-softmax losses: each batch takes a few classes and a few
/// images of each, so that every batch has positives for the margin to act on.
public struct ClassBalancedBatches: Sendable, Equatable, Codable {
    public var imagesPerBatch: Int
    public var imagesPerClass: Int

    public init(imagesPerBatch: Int = 32, imagesPerClass: Int = 4) {
        self.imagesPerBatch = max(1, imagesPerBatch)
        self.imagesPerClass = max(1, imagesPerClass)
    }

    /// One epoch: every labelled image once, grouped so that batches hold `imagesPerClass` images of a
    /// class where the class has them.
    public func epoch(_ set: TrainingSet, generator: inout SplitMix64) -> [[Int]] {
        var chunks: [[Int]] = []
        for members in set.membersByClass where !members.isEmpty {
            let shuffled = TupleMining.sample(members.count, count: members.count, generator: &generator).map { members[$0] }
            stride(from: 0, to: shuffled.count, by: imagesPerClass).forEach {
                chunks.append(Array(shuffled[$0..<min($0 + imagesPerClass, shuffled.count)]))
            }
        }
        let order = TupleMining.sample(chunks.count, count: chunks.count, generator: &generator)
        var batches: [[Int]] = [], current: [Int] = []
        for chunk in order.map({ chunks[$0] }) {
            current.append(contentsOf: chunk)
            if current.count >= imagesPerBatch {
                batches.append(current)
                current = []
            }
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}
