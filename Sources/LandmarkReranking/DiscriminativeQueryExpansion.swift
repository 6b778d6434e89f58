import LandmarkLinearAlgebra

/// DQE: linear SVM (hinge loss, L2 regularised, bias; deterministic dual coordinate descent as LIBLINEAR, fixed
/// iteration cap and tolerance) trained per query; re-ranks the top `depth` of a ranking by w·x + b.
///
/// Discriminative query expansion (METHODS.md §3; Arandjelović & Zisserman, CVPR 2012): instead of averaging
/// the query with its verified results, learn from them which directions of the descriptor space separate
/// this landmark from the rest of the index, with low-ranked images as the rest. The classifier's score then
/// replaces the plain similarity for the head of the ranking.
public struct DiscriminativeQueryExpansion: Sendable, Equatable {
    /// R: how many of the top results are re-ranked by the classifier.
    public var depth: Int
    /// Negatives are taken from ranking positions at or after this one, far enough down to be
    /// unrelated images.
    public var negativesFrom: Int
    /// How many negatives, spread evenly over the available positions so that they sample the whole
    /// tail rather than only its start.
    public var negatives: Int
    /// When no result is known to match, this many top results stand in as positives.
    public var fallbackPositives: Int
    /// C of the SVM.
    public var regularisation: Float

    /// - Precondition: all counts non-negative, `regularisation > 0`.
    public init(depth: Int = 100, negativesFrom: Int = 200, negatives: Int = 200, fallbackPositives: Int = 3,
                regularisation: Float = 1) {
        precondition(depth >= 0 && negativesFrom >= 0 && negatives >= 0 && fallbackPositives >= 0,
                     "DQE's depth and counts must be non-negative")
        precondition(regularisation > 0, "DQE's regularisation C must be positive")
        self.depth = depth
        self.negativesFrom = negativesFrom
        self.negatives = negatives
        self.fallbackPositives = fallbackPositives
        self.regularisation = regularisation
    }

    /// positives: database rows known to match (e.g. spatially verified); the query vector is always a positive.
    /// If the ranking is too short for negatives, take them from the bottom half of the ranking; if still no
    /// negatives, return the ranking unchanged. Items after `depth` keep their order.
    ///
    /// A positive is never used as a negative. Among the re-ranked items, equal scores keep their original order.
    /// - Precondition: `query.count == database.columns`; every index in `ranking` and `positives` is a row
    ///   of `database`.
    /// - Complexity: O((positives + negatives) × dimension) per SVM pass, plus O(depth × dimension) scoring.
    public func rerank(query: [Float], database: Matrix, ranking: [Int], positives: [Int]) -> [Int] {
        precondition(query.count == database.columns,
                     "The query has dimension \(query.count), the database \(database.columns)")
        let depth = min(self.depth, ranking.count)
        guard depth > 1 else { return ranking }
        var positiveRows: [Int] = []
        var seen = Set<Int>()
        for row in positives.isEmpty ? Array(ranking.prefix(fallbackPositives)) : positives where seen.insert(row).inserted {
            positiveRows.append(row)
        }
        let negativeRows = chooseNegatives(ranking, excluding: seen)
        guard !negativeRows.isEmpty else { return ranking }

        let dimension = database.columns
        var storage = query
        storage.reserveCapacity((1 + positiveRows.count + negativeRows.count) * dimension)
        for row in positiveRows + negativeRows {
            precondition(row >= 0 && row < database.rows, "Row \(row) is not a database row (0..<\(database.rows))")
            storage.append(contentsOf: database.storage[row * dimension ..< (row + 1) * dimension])
        }
        let samples = Matrix(rows: 1 + positiveRows.count + negativeRows.count, columns: dimension, storage: storage)
        let labels = [Bool](repeating: true, count: 1 + positiveRows.count)
            + [Bool](repeating: false, count: negativeRows.count)
        let classifier = LinearSVM.train(samples: samples, labels: labels, regularisation: regularisation)

        let head = Array(ranking.prefix(depth))
        let scores = database.storage.withUnsafeBufferPointer { buffer in
            head.map { row in
                precondition(row >= 0 && row < database.rows, "Row \(row) is not a database row (0..<\(database.rows))")
                return classifier.score(UnsafeBufferPointer(rebasing: buffer[row * dimension ..< (row + 1) * dimension]))
            }
        }
        let order = head.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        return order.map { head[$0] } + ranking.dropFirst(depth)
    }

    /// Up to `negatives` rows from positions ≥ `negativesFrom`, or from the bottom half when the ranking
    /// does not reach that far, evenly spread and never a positive.
    func chooseNegatives(_ ranking: [Int], excluding positives: Set<Int>) -> [Int] {
        guard negatives > 0 else { return [] }
        let start = ranking.count > negativesFrom ? negativesFrom : ranking.count / 2
        let pool = ranking[start...].filter { !positives.contains($0) }
        guard pool.count > negatives else { return pool }
        return (0 ..< negatives).map { pool[$0 * pool.count / negatives] }
    }
}
