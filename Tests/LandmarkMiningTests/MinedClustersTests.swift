import Foundation
@testable import LandmarkMining
import LandmarkImage
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

/// Two triangles {0, 1, 2} and {3, 4, 5} joined by the single edge 2–3: only that edge is a bridge, and
/// only a weak one is cut; the pendant 5–6 is a bridge too but strong enough to stay.
@Test func aWeakBridgeIsCutButStrongEdgesAreNot() {
    let chained = MatchGraph(images: (0..<7).map { "images/\($0).jpg" }, edges: [
        .init(first: 0, second: 1, inliers: 90, similarity: 0.9), .init(first: 1, second: 2, inliers: 90, similarity: 0.9),
        .init(first: 0, second: 2, inliers: 90, similarity: 0.9), .init(first: 3, second: 4, inliers: 90, similarity: 0.9),
        .init(first: 4, second: 5, inliers: 90, similarity: 0.9), .init(first: 3, second: 5, inliers: 90, similarity: 0.9),
        .init(first: 2, second: 3, inliers: 25, similarity: 0.6), .init(first: 5, second: 6, inliers: 70, similarity: 0.7),
    ])
    let strong = chained.edges.filter { $0.inliers >= 20 }
    let bridges = MinedClusters.bridges(strong, nodes: 7).map { [strong[$0].first, strong[$0].second] }
    #expect(Set(bridges) == [[2, 3], [5, 6]])
    #expect(MinedClusters(chained, minimumInliers: 20).members == [[0, 1, 2, 3, 4, 5, 6]])
    #expect(MinedClusters(chained, minimumInliers: 20, weakBridgeInliers: 40).members == [[3, 4, 5, 6], [0, 1, 2]])
    // A weak edge inside a cycle is not a bridge and stays: 0–2 weak but 0–1–2 holds the triangle.
    let cycle = MatchGraph(images: chained.images, edges: chained.edges.map {
        $0.first == 0 && $0.second == 2 ? .init(first: 0, second: 2, inliers: 21, similarity: 0.9) : $0
    })
    #expect(MinedClusters(cycle, minimumInliers: 20, weakBridgeInliers: 40).members == [[3, 4, 5, 6], [0, 1, 2]])
}

/// Random positives skip the most similar verified neighbours, are reproducible by seed, and fall back to
/// the hardest when a query has no neighbour beyond the skipped ones.
@Test func randomPositivesSkipTheNearestAndAreSeeded() {
    let star = MatchGraph(images: (0..<6).map { "images/\($0).jpg" }, edges: (1..<6).map {
        .init(first: 0, second: $0, inliers: 50, similarity: 1 - Float($0) * 0.1)
    })
    let clusters = MinedClusters(star, minimumInliers: 20)
    let selection = MinedClusters.PositiveSelection.random(skippingNearest: 2, seed: 7)
    let picked = clusters.tuples(star, minimumInliers: 20, selection: selection)
    #expect(picked == clusters.tuples(star, minimumInliers: 20, selection: selection))
    let zero = picked.first { $0.query == "images/0.jpg" }?.positive
    #expect(["images/3.jpg", "images/4.jpg", "images/5.jpg"].contains(zero ?? ""), "beyond the two most similar (1, 2)")
    // The leaves have one verified neighbour each: nothing beyond the nearest two, so the hardest (0).
    #expect(picked.filter { $0.query != "images/0.jpg" }.allSatisfy { $0.positive == "images/0.jpg" })
    var seen = Set<String>()
    for seed in 0..<40 as Range<UInt64> {
        let tuples = clusters.tuples(star, minimumInliers: 20, selection: .random(skippingNearest: 2, seed: seed))
        if let positive = tuples.first(where: { $0.query == "images/0.jpg" })?.positive { seen.insert(positive) }
    }
    #expect(seen == ["images/3.jpg", "images/4.jpg", "images/5.jpg"])
    #expect(clusters.tuples(star, minimumInliers: 20).first { $0.query == "images/0.jpg" }?.positive == "images/5.jpg")
}

/// The contact sheet has one row per cluster with its thumbnails; a missing image is a grey cell, not a
/// failure; the histogram bins the sizes.
@Test func theContactSheetShowsEveryClusterAndSurvivesAMissingImage() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("sheet-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root.appendingPathComponent("images"), withIntermediateDirectories: true)
    for (number, image) in graph.images.enumerated() where number != 1 {
        let picture = RGBImage(width: 64, height: 48, repeating: (UInt8(number * 30), 0, 255))
        try Data(ImageEncoder.png(picture)).write(to: root.appendingPathComponent(image))
    }
    let clusters = MinedClusters(graph, minimumInliers: 25)  // {0, 1, 2}, {3, 4}
    let sheet = ClusterReport.contactSheet(clusters, graph: graph, root: root, imagesPerCluster: 3, cell: 32)
    #expect(sheet.height == 2 * (32 + 6) + 6)
    // Row 0: image 0 (red 0) drawn, image 1 missing (grey), image 2 drawn (red 60). Cells start at x = 164.
    let centreY = 6 + 16
    #expect(sheet[164 + 16, centreY] == (0, 0, 255))
    #expect(sheet[164 + 38 + 16, centreY] == (200, 200, 200))
    #expect(sheet[164 + 2 * 38 + 16, centreY] == (60, 0, 255))
    #expect(sheet[164 + 16, centreY + 38] == (90, 0, 255), "row 1 starts with image 3")
    let histogram = ClusterReport.sizeHistogram(clusters)
    #expect(histogram.counts[0] == 1 && histogram.counts[1] == 1 && histogram.counts.reduce(0, +) == 2)
}
