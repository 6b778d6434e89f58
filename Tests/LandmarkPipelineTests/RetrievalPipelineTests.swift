import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
@testable import LandmarkPipeline
import Testing

@Suite struct PipelineDescriptionTests {
    @Test func parsesStagesAndPrintsTheCanonicalForm() throws {
        let description = try PipelineDescription.parse("gem-lite2, dba3 ,aqe2,spatial50t40,dqe100,dre20")
        #expect(description.stages == [
            .databaseAugmentation(neighbours: 3, alpha: 3), .queryExpansion(neighbours: 2, alpha: 3),
            .spatialVerification(depth: 50, minimumInliers: 40), .discriminativeQueryExpansion(depth: 100),
            .discriminativeReranking(depth: 20),
        ])
        guard case .cnn(let configuration, let token) = description.retrieval else {
            Issue.record("expected a CNN descriptor, got \(description.retrieval)")
            return
        }
        #expect(token == "gem-lite2")
        #expect(configuration.model == "lite2")
        #expect(configuration.size == 512)
        #expect(description.description == "gem-lite2,dba3,aqe2,spatial50t40,dqe100,dre20")
        #expect(try PipelineDescription.parse(description.description) == description)
        #expect(description.needsLocalFeatures)
        #expect(description.needsTrainSet)
    }

    @Test func parsesDiffusionWithItsOptionalSettings() throws {
        #expect(try PipelineDescription.parse("diffusion").stages == [.diffusion(neighbours: 50, queryNeighbours: 10, alpha: 0.99, truncation: nil)])
        let full = try PipelineDescription.parse("dba2,diffusion5t100a0.5q1")
        #expect(full.stages.last == .diffusion(neighbours: 5, queryNeighbours: 1, alpha: 0.5, truncation: 100))
        #expect(full.description == "dba2,diffusion5q1a0.5t100")
        #expect(try PipelineDescription.parse(full.description) == full)
        #expect(!full.needsLocalFeatures)
        for malformed in ["diffusion1", "diffusion5a1", "diffusion5q0", "diffusion5qq1", "diffusion5x3", "diffusion5t2.5", "diffusion5q"] {
            #expect(throws: PipelineError.self, "\(malformed)") { try PipelineDescription.parse(malformed) }
        }
    }

    @Test func parsesScoreFusion() throws {
        let fusion = try PipelineDescription.parse("dba1,fusion50w0.3")
        #expect(fusion.stages.last == .scoreFusion(depth: 50, weight: 0.3))
        #expect(fusion.description == "dba1,fusion50w0.3")
        #expect(try PipelineDescription.parse("fusion").stages == [.scoreFusion(depth: 100, weight: 0.5)])
        #expect(fusion.needsLocalFeatures)
        for malformed in ["fusion1", "fusion10w2", "fusion10t3", "asmk,fusion10"] {
            #expect(throws: PipelineError.self, "\(malformed)") { try PipelineDescription.parse(malformed) }
        }
    }

    @Test func defaultsAverageExpansionAndSizes() throws {
        let description = try PipelineDescription.parse("mac-resnet101@1024,qe5,aqe10a0.5,dba,spatial")
        #expect(description.stages == [
            .queryExpansion(neighbours: 5, alpha: 0), .queryExpansion(neighbours: 10, alpha: 0.5),
            .databaseAugmentation(neighbours: 2, alpha: 3),
            .spatialVerification(depth: 100, minimumInliers: PipelineDescription.defaultMinimumInliers),
        ])
        #expect(description.description == "mac-resnet101@1024,qe5,aqe10a0.5,dba2,spatial100")
        guard case .cnn(let configuration, _) = description.retrieval else {
            Issue.record("expected a CNN descriptor")
            return
        }
        #expect(configuration.size == 1024)
        #expect(configuration.model == "resnet101")
    }

    @Test func presetsExpand() throws {
        let best = try PipelineDescription.parse("best")
        #expect(try best == PipelineDescription.parse(PipelineDescription.presets["best"] ?? ""))
        #expect(!best.needsTrainSet)
        #expect(try PipelineDescription.parse("global").stages.isEmpty)
        let extended = try PipelineDescription.parse("best,dre20")
        #expect(extended.stages == best.stages + [.discriminativeReranking(depth: 20)])
        // Stages alone keep the command's own descriptor options.
        let stagesOnly = try PipelineDescription.parse("aqe2")
        #expect(stagesOnly.retrieval == .descriptorOptions)
        #expect(stagesOnly.prefixes.map(\.stages.count) == [0, 1])
    }

    @Test(arguments: ["", "aqe2,,dqe", "foo", "aqe0", "dba2,gem-lite2", "gem-unknown", "gem-lite2@12",
                      "spatial100x3", "qe2a3", "asmk,aqe2", "aqe2.5", "dqe100", "aqe2,dqe20,spatial30"])
    func rejectsMalformedDescriptions(_ text: String) {
        #expect(throws: PipelineError.self) { try PipelineDescription.parse(text) }
    }
}

@Suite struct RetrievalPipelineTests {
    /// Unit vectors at angles (degrees) in the plane.
    static func vectors(_ angles: [Double]) -> Matrix {
        Matrix(stacking: angles.map { [Float(cos($0 * .pi / 180)), Float(sin($0 * .pi / 180))] }, dimension: 2)
    }

    @Test func searchRanksBySimilarityAndDropsTheExcludedRow() throws {
        let database = Self.vectors([0, 10, 50, 90, 180])
        let queries = Self.vectors([0, 85])
        let output = try RetrievalPipeline(stages: []).run(database: database, queries: queries, excluded: [0, nil],
                                                           resources: RetrievalResources())
        #expect(output.rankings == [[1, 2, 3, 4], [3, 2, 1, 0, 4]])
        #expect(output.timings.map(\.stage) == ["search"])
    }

    /// Ranks every row in reverse order, whatever the query: shows which index a pipeline searched.
    struct ReversedIndex: VectorIndex {
        var count: Int
        var dimension: Int
        var factory: IndexFactory { .hierarchicalGraph(links: 4) }
        func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
            Array(repeating: (0 ..< count).reversed().prefix(k).map { Neighbor(index: $0, score: 0) }, count: queries.rows)
        }
    }

    @Test func aGivenDatabaseIndexRanksUntilAugmentationChangesTheDatabase() throws {
        let database = Self.vectors([0, 10, 50, 90, 180])
        var pipeline = RetrievalPipeline(stages: [])
        pipeline.databaseIndex = ReversedIndex(count: 5, dimension: 2)
        let output = try pipeline.run(database: database, queries: Self.vectors([0]), excluded: [nil], resources: RetrievalResources())
        #expect(output.rankings == [[4, 3, 2, 1, 0]])
        pipeline.stages = [.databaseAugmentation(neighbours: 1, alpha: 0)]
        let augmented = try pipeline.run(database: database, queries: Self.vectors([0]), excluded: [nil], resources: RetrievalResources(),
                                         keepEveryStage: true)
        #expect(augmented.rankingsAfterEachStage.first == [[4, 3, 2, 1, 0]])
        #expect(augmented.rankings == [[0, 1, 2, 3, 4]])
    }

    @Test func depthBoundsEveryRanking() throws {
        let database = Self.vectors([0, 10, 50, 90, 180])
        let output = try RetrievalPipeline(stages: []).run(database: database, queries: Self.vectors([0]), excluded: [0],
                                                           resources: RetrievalResources(), depth: 2)
        #expect(output.rankings == [[1, 2]])
    }

    @Test func discriminativeRerankingMovesAndInsertsTheQueryLabel() throws {
        // Query at 0°; labels: rows 2 and 4 carry the query's label "a", row 4 far down the list.
        let database = Self.vectors([5, 20, 40, 100, 170])
        let resources = RetrievalResources(databaseLabels: ["b", "b", "a", "c", "a"], queryLabels: ["a"])
        let output = try RetrievalPipeline(stages: [.discriminativeReranking(depth: 3)])
            .run(database: database, queries: Self.vectors([0]), excluded: [nil], resources: resources)
        // Sort-step over the top 3 (0, 1, 2) moves 2 ahead; insert-step brings 4 right after it.
        #expect(output.rankings == [[2, 4, 0, 1, 3]])
        #expect(output.timings.map(\.stage) == ["search", "dre3"])
    }

    @Test func stagesWithoutTheirInputsFailClearly() {
        let database = Self.vectors([0, 10])
        #expect(throws: PipelineError.self) {
            try RetrievalPipeline(stages: [.spatialVerification(depth: 10, minimumInliers: 20)])
                .run(database: database, queries: database, excluded: [0, 1], resources: RetrievalResources())
        }
        #expect(throws: PipelineError.self) {
            try RetrievalPipeline(stages: [.discriminativeReranking(depth: 10)])
                .run(database: database, queries: database, excluded: [0, 1], resources: RetrievalResources())
        }
    }

    @Test func queryExpansionPullsTheQueryTowardsItsNeighbours() throws {
        // The query at 0° sees rows at 30° and 40° first; average QE with both moves it to about 23°,
        // so the row at 60° overtakes the one at -45°.
        let database = Self.vectors([30, 40, -45, 60])
        let before = try RetrievalPipeline(stages: []).run(
            database: database, queries: Self.vectors([0]), excluded: [nil], resources: RetrievalResources())
        #expect(before.rankings == [[0, 1, 2, 3]])
        let after = try RetrievalPipeline(stages: [.queryExpansion(neighbours: 2, alpha: 0)]).run(
            database: database, queries: Self.vectors([0]), excluded: [nil], resources: RetrievalResources())
        #expect(after.rankings == [[0, 1, 3, 2]])
    }
}

@Suite struct AblationTableTests {
    @Test func csvHasOneRowPerStage() {
        var table = AblationTable(dataset: "d", reports: [])
        table.rows = [
            .init(stage: "search", pipeline: "cnn", meanAveragePrecision: 0.5, meanPrecisionAt10: 0.25, secondsPerQuery: 0.001),
            .init(stage: "aqe2", pipeline: "cnn,aqe2", meanAveragePrecision: 0.75, meanPrecisionAt10: 0.5, secondsPerQuery: 0.002),
        ]
        #expect(table.csv == """
            stage,pipeline,mAP,mP@10,seconds_per_query
            search,cnn,0.500000,0.250000,0.001000
            aqe2,"cnn,aqe2",0.750000,0.500000,0.002000

            """)
        #expect(table.text.contains("aqe2"))
        let chart = table.chart()
        #expect(chart.width > 0 && chart.height > 0)
    }
}

/// The search cache keeps within its budget by dropping the least recently used files, and touches
/// nothing outside its own folder.
@Test func theSearchCacheDropsTheLeastRecentlyUsedBeyondItsBudget() throws {
    let temporary = try TemporaryDirectory()
    defer { temporary.cleanUp() }
    let neighbour = temporary.path("descriptors.lmd")
    try Data(repeating: 1, count: 100 << 20).write(to: neighbour)
    let cache = SearchCache(indexDirectory: temporary.url, storeBytes: 10 << 20)   // budget: 64 MB
    #expect(cache.budget == SearchCache.minimumBudget)
    for number in 0 ..< 3 {
        cache.store([UInt8](repeating: UInt8(number), count: 30 << 20), as: "setting-\(number).bin")
        // Distinct times, so that the order of use is unambiguous.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: Double(number - 10))],
                                              ofItemAtPath: cache.folder.appendingPathComponent("setting-\(number).bin").path)
    }
    // 90 MB over a 64 MB budget: the oldest went when the third was written.
    var left = Set(try FileManager.default.contentsOfDirectory(atPath: cache.folder.path))
    #expect(left == ["setting-1.bin", "setting-2.bin"])
    // Using setting 1 makes setting 2 the least recently used.
    _ = cache.url("setting-1.bin")
    cache.store([UInt8](repeating: 9, count: 30 << 20), as: "setting-3.bin")
    left = Set(try FileManager.default.contentsOfDirectory(atPath: cache.folder.path))
    #expect(left == ["setting-1.bin", "setting-3.bin"])
    #expect(FileManager.default.fileExists(atPath: neighbour.path))
}
