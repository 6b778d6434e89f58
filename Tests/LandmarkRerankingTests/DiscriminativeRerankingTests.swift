import LandmarkReranking
import Testing

@Suite struct DiscriminativeRerankingTests {
    // Items 0–19; landmark "a" on 2, 5, 7, 12, 15, 30 (30 never retrieved), "b" on 1, 3; 9 has no label.
    let labels: [Int: String] = [2: "a", 5: "a", 7: "a", 12: "a", 15: "a", 30: "a", 1: "b", 3: "b"]
    let candidates = [2, 5, 7, 12, 15, 30]
    let ranking = [9, 2, 1, 5, 3, 0, 7, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16]
    let similarity: [Int: Float] = [12: 0.3, 15: 0.5, 30: 0.4]

    @Test func sortStepMovesSameLabelItemsInsideTheDepthKeepingBothOrders() {
        let sorted = DiscriminativeReranking.sortStep(ranking, depth: 8, queryLabel: "a") { labels[$0] }
        #expect(sorted == [2, 5, 7, 9, 1, 3, 0, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16])
        // Depth beyond the ranking: everything is in the head.
        let whole = DiscriminativeReranking.sortStep(ranking, depth: 100, queryLabel: "a") { labels[$0] }
        #expect(whole == [2, 5, 7, 12, 15, 9, 1, 3, 0, 4, 6, 8, 10, 11, 13, 14, 16])
        #expect(DiscriminativeReranking.sortStep(ranking, depth: 3, queryLabel: "a") { labels[$0] }
            == [2, 9, 1] + ranking.dropFirst(3))
        #expect(DiscriminativeReranking.sortStep(ranking, depth: 0, queryLabel: "a") { labels[$0] } == ranking)
        #expect(DiscriminativeReranking.sortStep(ranking, depth: 8, queryLabel: "z") { labels[$0] } == ranking)
        #expect(DiscriminativeReranking.sortStep([], depth: 8, queryLabel: "a") { labels[$0] } == [])
    }

    @Test func insertStepPlacesMissingSameLabelItemsAfterTheBlockBySimilarity() {
        let sorted = [2, 5, 7, 9, 1, 3, 0, 4, 6, 8, 10, 11, 12, 13, 14, 15, 16]
        let inserted = DiscriminativeReranking.insertStep(sorted, depth: 8, queryLabel: "a", candidates: candidates,
                                                          label: { labels[$0] }, similarity: { similarity[$0] ?? 0 })
        // 15 (0.5), 30 (0.4, absent from the ranking), 12 (0.3) after the block [2, 5, 7]; 12 and 15 leave their places.
        #expect(inserted == [2, 5, 7, 15, 30, 12, 9, 1, 3, 0, 4, 6, 8, 10, 11, 13, 14, 16])
        // Ties in similarity go to the smaller index.
        let tied = DiscriminativeReranking.insertStep(sorted, depth: 8, queryLabel: "a", candidates: candidates,
                                                      label: { labels[$0] }, similarity: { _ in 1 })
        #expect(tied == [2, 5, 7, 12, 15, 30, 9, 1, 3, 0, 4, 6, 8, 10, 11, 13, 14, 16])
        // Nothing missing: unchanged.
        let complete = DiscriminativeReranking.insertStep(sorted, depth: 8, queryLabel: "a", candidates: [2, 5],
                                                          label: { $0 == 2 || $0 == 5 ? "a" : nil }, similarity: { _ in 0 })
        #expect(complete == sorted)
        // No block at the head: inserted at the very top.
        let noBlock = DiscriminativeReranking.insertStep([9, 1, 30], depth: 2, queryLabel: "a", candidates: [30, 40],
                                                         label: { labels[$0] }, similarity: { Float($0) })
        #expect(noBlock == [40, 30, 9, 1])
    }

    @Test func rerankIsSortThenInsert() {
        let reranked = DiscriminativeReranking.rerank(ranking, depth: 8, queryLabel: "a", candidates: candidates,
                                                      label: { labels[$0] }, similarity: { similarity[$0] ?? 0 })
        #expect(reranked == [2, 5, 7, 15, 30, 12, 9, 1, 3, 0, 4, 6, 8, 10, 11, 13, 14, 16])
        let sorted = DiscriminativeReranking.sortStep(ranking, depth: 3, queryLabel: "b") { labels[$0] }
        #expect(DiscriminativeReranking.rerank(ranking, depth: 3, queryLabel: "b", candidates: [1, 3],
                                               label: { labels[$0] }, similarity: { _ in 0 })
            == DiscriminativeReranking.insertStep(sorted, depth: 3, queryLabel: "b", candidates: [1, 3],
                                                  label: { labels[$0] }, similarity: { _ in 0 }))
    }
}

@Suite struct SpatialRerankingTests {
    @Test func rerankingMovesVerifiedResultsAheadByInliersKeepingTheRestInOrder() {
        let ranking = [10, 11, 12, 13, 14, 15, 16]
        let inliers = [12: 40, 14: 90, 15: 40, 16: 500]
        let reranked = SpatialReranking.rerank(ranking, depth: 5) { inliers[$0] ?? 0 }
        // 16 lies beyond the depth: it is not verified, so it stays where it was.
        #expect(reranked == [14, 12, 10, 11, 13, 15, 16])
        #expect(SpatialReranking.rerank(ranking, depth: 0) { _ in 1 } == ranking)
        #expect(SpatialReranking.rerank([], depth: 3) { _ in 1 } == [])
    }

}
