/// Score fusion (METHODS.md §3): the head of a ranking re-ordered by a weighted sum of two similarities
/// of the query to each result — the global descriptor's and the local features' ASMK score — each first
/// normalised to [0, 1] over that head (min–max), since the two live on unrelated scales.
///
/// The global descriptor sees the whole scene; ASMK counts matching local patterns. They fail on different
/// images (a night view, a partial view), so their sum ranks better than either when both are reasonable.
public enum ScoreFusion {
    /// The top `depth` of `ranking` by (1 − weight)·global + weight·local, both min–max normalised over
    /// those rows (a constant score normalises to 0); ties keep the original order; the rest is unchanged.
    /// - Precondition: `0 ≤ weight ≤ 1`.
    public static func rerank(_ ranking: [Int], depth: Int, weight: Float, global: (Int) -> Float,
                              local: (Int) -> Float) -> [Int] {
        precondition((0 ... 1).contains(weight), "the fusion weight must lie in [0, 1]")
        let head = Array(ranking.prefix(max(0, depth)))
        guard head.count > 1 else { return ranking }
        let fused = zip(normalised(head.map(global)), normalised(head.map(local))).map { (1 - weight) * $0 + weight * $1 }
        let order = head.indices.sorted { fused[$0] != fused[$1] ? fused[$0] > fused[$1] : $0 < $1 }
        return order.map { head[$0] } + ranking.dropFirst(head.count)
    }

    /// Min–max normalisation to [0, 1]; non-finite values count as the minimum.
    static func normalised(_ values: [Float]) -> [Float] {
        let finite = values.filter(\.isFinite)
        guard let low = finite.min(), let high = finite.max(), high > low else { return values.map { _ in 0 } }
        return values.map { $0.isFinite ? ($0 - low) / (high - low) : 0 }
    }
}
