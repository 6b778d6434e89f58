import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkPipeline
import Testing

/// A small local-index configuration: the synthetic images are 200 × 150 and carry a few hundred features.
private func smallLocalConfiguration() -> LocalIndexConfiguration {
    var configuration = LocalIndexConfiguration(vocabularySize: 16)
    configuration.vocabularyIterations = 5
    return configuration
}

@Suite struct LocalIndexTests {
    @Test func storedThenLoadedFeaturesVerifyAndRetrieveLikeFreshOnes() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let urls = entries.map { images.appendingPathComponent($0.relativePath) }
        var plain = LocalIndexConfiguration().sift
        plain.threads = 1
        plain.rootSIFT = false
        var root = plain
        root.rootSIFT = true
        let fresh = try urls.map { try SpatialVerifier(sift: SIFT(root)).features(of: $0).get().features }
        let records = try zip(entries, urls).map { entry, url in
            LocalFeatureStorage.record(identifier: entry.relativePath,
                                       sift: try SpatialVerifier(sift: SIFT(plain)).features(of: url).get().features)
        }
        // Our SIFT, like OpenCV's, yields integer descriptor values: the bytes are exact.
        #expect(records.allSatisfy { $0.count > 20 })
        let storeURL = temporary.path("local.lmf")
        try LocalFeatureStoreWriter.write(records, metadata: [:], to: storeURL)
        let store = try LocalFeatureStore.open(storeURL)
        let loaded = (0 ..< store.imageCount).map { LocalFeatureStorage.rootSIFTFeatures(store.record(at: $0)) }

        for (a, b) in zip(fresh, loaded) {
            #expect(a.count == b.count)
            #expect(a.imageWidth == b.imageWidth && a.imageHeight == b.imageHeight)
            #expect(a.keypoints.map(\.x) == b.keypoints.map(\.x) && a.keypoints.map(\.y) == b.keypoints.map(\.y))
            let difference = zip(a.descriptors.storage, b.descriptors.storage).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-6)
        }
        // Same pairs, same inliers.
        let verifier = SpatialVerifier(sift: SIFT(root))
        for (i, j) in [(0, 1), (0, 2), (2, 3), (1, 4)] {
            let freshResult = verifier.verify(fresh[i], fresh[j])
            let loadedResult = verifier.verify(loaded[i], loaded[j])
            #expect(freshResult.matches.count == loadedResult.matches.count)
            #expect(freshResult.result.inlierCount == loadedResult.result.inlierCount, "pair \(i)-\(j)")
        }
        // Same ASMK scores with one vocabulary.
        let vocabulary = try VisualVocabulary.train(
            Matrix(rows: fresh.reduce(0) { $0 + $1.count }, columns: 128, storage: fresh.flatMap(\.descriptors.storage)),
            size: 8, iterations: 5, seed: 0)
        var freshIndex = ASMKIndex(vocabulary: vocabulary), loadedIndex = ASMKIndex(vocabulary: vocabulary)
        for features in fresh { _ = freshIndex.add(imageDescriptors: features.descriptors) }
        for features in loaded { _ = loadedIndex.add(imageDescriptors: features.descriptors) }
        for query in fresh {
            let a = freshIndex.search([query.descriptors], k: 5)[0], b = loadedIndex.search([query.descriptors], k: 5)[0]
            #expect(a.map(\.index) == b.map(\.index))
            #expect(zip(a, b).allSatisfy { abs($0.score - $1.score) <= 1e-4 })
        }
    }

    @Test func localOnlyIndexSearchesWithASMK() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 2)
        let indexURL = temporary.path("index")
        let summary = try IndexBuilder.build(images: images, index: indexURL, extractor: nil, local: smallLocalConfiguration(),
                                             options: IndexBuildOptions(shardSize: 4))
        #expect(summary.described == entries.count && summary.skipped.isEmpty)
        let index = try RetrievalIndex.open(indexURL)
        #expect(!index.hasGlobalDescriptors && index.defaultRetrieval == .asmk)
        #expect(index.manifest.formatVersion == 2)
        let local = try #require(index.manifest.local)
        #expect(local.vocabularySize == 16 && local.maximumFeatures == 1000 && local.imageSize == 1024)
        #expect(index.store.identifiers == entries.map(\.relativePath).sorted())
        #expect(index.asmk?.imageCount == entries.count)
        #expect(index.localFeatureStore?.featureCount == local.featureCount)
        let first = try #require(index.localFeatures(ofImage: 0))
        #expect(first.count > 20 && first.descriptors.columns == 128)
        #expect(index.localFeatures(ofImage: entries.count) == nil)
        for name in [IndexLayout.localFeaturesFileName, IndexLayout.vocabularyFileName, IndexLayout.asmkFileName] {
            #expect(FileManager.default.fileExists(atPath: indexURL.appendingPathComponent(name).path))
        }
        #expect(!FileManager.default.fileExists(atPath: indexURL.appendingPathComponent(IndexLayout.workDirectoryName).path))

        // Photographs of a landmark: the query itself, or another view of its landmark, comes first.
        let landmarkOf = Dictionary(uniqueKeysWithValues: entries.map { ($0.relativePath, $0.landmark) })
        let queries = entries.prefix(4).map { images.appendingPathComponent($0.relativePath) }
        let outcomes = index.search(images: queries + [temporary.path("missing.jpg")], top: 3)
        for (entry, outcome) in zip(entries.prefix(4), outcomes) {
            let hits = try outcome.get()
            #expect(hits.count == 3)
            #expect(entry.landmark != nil)
            #expect(hits.map(\.image).contains(entry.relativePath))
            #expect(landmarkOf[hits.first?.image ?? ""] == entry.landmark)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        guard case .failure = outcomes[4] else {
            Issue.record("a missing query must fail")
            return
        }
        #expect(throws: PipelineError.self) { try index.search(images: queries, top: 3, retrieval: .global) }
        // An index with local features is not silently rebuilt without them.
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: images, index: indexURL, extractor: GradientColourHistogramBaseline())
        }
        // Issue 14, 5: a zeroed block of keypoints is found when the index opens, not searched with.
        let featuresURL = indexURL.appendingPathComponent(IndexLayout.localFeaturesFileName)
        var bytes = try [UInt8](Data(contentsOf: featuresURL))
        for offset in bytes.count / 2 ..< bytes.count / 2 + 256 { bytes[offset] = 0 }
        try Data(bytes).write(to: featuresURL)
        do {
            _ = try RetrievalIndex.open(indexURL)
            Issue.record("an index whose local features were damaged must not open")
        } catch {
            #expect(error.code == .invalidIndex && error.file == featuresURL.path)
        }
    }

    @Test("an index that gains images keeps its ASMK vocabulary unless told to retrain it")
    func vocabularyIsKeptWhenImagesAreAdded() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 2)
        // Start from all but two photographs, then add them.
        let held = temporary.path("held")
        try FileManager.default.createDirectory(at: held, withIntermediateDirectories: true)
        for entry in entries.suffix(2) {
            try FileManager.default.moveItem(at: images.appendingPathComponent(entry.relativePath),
                                             to: held.appendingPathComponent((entry.relativePath as NSString).lastPathComponent))
        }
        let indexURL = temporary.path("index")
        let vocabularyURL = indexURL.appendingPathComponent(IndexLayout.vocabularyFileName)
        _ = try IndexBuilder.build(images: images, index: indexURL, extractor: nil, local: smallLocalConfiguration())
        let first = try Data(contentsOf: vocabularyURL)
        for entry in entries.suffix(2) {
            try FileManager.default.moveItem(at: held.appendingPathComponent((entry.relativePath as NSString).lastPathComponent),
                                             to: images.appendingPathComponent(entry.relativePath))
        }
        _ = try IndexBuilder.build(images: images, index: indexURL, extractor: nil, local: smallLocalConfiguration())
        #expect(try Data(contentsOf: vocabularyURL) == first)
        let index = try RetrievalIndex.open(indexURL)
        #expect(index.asmk?.imageCount == entries.count)
        // Asked to retrain: the vocabulary of a fresh build of the whole folder.
        var retrain = smallLocalConfiguration()
        retrain.retrainVocabulary = true
        _ = try IndexBuilder.build(images: images, index: indexURL, extractor: nil, local: retrain)
        _ = try IndexBuilder.build(images: images, index: temporary.path("fresh"), extractor: nil, local: smallLocalConfiguration())
        #expect(try Data(contentsOf: vocabularyURL)
                == Data(contentsOf: temporary.path("fresh").appendingPathComponent(IndexLayout.vocabularyFileName)))
    }

    @Test func combinedIndexResumesFromLeftoverShardsAndOffersBothRankings() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 3, distractors: 2)
        let extractor = GradientColourHistogramBaseline()
        let reference = temporary.path("reference")
        _ = try IndexBuilder.build(images: images, index: reference, extractor: extractor, local: smallLocalConfiguration(),
                                   options: IndexBuildOptions(shardSize: 3))
        let complete = try RetrievalIndex.open(reference)
        #expect(complete.hasGlobalDescriptors && complete.defaultRetrieval == .global)
        #expect(complete.manifest.formatVersion == 2)

        // An interrupted run: the first three images' shards exist, nothing else.
        let interrupted = temporary.path("interrupted")
        let partial = try makeWorkDirectory(in: interrupted)
        let done = [0, 1, 2]
        let doneNames = done.map { complete.store.identifiers[$0] }
        try DescriptorStoreWriter.write(complete.store.rows(0 ..< 3), identifiers: doneNames,
                                        metadata: checkpointMetadata(complete.store.metadata, for: doneNames, below: images),
                                        to: partial.appendingPathComponent("shard-000000.lmd"))
        let localStore = try #require(complete.localFeatureStore)
        try LocalFeatureStoreWriter.write(done.map { localStore.record(at: $0) },
                                          metadata: checkpointMetadata(localStore.metadata, for: doneNames, below: images),
                                          to: partial.appendingPathComponent("local-000000.lmf"))
        let resumed = try IndexBuilder.build(images: images, index: interrupted, extractor: extractor,
                                             local: smallLocalConfiguration(), options: IndexBuildOptions(shardSize: 3))
        #expect(resumed.reused == 3)
        #expect(resumed.described == entries.count - 3)
        for name in [IndexLayout.storeFileName, IndexLayout.localFeaturesFileName, IndexLayout.vocabularyFileName,
                     IndexLayout.asmkFileName] {
            #expect(try Data(contentsOf: interrupted.appendingPathComponent(name))
                == Data(contentsOf: reference.appendingPathComponent(name)), "\(name)")
        }

        let index = try RetrievalIndex.open(interrupted)
        let query = [images.appendingPathComponent(entries[0].relativePath)]
        let global = try index.search(images: query, top: 2, retrieval: .global)[0].get()
        let asmk = try index.search(images: query, top: 2, retrieval: .asmk)[0].get()
        #expect(global.first?.image == entries[0].relativePath)
        #expect(asmk.first?.image == entries[0].relativePath)
    }

    @Test func globalOnlyIndexesKeepFormatOne() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 1)
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: GradientColourHistogramBaseline())
        let manifestURL = temporary.path("index/index.json")
        let json = try String(contentsOf: manifestURL, encoding: .utf8)
        #expect(json.contains("\"formatVersion\" : 1") && !json.contains("\"local\""))
        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.manifest.local == nil && index.asmk == nil && index.localFeatures(ofImage: 0) == nil)
        #expect(throws: PipelineError.self) {
            try index.search(images: [images.appendingPathComponent("images/x.jpg")], top: 1, retrieval: .asmk)
        }
    }
}

@Suite struct LocalIndexCommandLineTests {
    @Test func localOnlyIndexAndSearchFromTheCommandLine() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let index = temporary.path("index").path
        let built = try runLandmark(executable, ["index", images.path, "--out", index, "--descriptor", "none",
                                                 "--local", "rootsift-asmk", "--vocabulary-size", "16", "--quiet"])
        #expect(built.status == 0, "\(built.error)")
        let query = images.appendingPathComponent(entries[0].relativePath).path
        let found = try runLandmark(executable, ["search", index, query, "--top", "2", "--json"])
        #expect(found.status == 0, "\(found.error)")
        #expect(found.output.contains("\"results\""))
        let global = try runLandmark(executable, ["search", index, query, "--retrieval", "global"])
        #expect(global.status == 1)
        #expect(global.error.contains("--retrieval asmk"))
        let noLocal = try runLandmark(executable, ["index", images.path, "--out", temporary.path("other").path,
                                                   "--descriptor", "none", "--quiet"])
        #expect(noLocal.status != 0)
    }
}
