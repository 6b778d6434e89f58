/// What counts as a correct answer for one query of a retrieval benchmark.
public struct QueryGroundTruth: Sendable, Equatable {
    /// Database indices that count as relevant. Their count is the recall denominator, so positives that a
    /// truncated ranking never returns still lower the average precision.
    public var positives: [Int]
    /// Database indices that are neither right nor wrong (the query itself, ambiguous views); they are removed
    /// from the ranking before scoring, so returning them neither helps nor hurts.
    public var junk: [Int]

    public init(positives: [Int], junk: [Int] = []) {
        self.positives = positives
        self.junk = junk
    }
}

/// Retrieval scores in the conventions of the revisited Oxford/Paris benchmark.
public struct RetrievalScores: Sendable, Equatable {
    /// Mean of `averagePrecisions` over queries with at least one positive (NaN if there is none).
    public var meanAveragePrecision: Double
    /// Mean precision at each kappa over queries with at least one positive, with revisitop's convention that
    /// precision at k is measured at `min(k, position of the last retrieved positive)`.
    public var meanPrecisionAtK: [Int: Double]
    /// Per query, in query order; NaN for queries without positives.
    public var averagePrecisions: [Double]
    /// Per query, one value per kappa in the order the kappas were given; NaN for queries without positives.
    public var precisionsAtK: [[Double]]
    /// The number of queries with at least one positive, i.e. the denominator of the means.
    public var evaluatedQueryCount: Int

    public init(meanAveragePrecision: Double, meanPrecisionAtK: [Int: Double], averagePrecisions: [Double],
                precisionsAtK: [[Double]], evaluatedQueryCount: Int) {
        self.meanAveragePrecision = meanAveragePrecision
        self.meanPrecisionAtK = meanPrecisionAtK
        self.averagePrecisions = averagePrecisions
        self.precisionsAtK = precisionsAtK
        self.evaluatedQueryCount = evaluatedQueryCount
    }

    // NaN never equals itself, so compare bit patterns: two score sets are equal when they print the same.
    public static func == (lhs: RetrievalScores, rhs: RetrievalScores) -> Bool {
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        guard same(lhs.meanAveragePrecision, rhs.meanAveragePrecision),
              lhs.evaluatedQueryCount == rhs.evaluatedQueryCount,
              lhs.meanPrecisionAtK.keys.sorted() == rhs.meanPrecisionAtK.keys.sorted(),
              lhs.averagePrecisions.count == rhs.averagePrecisions.count,
              lhs.precisionsAtK.count == rhs.precisionsAtK.count else { return false }
        for (k, value) in lhs.meanPrecisionAtK where !same(value, rhs.meanPrecisionAtK[k] ?? .nan) { return false }
        for (a, b) in zip(lhs.averagePrecisions, rhs.averagePrecisions) where !same(a, b) { return false }
        for (rowA, rowB) in zip(lhs.precisionsAtK, rhs.precisionsAtK) {
            guard rowA.count == rowB.count else { return false }
            for (a, b) in zip(rowA, rowB) where !same(a, b) { return false }
        }
        return true
    }
}

/// Retrieval metrics of the revisited Oxford/Paris benchmark (`compute_ap`, `compute_map` in
/// filipradenovic/revisitop) and of the Google Landmarks v2 retrieval challenge (mAP@100).
public enum RetrievalMetrics {
    /// AP as revisitop's `compute_ap`: the area under the precision–recall curve by the trapezoid rule, where
    /// each positive found adds a recall step of `1 / positiveCount`.
    ///
    /// - Parameters:
    ///   - positiveRanks: 0-based positions, in the junk-removed ranking and in increasing order, of the
    ///     positives that were retrieved.
    ///   - positiveCount: all positives of the query, retrieved or not.
    /// - Complexity: O(`positiveRanks.count`).
    public static func averagePrecision(positiveRanks: [Int], positiveCount: Int) -> Double {
        precondition(positiveCount > 0, "average precision needs at least one positive")
        let recallStep = 1.0 / Double(positiveCount)
        var area = 0.0
        for (found, rank) in positiveRanks.enumerated() {
            // Precision just before and just after this positive; at rank 0 "before" is taken as 1.
            let precisionBefore = rank == 0 ? 1.0 : Double(found) / Double(rank)
            let precisionAfter = Double(found + 1) / Double(rank + 1)
            area += (precisionBefore + precisionAfter) * recallStep / 2.0
        }
        return area
    }

    /// mAP and mP@k exactly as revisitop's `compute_map`.
    ///
    /// Junk images are taken out of each ranking before positions are counted. Queries without positives get
    /// NaN and are left out of the means. A ranking may be truncated: positives it does not contain add
    /// nothing but still count in the recall denominator. Where the reference has no defined answer — a query
    /// with positives none of which is ranked (revisitop fails on `max` of an empty list) — precision at every
    /// k is 0, consistent with AP 0.
    ///
    /// - Parameters:
    ///   - rankings: `rankings[q]` lists database indices for query q, best first; it may be shorter than the
    ///     database.
    ///   - groundTruth: one entry per ranking.
    ///   - kappas: the k of mP@k, each ≥ 1.
    /// - Complexity: O(Σ ranking lengths + Σ ground-truth sizes).
    public static func evaluate(rankings: [[Int]], groundTruth: [QueryGroundTruth],
                                kappas: [Int] = [1, 5, 10]) -> RetrievalScores {
        precondition(rankings.count == groundTruth.count, "one ranking per query ground truth")
        precondition(kappas.allSatisfy { $0 >= 1 }, "kappas must be at least 1")
        var averagePrecisions = [Double](repeating: .nan, count: rankings.count)
        var precisionsAtK = [[Double]](repeating: [Double](repeating: .nan, count: kappas.count),
                                       count: rankings.count)
        var sumAveragePrecision = 0.0
        var sumPrecisionAtK = [Double](repeating: 0, count: kappas.count)
        var evaluated = 0

        for query in rankings.indices {
            let truth = groundTruth[query]
            if truth.positives.isEmpty { continue }
            evaluated += 1
            let ranks = positiveRanksAfterJunkRemoval(ranking: rankings[query], groundTruth: truth)
            let ap = averagePrecision(positiveRanks: ranks, positiveCount: truth.positives.count)
            averagePrecisions[query] = ap
            sumAveragePrecision += ap
            var row = [Double](repeating: 0, count: kappas.count)
            if let lastRank = ranks.last {
                let lastPosition = lastRank + 1
                for (j, k) in kappas.enumerated() {
                    let cutoff = min(lastPosition, k)
                    var hits = 0
                    for rank in ranks {  // ranks increase, so stop at the first one past the cutoff
                        if rank + 1 > cutoff { break }
                        hits += 1
                    }
                    row[j] = Double(hits) / Double(cutoff)
                }
            }
            precisionsAtK[query] = row
            for j in kappas.indices { sumPrecisionAtK[j] += row[j] }
        }

        let denominator = Double(evaluated)
        var meanPrecisionAtK: [Int: Double] = [:]
        for (j, k) in kappas.enumerated() { meanPrecisionAtK[k] = sumPrecisionAtK[j] / denominator }
        return RetrievalScores(meanAveragePrecision: sumAveragePrecision / denominator,
                               meanPrecisionAtK: meanPrecisionAtK, averagePrecisions: averagePrecisions,
                               precisionsAtK: precisionsAtK, evaluatedQueryCount: evaluated)
    }

    /// 0-based positions of the positives after junk removal, following revisitop's merge: a positive moves
    /// up by the number of junk entries at strictly earlier positions (an index listed as both positive and
    /// junk therefore stays a positive, as in the reference).
    static func positiveRanksAfterJunkRemoval(ranking: [Int], groundTruth: QueryGroundTruth) -> [Int] {
        let positives = Set(groundTruth.positives)
        let junk = Set(groundTruth.junk)
        var ranks: [Int] = []
        var junkSeen = 0
        for (position, image) in ranking.enumerated() {
            if positives.contains(image) { ranks.append(position - junkSeen) }
            if junk.contains(image) { junkSeen += 1 }
        }
        return ranks
    }

    /// GLDv2 retrieval mAP@100 as the challenge's reference (`MeanAveragePrecision` in tensorflow/models
    /// delf): per query, Σ over the first 100 predictions of precision at each new correct image, divided by
    /// `min(relevant count, 100)`; repeated predictions are skipped but still occupy their position.
    ///
    /// The mean runs over queries with a non-empty solution, including those without predictions (AP 0).
    /// Queries whose solution is empty and predictions for queries absent from the solution are ignored — the
    /// challenge marks non-landmark queries "Ignored", so the reference never sees them.
    /// - Returns: NaN when no query has a non-empty solution.
    public static func meanAveragePrecisionAt100(predictions: [String: [String]],
                                                 solution: [String: [String]]) -> Double {
        let maximumPredictions = 100
        var sum = 0.0
        var queries = 0
        for (query, relevantList) in solution where !relevantList.isEmpty {
            queries += 1
            guard let predicted = predictions[query] else { continue }
            let relevant = Set(relevantList)
            var seen = Set<String>()
            var correct = 0
            var ap = 0.0
            for (position, image) in predicted.prefix(maximumPredictions).enumerated()
            where seen.insert(image).inserted && relevant.contains(image) {
                correct += 1
                ap += Double(correct) / Double(position + 1)
            }
            // The reference divides by the length of the solution list, duplicates included.
            sum += ap / Double(min(relevantList.count, maximumPredictions))
        }
        return sum / Double(queries)
    }
}
