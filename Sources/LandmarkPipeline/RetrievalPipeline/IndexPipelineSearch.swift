import Foundation
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkReranking
import LandmarkStorage

extension RetrievalIndex {
    /// Searches with a whole pipeline (METHODS.md §3): global search, then the pipeline's stages.
    ///
    /// - Database-side augmentation is computed once per setting and kept in the index directory
    ///   (`augmented-dba<k>a<α>.lmd`), so later searches pay nothing for it.
    /// - Spatial verification matches the query's features against the index's stored local features
    ///   (build the index with `--local rootsift-asmk`).
    /// - Discriminative re-ranking predicts labels of the index images and queries from `trainSet`.
    public func search(images: [URL], top k: Int, pipeline: PipelineDescription, trainSet: TrainSet? = nil,
                       decoding: ImageDecodingOptions = .init(),
                       progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> [Result<[SearchHit], SkippedImage>] {
        guard hasGlobalDescriptors else {
            throw PipelineError(code: .invalidRequest, file: directory.path,
                                reason: "pipelines start from global descriptors; this index has none (built with --descriptor none)")
        }
        if pipeline.needsLocalFeatures && localFeatureStore == nil {
            throw PipelineError(code: .invalidRequest, file: directory.path,
                                reason: "pipeline '\(pipeline)' verifies matches but the index has no local features; rebuild it with --local \(LocalIndexConfiguration.rootSIFTASMK)")
        }
        let extraction = DescriptorExtraction(extractor: extractor, decoding: decoding)
        let described = extraction.describeAll(images.map { ExtractionItem(url: $0, name: $0.path) })
        var describedImages: [Int] = []
        var vectors: [[Float]] = []
        for (position, result) in described.enumerated() {
            if case .success(let vector) = result { describedImages.append(position); vectors.append(vector) }
        }
        guard !vectors.isEmpty else { return described.map { $0.map { _ in [] } } }
        let queries = Matrix(stacking: vectors, dimension: extractor.dimension)

        var database = store.matrix()
        var stages = pipeline.stages
        while case .databaseAugmentation(let neighbours, let alpha)? = stages.first {
            database = augmentedDatabase(database, neighbours: neighbours, alpha: alpha)
            stages.removeFirst()
        }
        var resources = RetrievalResources()
        let augmentation = Array(pipeline.stages.prefix(pipeline.stages.count - stages.count))
        let index = self
        resources.diffusionGraph = { neighbours, before, database in
            let state = (augmentation + before).filter { if case .databaseAugmentation = $0 { return true } else { return false } }
            return index.diffusionGraph(neighbours: neighbours, databaseState: state.map(\.description), database: database)
        }
        if pipeline.needsLocalFeatures, let localExtractor {
            let queryURLs = describedImages.map { images[$0] }
            let extracted = LocalFeatureExtraction(sift: localExtractor.configuration, rootSIFT: true, decoding: decoding)
                .extractAll(queryURLs)
            let queryFeatures = extracted.map { try? $0.get() }
            resources.queryFeatures = { queryFeatures[$0] }
            resources.databaseFeatures = { index.localFeatures(ofImage: $0) }
            if let asmk {
                resources.asmkScores = { query in
                    guard let features = queryFeatures[query] else { return [] }
                    return asmk.scores(for: asmk.represent(features.descriptors, multipleAssignment: asmk.configuration.queryMultipleAssignment))
                }
            }
        }
        if pipeline.needsTrainSet {
            guard let trainSet else {
                throw PipelineError(code: .invalidRequest, file: "",
                                    reason: "pipeline '\(pipeline)' re-ranks with a labelled train set: give --train-index")
            }
            resources.databaseLabels = predictedLabels(store.matrix(), trainSet: trainSet)
            resources.queryLabels = trainSet.predictLabels(queries)
        }
        // The index's own approximate index ranks the unaugmented descriptors; after augmentation the
        // pipeline searches the augmented copy exactly.
        var runner = RetrievalPipeline(stages: stages, searchParameters: searchParameters)
        if augmentation.isEmpty, !vectorIndex.factory.isExact { runner.databaseIndex = vectorIndex }
        let output = try runner.run(
            database: database, queries: queries, excluded: Array(repeating: nil, count: queries.rows),
            resources: resources, depth: pipeline.rankingDepth(top: k), progress: progress)
        var hitsOfImage: [Int: [SearchHit]] = [:]
        for (query, (image, ranking)) in zip(describedImages, output.rankings).enumerated() {
            hitsOfImage[image] = ranking.prefix(k).map { row in
                SearchHit(image: store.identifiers[row], score: RetrievalPipeline.dot(queries, query, database, row))
            }
        }
        return described.enumerated().map { position, result in
            result.map { _ in hitsOfImage[position] ?? [] }
        }
    }

    /// The search cache of this index (`SearchCache`), its budget sized by the descriptor store.
    var searchCache: SearchCache {
        SearchCache(indexDirectory: directory, storeBytes: store.count * max(1, store.dimension) * 4)
    }

    /// The index's descriptors after database-side augmentation, from the search cache or computed
    /// and cached (skipped when the directory is not writable).
    func augmentedDatabase(_ database: Matrix, neighbours: Int, alpha: Float) -> Matrix {
        let name = "augmented-dba\(neighbours)a\(PipelineDescription.format(alpha)).lmd"
        let cache = searchCache
        let url = cache.url(name)
        let source = storeVersion
        if let cached = try? DescriptorStore.open(url), cached.count == database.rows, cached.dimension == database.columns,
           cached.metadata["source"] == source {
            return cached.matrix()
        }
        let augmented = DatabaseAugmentation(neighbours: neighbours, alpha: alpha).augment(database)
        // A read-only index still searches; it just recomputes the augmentation next time.
        try? FileManager.default.createDirectory(at: cache.folder, withIntermediateDirectories: true)
        if (try? DescriptorStoreWriter.write(augmented, identifiers: store.identifiers,
                                             metadata: ["augmentation": "dba\(neighbours)a\(alpha)", "source": source],
                                             to: url)) != nil {
            cache.trim(keeping: name)
        }
        return augmented
    }

    /// The mutual kNN graph of diffusion over the index descriptors after the DBA stages `databaseState`,
    /// from the directory's cache (`diffusion-graph-k<k>[-dba…].lmg`, one file per setting, replaced when
    /// the store changes) or built and cached. The file starts with a line naming the store state it
    /// belongs to; a damaged or stale file is rebuilt, and a read-only index builds the graph every time.
    func diffusionGraph(neighbours: Int, databaseState: [String], database: Matrix) -> DiffusionGraph {
        let name = (["diffusion-graph-k\(neighbours)"] + databaseState).joined(separator: "-") + ".lmg"
        let cache = searchCache
        let url = cache.url(name)
        let key = Array("\(name) store=\(storeVersion) rows=\(database.rows)\n".utf8)
        if let bytes = try? [UInt8](Data(contentsOf: url)), bytes.count > key.count, Array(bytes.prefix(key.count)) == key,
           let graph = DiffusionGraph(serialized: Array(bytes.dropFirst(key.count))),
           graph.nodes == database.rows, graph.neighbours == neighbours {
            return graph
        }
        let graph = DiffusionGraph(database: database, neighbours: neighbours)
        cache.store(key + graph.serialized(), as: name)
        return graph
    }

    /// One state of the descriptors (their fingerprint: the segments' checksums and removed rows, and
    /// the live count): caches derived from them belong to it, and an updated index does not reuse them.
    var storeVersion: String {
        "\(String(store.fingerprint, radix: 16))-\(store.count)"
    }

    /// Predicted labels of every index image: computed once per train set and kept in the index
    /// directory (`predicted-labels-<hash>.json`, holding the train set's description), so a search
    /// only predicts its query.
    func predictedLabels(_ database: Matrix, trainSet: TrainSet) -> [String?] {
        struct Cache: Codable {
            var trainSet: String
            var count: Int
            var labels: [String?]
        }
        let key = trainSet.predictionKey + " index=" + storeVersion
        let name = "predicted-labels-\(String(stableHash(key), radix: 16)).json"
        let cache = searchCache
        let url = cache.url(name)
        if let data = try? Data(contentsOf: url), let cache = try? JSONDecoder().decode(Cache.self, from: data),
           cache.trainSet == key, cache.count == database.rows, cache.labels.count == database.rows {
            return cache.labels
        }
        let labels = trainSet.predictLabels(database)
        // Not writable: predict again next time.
        if let data = try? JSONEncoder().encode(Cache(trainSet: key, count: database.rows, labels: labels)) {
            cache.store([UInt8](data), as: name)
        }
        return labels
    }
}
