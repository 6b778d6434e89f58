import Foundation
@testable import LandmarkMining
import LandmarkTraining
import Testing

/// Eight images: {0, 1, 2} strongly connected, {3, 4} connected, 5 alone, and a weak edge 2–3 that
/// must not chain the two groups; {6, 7} joined only by a weak edge.
private let graph = MatchGraph(images: (0..<8).map { "images/\($0).jpg" }, edges: [
    .init(first: 0, second: 1, inliers: 80, similarity: 0.9),
    .init(first: 1, second: 2, inliers: 45, similarity: 0.7),
    .init(first: 0, second: 2, inliers: 30, similarity: 0.5),
    .init(first: 3, second: 4, inliers: 60, similarity: 0.8),
    .init(first: 2, second: 3, inliers: 12, similarity: 0.85),
    .init(first: 6, second: 7, inliers: 9, similarity: 0.6),
])

@Test func componentsFollowOnlyStrongEdges() {
    let clusters = MinedClusters(graph, minimumInliers: 25)
    #expect(clusters.members == [[0, 1, 2], [3, 4]])
    #expect(clusters.clusterOfImage == [0, 0, 0, 1, 1, nil, nil, nil])
    // A lower threshold chains everything joined by the weak 2–3 edge.
    #expect(MinedClusters(graph, minimumInliers: 10).members == [[0, 1, 2, 3, 4]])
    #expect(MinedClusters(graph, minimumInliers: 25, minimumSize: 3).members == [[0, 1, 2]])
}

@Test func hardPositivesAreTheLeastSimilarVerifiedNeighbours() {
    let clusters = MinedClusters(graph, minimumInliers: 25)
    let tuples = clusters.tuples(graph, minimumInliers: 25)
    let positives = Dictionary(uniqueKeysWithValues: tuples.map { ($0.query, $0.positive) })
    // 0's verified neighbours: 1 (0.9) and 2 (0.5): the hard one is 2. The weak edge 2–3 is never a pair.
    #expect(positives["images/0.jpg"] == "images/2.jpg")
    #expect(positives["images/1.jpg"] == "images/2.jpg")
    #expect(positives["images/2.jpg"] == "images/0.jpg")
    #expect(positives["images/3.jpg"] == "images/4.jpg")
    #expect(positives["images/5.jpg"] == nil && positives["images/6.jpg"] == nil)
}

@Test func minedTuplesAreWhatTrainingReads() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("mined-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
    for image in graph.images { FileManager.default.createFile(atPath: root.appendingPathComponent(image).path, contents: Data([0])) }
    let clusters = MinedClusters(graph, minimumInliers: 25)
    try clusters.write(to: root.appendingPathComponent("tuples"), graph: graph, root: root, minimumInliers: 25, parameters: ["k": "20"])
    let set = try TrainingSet.load(root.appendingPathComponent("tuples"))
    #expect(set.images == ["images/0.jpg", "images/1.jpg", "images/2.jpg", "images/3.jpg", "images/4.jpg"])
    #expect(set.classNames.count == 2)
    #expect(set.pairs?.count == 5)
}

@Test func scoresAgainstAGroundTruthTheMiningNeverRead() {
    let clusters = MinedClusters(graph, minimumInliers: 10)  // {0…4} in one cluster
    let labels: [String?] = ["a", "a", "a", "b", "b", "c", nil, nil]
    let scores = MiningScores(clusters: clusters, labels: labels)
    // Cluster pairs: 10, of which 3 (a) + 1 (b) are right; true pairs: 3 + 1, all found.
    #expect(scores.pairPrecision == 0.4)
    #expect(scores.pairRecall == 1)
    #expect(scores.purity == 0.6)
    #expect(scores.clusters == 1 && scores.clusteredImages == 5 && scores.landmarks == 3)
}
