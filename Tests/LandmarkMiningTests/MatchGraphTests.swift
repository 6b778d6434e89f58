import Foundation
import LandmarkDemo
import LandmarkDescriptors
@testable import LandmarkMining
import LandmarkPipeline
import Testing

/// A real index (weight-free global descriptor + RootSIFT) of a small synthetic folder benchmark.
private func syntheticIndex() throws -> (folder: URL, index: URL) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("match-graph-\(UUID().uuidString)")
    try SyntheticLandmarkDataset(configuration: .init(landmarkCount: 3, viewsPerLandmark: 3, distractorCount: 2,
                                                      width: 240, height: 180, seed: 3)).write(to: folder)
    var local = LocalIndexConfiguration(vocabularySize: 16)
    local.vocabularyIterations = 5
    let index = folder.appendingPathComponent("index")
    _ = try IndexBuilder.build(images: folder, index: index, extractor: GradientColourHistogramBaseline(), local: local,
                               options: IndexBuildOptions(shardSize: 4))
    return (folder, index)
}

/// Every shortlisted pair is verified once; a second run reads them all back from the index's cache and
/// builds the same graph, and a damaged cache line is verified again instead of trusted.
@Test func theGraphIsCachedAndRebuiltIdentically() throws {
    let (folder, indexURL) = try syntheticIndex()
    defer { try? FileManager.default.removeItem(at: folder) }
    let index = try RetrievalIndex.open(indexURL)
    let first = try MatchGraph.build(index, shortlist: 4)
    let images = index.store.identifiers.count
    #expect(!first.edges.isEmpty)
    #expect(Set(first.edges.map { [$0.first, $0.second] }).count == first.edges.count, "each pair once")
    #expect(first.edges.allSatisfy { $0.first < $0.second && $0.second < images })
    let cache = MatchGraph.cacheURL(indexURL)
    let cached = try String(contentsOf: cache, encoding: .utf8)
    #expect(cached.split(separator: "\n").count == first.edges.count + 1)

    let second = try MatchGraph.build(index, shortlist: 4)
    #expect(second == first)

    // Damage one line: that pair is verified again and the graph is unchanged.
    var lines = cached.split(separator: "\n").map(String.init)
    lines[1] = lines[1].split(separator: "\t").prefix(2).joined(separator: "\t") + "\tnot-a-number"
    try (lines.joined(separator: "\n") + "\n").write(to: cache, atomically: true, encoding: .utf8)
    #expect(try MatchGraph.build(index, shortlist: 4) == first)
}

/// A run killed part-way leaves the batches it verified in the cache, possibly with a last record cut
/// short; the next run keeps the complete records, verifies only the rest and builds the same graph.
@Test func anInterruptedRunResumesToTheSameGraph() throws {
    let (folder, indexURL) = try syntheticIndex()
    defer { try? FileManager.default.removeItem(at: folder) }
    let index = try RetrievalIndex.open(indexURL)
    let complete = try MatchGraph.build(index, shortlist: 4)
    let cache = MatchGraph.cacheURL(indexURL)
    let lines = try String(contentsOf: cache, encoding: .utf8).split(separator: "\n").map(String.init)
    #expect(lines.count > 4)
    // Half the records survive, then a torn record whose count lost its last digits.
    let kept = lines.prefix(lines.count / 2)
    let torn = String(lines[lines.count / 2].dropLast(1))
    try (kept.joined(separator: "\n") + "\n" + torn).write(to: cache, atomically: true, encoding: .utf8)
    let resumed = try MatchGraph.build(index, shortlist: 4)
    #expect(resumed == complete)
    let records = try String(contentsOf: cache, encoding: .utf8).split(separator: "\n").dropFirst()
        .filter { $0 != Substring(torn) }
    #expect(records.allSatisfy { $0.split(separator: "\t").count == 3 && Int($0.split(separator: "\t")[2]) != nil },
            "the torn record did not swallow the next one")
    let pairs = Set(records.map { $0.split(separator: "\t").prefix(2).joined(separator: "\t") })
    #expect(pairs.count == complete.edges.count, "every pair is in the cache once the run finishes")
}

/// The cleaning rule on a real index: with every label right, a landmark's views verify each other;
/// an image given another landmark's label finds no verified neighbour of that label and is dropped.
@Test func cleaningDropsAMovedLabel() throws {
    let (folder, indexURL) = try syntheticIndex()
    defer { try? FileManager.default.removeItem(at: folder) }
    let index = try RetrievalIndex.open(indexURL)
    let truth = try String(contentsOf: folder.appendingPathComponent("ground_truth.tsv"), encoding: .utf8)
        .split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    var labels: [String: String] = [:]
    for row in truth where row.count == 2 && !row[1].isEmpty { labels[row[0]] = row[1] }
    let landmarks = Set(labels.values).sorted()
    let moved = try #require(labels.keys.sorted().first)
    let original = try #require(labels[moved])
    labels[moved] = try #require(landmarks.first { $0 != original })
    let decisions = try LabelCleaning(minimumInliers: 10, minimumVerified: 0).clean(index, labels: labels)
    #expect(decisions.count == labels.count)
    let dropped = Set(decisions.filter { !$0.kept }.map(\.image))
    #expect(dropped.contains(moved), "the image with the moved label was kept: \(decisions)")
    #expect(dropped.count <= 3, "too many correct labels dropped: \(dropped.sorted())")
}
