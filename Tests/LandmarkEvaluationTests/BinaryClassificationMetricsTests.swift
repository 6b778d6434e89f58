import Testing
@testable import LandmarkEvaluation

/// The definition itself: every positive against every negative, ties ½.
private func pairwiseAUC(_ positives: [Double], _ negatives: [Double]) -> Double {
    var wins = 0.0
    for p in positives { for n in negatives { wins += p > n ? 1 : (p == n ? 0.5 : 0) } }
    return wins / Double(positives.count * negatives.count)
}

@Test func rocAUCOfPerfectAndReversedSeparation() {
    #expect(BinaryClassificationMetrics.rocAUC(positives: [5, 6, 7], negatives: [1, 2]) == 1)
    #expect(BinaryClassificationMetrics.rocAUC(positives: [1, 2], negatives: [5, 6, 7]) == 0)
    #expect(BinaryClassificationMetrics.rocAUC(positives: [3, 3], negatives: [3, 3, 3]) == 0.5)
}

@Test func rocAUCByHandWithTies() {
    // Positives 4, 2, 2; negatives 2, 1, 0, 4.
    // 4: beats 2, 1, 0, ties 4 → 3.5; each 2: beats 1, 0, ties 2 → 2.5. (3.5 + 2.5 + 2.5) / 12 = 8.5 / 12.
    let auc = BinaryClassificationMetrics.rocAUC(positives: [4, 2, 2], negatives: [2, 1, 0, 4])
    #expect(abs(auc - 8.5 / 12) < 1e-12)
}

@Test func rocAUCMatchesPairwiseDefinition() {
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<20 {
        // Small integer scores so that ties are frequent.
        let positives = (0..<Int.random(in: 1...30, using: &generator)).map { _ in Double(Int.random(in: 0...8, using: &generator)) }
        let negatives = (0..<Int.random(in: 1...30, using: &generator)).map { _ in Double(Int.random(in: 0...6, using: &generator)) }
        let auc = BinaryClassificationMetrics.rocAUC(positives: positives, negatives: negatives)
        #expect(abs(auc - pairwiseAUC(positives, negatives)) < 1e-12)
    }
}

@Test func rocAUCIsUndefinedWithoutBothClasses() {
    #expect(BinaryClassificationMetrics.rocAUC(positives: [], negatives: [1]).isNaN)
    #expect(BinaryClassificationMetrics.rocAUC(positives: [1], negatives: []).isNaN)
}
