/// Discriminative re-ranking with predicted labels (METHODS §3).
///
/// With a labelled train set every query and index image gets a predicted landmark label (kNN recognition,
/// METHODS.md §4). Similarity search alone misses images of the same landmark seen from far away or at night;
/// the labels pull them up (sort-step) and bring in those similarity never retrieved (insert-step).
/// Labels are given as closures returning `nil` for "no landmark", which never matches.
public enum DiscriminativeReranking {
    /// Sort-step: within the first `depth` items, those whose label equals `queryLabel` move ahead, order kept in both groups.
    /// - Complexity: O(min(depth, ranking.count)) label look-ups.
    public static func sortStep(_ ranking: [Int], depth: Int, queryLabel: String, label: (Int) -> String?) -> [Int] {
        let depth = max(0, min(depth, ranking.count))
        let head = ranking.prefix(depth)
        let matching = head.map { label($0) == queryLabel }
        var result: [Int] = []
        result.reserveCapacity(ranking.count)
        for (item, matches) in zip(head, matching) where matches { result.append(item) }
        for (item, matches) in zip(head, matching) where !matches { result.append(item) }
        result.append(contentsOf: ranking.dropFirst(depth))
        return result
    }

    /// Insert-step: items with `queryLabel` that are NOT among the first `depth` of `ranking` (either further down or
    /// absent from it altogether) are placed right after the block of same-label items at the head (i.e. after sort-step's
    /// moved block, which this function assumes is already at the head), ordered by `similarity` descending (ties by index);
    /// they are removed from their old positions; everything else keeps its order. `candidates` = all items carrying queryLabel.
    ///
    /// Items further down the ranking with `queryLabel` are inserted even if `candidates` omits them. The head
    /// block is the run of leading items labelled `queryLabel`, never longer than `depth`.
    /// - Complexity: O(ranking + candidates) plus sorting the inserted items.
    public static func insertStep(_ ranking: [Int], depth: Int, queryLabel: String, candidates: [Int],
                                  label: (Int) -> String?, similarity: (Int) -> Float) -> [Int] {
        let depth = max(0, min(depth, ranking.count))
        var block = 0
        while block < depth, label(ranking[block]) == queryLabel { block += 1 }
        var retrieved = Set(ranking.prefix(depth))
        var inserted: [Int] = []
        for item in candidates where retrieved.insert(item).inserted { inserted.append(item) }
        for item in ranking.dropFirst(depth) where label(item) == queryLabel && retrieved.insert(item).inserted {
            inserted.append(item)
        }
        guard !inserted.isEmpty else { return ranking }
        // NaN would break the sort's ordering; it ranks last instead.
        let similarities = inserted.map { item -> Float in
            let value = similarity(item)
            return value.isNaN ? -.infinity : value
        }
        let order = inserted.indices.sorted {
            similarities[$0] != similarities[$1] ? similarities[$0] > similarities[$1] : inserted[$0] < inserted[$1]
        }
        let insertedSet = Set(inserted)
        var result = Array(ranking.prefix(block))
        result.reserveCapacity(ranking.count + inserted.count)
        result.append(contentsOf: order.map { inserted[$0] })
        result.append(contentsOf: ranking.dropFirst(block).filter { !insertedSet.contains($0) })
        return result
    }

    /// Both steps in order.
    public static func rerank(_ ranking: [Int], depth: Int, queryLabel: String, candidates: [Int],
                              label: (Int) -> String?, similarity: (Int) -> Float) -> [Int] {
        insertStep(sortStep(ranking, depth: depth, queryLabel: queryLabel, label: label), depth: depth,
                   queryLabel: queryLabel, candidates: candidates, label: label, similarity: similarity)
    }
}
