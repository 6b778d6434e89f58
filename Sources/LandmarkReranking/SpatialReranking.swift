/// Moves spatially verified results ahead (METHODS.md §3 "spatial verification re-ranking"): among the
/// top `depth` results, those with at least the verifier's minimum inliers come first, ordered by inliers,
/// then by their original rank; everything else keeps its order.
public enum SpatialReranking {
    public static func rerank(_ ranking: [Int], depth: Int, inliers: (Int) -> Int) -> [Int] {
        let head = Array(ranking.prefix(depth))
        let counts = head.map(inliers)
        let verified = head.indices.filter { counts[$0] > 0 }
            .sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
        let verifiedSet = Set(verified)
        let rest = head.indices.filter { !verifiedSet.contains($0) }
        return verified.map { head[$0] } + rest.map { head[$0] } + ranking.dropFirst(depth)
    }
}
