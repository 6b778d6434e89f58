@testable import LandmarkMining
import Testing

/// The cleaning rule on hand cases (METHODS.md §6 plus the vote and the fallback).
@Test func theCleaningRuleOnHandCases() {
    let methods = LabelCleaning(minimumVerified: 2, voteNeighbours: 0, fallbackNeighbours: 0)
    // METHODS.md §6: kept with more than 2 verified same-label neighbours, dropped with 2.
    #expect(methods.decide(label: "a", verified: 3, otherLabelVotes: [:], nearestLabels: []).kept)
    #expect(!methods.decide(label: "a", verified: 2, otherLabelVotes: [:], nearestLabels: []).kept)
    #expect(!methods.decide(label: "a", verified: 0, otherLabelVotes: [:], nearestLabels: ["a", "a"]).kept, "no fallback")

    let voting = LabelCleaning(minimumVerified: 0, voteNeighbours: 20, fallbackNeighbours: 5)
    // Two verified neighbours of its own label but five of landmark b: a group moved together to a.
    let outvoted = voting.decide(label: "a", verified: 2, otherLabelVotes: ["b": 5, "c": 1], nearestLabels: [])
    #expect(!outvoted.kept && outvoted.reason == "outvoted by b")
    #expect(voting.decide(label: "a", verified: 2, otherLabelVotes: ["b": 2], nearestLabels: []).kept, "a tie keeps")
    // Nothing verifies it: the plurality of its five nearest labels decides.
    #expect(voting.decide(label: "a", verified: 0, otherLabelVotes: [:], nearestLabels: ["a", "b", "a", "c", "d"]).kept)
    #expect(!voting.decide(label: "a", verified: 0, otherLabelVotes: [:], nearestLabels: ["a", "b", "b", "c", "d"]).kept)
    #expect(!voting.decide(label: "a", verified: 0, otherLabelVotes: [:], nearestLabels: ["a", "b", "c", "d", "e"]).kept,
            "one vote each: no plurality, dropped")
    // Verified only with another landmark: not a case for the fallback.
    #expect(!voting.decide(label: "a", verified: 0, otherLabelVotes: ["b": 1], nearestLabels: ["a", "a", "a"]).kept)
}
