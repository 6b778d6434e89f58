import LandmarkLinearAlgebra

/// DQE: linear SVM (hinge loss, L2 regularised, bias; deterministic dual coordinate descent as LIBLINEAR, fixed
/// iteration cap and tolerance) trained per query; re-ranks the top `depth` of a ranking by w·x + b.
///
/// Discriminative query expansion (METHODS.md §3; Arandjelović & Zisserman, CVPR 2012): instead of averaging
/// the query with its verified results, learn from them which directions of the descriptor space separate
/// this landmark from the rest of the index, with far-away images as the rest. The positives are the query
/// and the spatially verified results only: an earlier version let the top three unverified results stand in
/// when nothing was verified, and on unseen photos that taught the classifier the wrong landmark for every
/// query without a match (−5.4 mAP). Verification is the stronger evidence, so verified results stay ahead
/// of unverified ones; the classifier orders each group.
public struct DiscriminativeQueryExpansion: Sendable, Equatable {
    /// R: how many of the top results are re-ranked by the classifier.
    public var depth: Int
    /// Negatives are taken from ranking positions at or after this one, far enough down to be
    /// unrelated images.
    public var negativesFrom: Int
    /// How many negatives, spread evenly over the available positions so that they sample the whole
    /// tail rather than only its start.
    public var negatives: Int
    /// C of the SVM.
    public var regularisation: Float
    /// Seed of the fixed random sample of the index that supplies negatives when the ranking is cut short.
    public var seed: UInt64

    /// - Precondition: all counts non-negative, `regularisation > 0`.
    public init(depth: Int = 100, negativesFrom: Int = 200, negatives: Int = 200, regularisation: Float = 1,
                seed: UInt64 = 0x5EED_D0E) {
        precondition(depth >= 0 && negativesFrom >= 0 && negatives >= 0, "DQE's depth and counts must be non-negative")
        precondition(regularisation > 0, "DQE's regularisation C must be positive")
        self.depth = depth
        self.negativesFrom = negativesFrom
        self.negatives = negatives
        self.regularisation = regularisation
        self.seed = seed
    }

    /// Re-ranks the top `depth` of `ranking`. `positives` are database rows spatially verified against the
    /// query; the query vector is always a positive. With no verified row, or no row to serve as a negative,
    /// the ranking is returned unchanged. Items after `depth` keep their order; among the re-ranked items,
    /// verified rows come first, and equal scores keep their original order.
    /// - Parameter excluded: a database row that must never be used (the query's own row).
    /// - Precondition: `query.count == database.columns`; every index in `ranking` and `positives` is a row
    ///   of `database`.
    /// - Complexity: O((positives + negatives) × dimension) per SVM pass, plus O(depth × dimension) scoring.
    public func rerank(query: [Float], database: Matrix, ranking: [Int], positives: [Int], excluded: Int? = nil) -> [Int] {
        precondition(query.count == database.columns,
                     "The query has dimension \(query.count), the database \(database.columns)")
        let depth = min(self.depth, ranking.count)
        guard depth > 1, !positives.isEmpty else { return ranking }
        var positiveRows: [Int] = []
        var seen = Set<Int>()
        for row in positives where seen.insert(row).inserted { positiveRows.append(row) }
        var avoided = seen
        if let excluded { avoided.insert(excluded) }
        let negativeRows = chooseNegatives(ranking, databaseRows: database.rows, excluding: avoided)
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
        let order = head.indices.sorted { a, b in
            let verifiedA = seen.contains(head[a]), verifiedB = seen.contains(head[b])
            if verifiedA != verifiedB { return verifiedA }
            return scores[a] != scores[b] ? scores[a] > scores[b] : a < b
        }
        return order.map { head[$0] } + ranking.dropFirst(depth)
    }

    /// Up to `negatives` rows that are surely far from the query, never one of `excluding`:
    /// - positions ≥ `negativesFrom` of the ranking, evenly spread, when the ranking reaches that far;
    /// - otherwise the index rows the ranking never reached (a pipeline cut it short), since the head of
    ///   a short ranking is where the landmark's own images are: a fixed random sample when they are
    ///   plentiful;
    /// - when those are too few (the ranking is nearly the whole of a small index), the bottom half of the
    ///   ranking makes up the rest.
    func chooseNegatives(_ ranking: [Int], databaseRows: Int, excluding avoided: Set<Int>) -> [Int] {
        guard negatives > 0 else { return [] }
        if ranking.count > negativesFrom {
            return evenlySpread(ranking[negativesFrom...].filter { !avoided.contains($0) })
        }
        let ranked = Set(ranking)
        let unranked = databaseRows - ranked.count
        if unranked > 4 * negatives {
            var generator = SplitMix64(seed: seed)
            var chosen: [Int] = []
            var taken = Set<Int>()
            var attempts = 0
            while chosen.count < negatives, attempts < 64 * negatives {
                attempts += 1
                let row = Int(generator.next() % UInt64(databaseRows))
                if !ranked.contains(row), !avoided.contains(row), taken.insert(row).inserted { chosen.append(row) }
            }
            if chosen.count == negatives { return chosen.sorted() }
        }
        let outside = (0 ..< databaseRows).filter { !ranked.contains($0) && !avoided.contains($0) }
        if outside.count >= negatives { return evenlySpread(outside) }
        let bottomHalf = ranking[(ranking.count / 2)...].filter { !avoided.contains($0) }
        return outside + evenlySpread(bottomHalf, limit: negatives - outside.count)
    }

    private func evenlySpread(_ pool: [Int], limit: Int? = nil) -> [Int] {
        let count = limit ?? negatives
        guard pool.count > count else { return pool }
        return (0 ..< count).map { pool[$0 * pool.count / count] }
    }
}
