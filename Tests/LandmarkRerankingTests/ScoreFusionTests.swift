@testable import LandmarkReranking
import Testing

@Suite struct ScoreFusionTests {
    /// Five results. Global similarity ranks them 0…4; ASMK ranks 3 far ahead and the rest in reverse.
    /// Normalised over the head: global 1, .75, .5, .25, 0; ASMK 0, .25, .5, 1, .25 (row 4 ties row 1).
    static let global: [Float] = [0.9, 0.8, 0.7, 0.6, 0.5]
    static let asmk: [Float] = [10, 20, 30, 50, 20]

    @Test func aWeightedSumOfMinMaxNormalisedScoresOrdersTheHead() {
        let ranking = [0, 1, 2, 3, 4]
        // w = 0.5: fused 0.5, 0.5, 0.5, 0.625, 0.125 → 3 first, then 0, 1, 2 in their order, then 4.
        #expect(ScoreFusion.rerank(ranking, depth: 5, weight: 0.5, global: { Self.global[$0] }, local: { Self.asmk[$0] })
                == [3, 0, 1, 2, 4])
        // The weights at the ends give either ranking alone (ties in original order).
        #expect(ScoreFusion.rerank(ranking, depth: 5, weight: 0, global: { Self.global[$0] }, local: { Self.asmk[$0] }) == ranking)
        #expect(ScoreFusion.rerank(ranking, depth: 5, weight: 1, global: { Self.global[$0] }, local: { Self.asmk[$0] })
                == [3, 2, 1, 4, 0])
    }

    @Test func onlyTheHeadMovesAndScalesDoNotMatter() {
        let ranking = [0, 1, 2, 3, 4]
        // Depth 3: rows 3 and 4 stay where they are; normalised over rows 0–2 only (ASMK 0, .5, 1).
        #expect(ScoreFusion.rerank(ranking, depth: 3, weight: 0.75, global: { Self.global[$0] }, local: { Self.asmk[$0] })
                == [2, 1, 0, 3, 4])
        // Multiplying one score by 1000 and shifting it changes nothing after normalisation.
        #expect(ScoreFusion.rerank(ranking, depth: 5, weight: 0.5, global: { Self.global[$0] * 1000 - 7 },
                                   local: { Self.asmk[$0] }) == [3, 0, 1, 2, 4])
        // A constant score carries no information: the other one decides.
        #expect(ScoreFusion.rerank(ranking, depth: 5, weight: 0.5, global: { _ in 0.3 }, local: { Self.asmk[$0] })
                == [3, 2, 1, 4, 0])
        #expect(ScoreFusion.rerank([4], depth: 5, weight: 0.5, global: { Self.global[$0] }, local: { Self.asmk[$0] }) == [4])
    }
}
