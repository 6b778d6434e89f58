import Foundation
import LandmarkDescriptors
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPipeline
import Testing

@Suite struct IndexBuilderTests {
    let extractor = GradientColourHistogramBaseline()

    /// With content verification, a touched photo is reused and a photo edited in place under its old
    /// size and time is described again; by time and inode alone, the opposite.
    @Test func contentVerificationDecidesReuseByTheBytes() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 0)
        let index = temporary.path("index")
        var options = IndexBuildOptions()
        options.verifyContent = true
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: options)
        let touched = images.appendingPathComponent(entries[0].relativePath)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 100)], ofItemAtPath: touched.path)
        var summary = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: options)
        #expect(summary.described == 0, "a touched photo with the same bytes is reused")
        // An edit that keeps the size (the JFIF header's pixel density), written back under the old time.
        let edited = images.appendingPathComponent(entries[1].relativePath)
        let time = try #require(try FileManager.default.attributesOfItem(atPath: edited.path)[.modificationDate] as? Date)
        var bytes = try Data(contentsOf: edited)
        #expect(bytes[6 ..< 10] == Data("JFIF".utf8))
        bytes[15] ^= 0x01
        try bytes.write(to: edited)
        try FileManager.default.setAttributes([.modificationDate: time], ofItemAtPath: edited.path)
        summary = try IndexBuilder.build(images: images, index: index, extractor: extractor, options: options)
        #expect(summary.described == 1, "an in-place edit under the old time is caught by the content")
        // Without verification, time and inode decide again: the touched photo is described anew.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 200)], ofItemAtPath: touched.path)
        summary = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(summary.described == 1)
    }

    /// When no image of a first run can be read, no index is written: an empty one would pass for success.
    @Test func aFirstRunThatDescribesNothingWritesNoIndex() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try Data().write(to: images.appendingPathComponent("empty.jpg"))
        try Data("not a picture".utf8).write(to: images.appendingPathComponent("text.png"))
        let index = temporary.path("index")
        #expect {
            _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        } throws: { error in
            "\(error)".contains("none of its 2 images could be read")
        }
        #expect(!FileManager.default.fileExists(atPath: index.appendingPathComponent(IndexManifest.fileName).path))
        #expect(!FileManager.default.fileExists(atPath: index.appendingPathComponent(IndexLayout.storeFileName).path))
        #expect(!FileManager.default.fileExists(atPath: index.appendingPathComponent(IndexLayout.workDirectoryName).path))
    }

    /// A store a killed run was replacing stays behind as a temporary file as large as the store; the
    /// next run on the index removes it (and only it).
    @Test func aRerunRemovesTheTemporaryFilesOfAKilledRun() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 0)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let leftover = index.appendingPathComponent(".descriptors.lmd.tmp-\(child.processIdentifier)-4242")
        try Data(repeating: 7, count: 4096).write(to: leftover)
        let unrelated = index.appendingPathComponent("my-notes.txt")
        try Data("keep".utf8).write(to: unrelated)
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        #expect(FileManager.default.fileExists(atPath: unrelated.path))
    }

    @Test func indexesGoodImagesAndReportsTheUnreadableOnes() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 3, distractors: 1)
        // Unreadable files among the photographs, and a file that is not an image at all.
        try Data().write(to: images.appendingPathComponent("images/empty.jpg"))
        try Data("not a picture".utf8).write(to: images.appendingPathComponent("images/text.png"))
        try Data("notes".utf8).write(to: images.appendingPathComponent("notes.txt"))

        let summary = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: extractor,
                                             options: IndexBuildOptions(shardSize: 2))
        #expect(summary.total == entries.count + 2)
        #expect(summary.described == entries.count)
        #expect(summary.skipped.map(\.image) == ["images/empty.jpg", "images/text.png"])
        #expect(summary.skipped.allSatisfy { !$0.reason.isEmpty })

        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.manifest.count == entries.count)
        #expect(index.store.identifiers == entries.map(\.relativePath).sorted())
        #expect(index.manifest.skipped.count == 2)
        #expect(!FileManager.default.fileExists(atPath: temporary.path("index/" + IndexLayout.workDirectoryName).path))
    }

    /// Issue 14, 1: the tool deletes only what it created, and never fills a folder that is not an index.
    @Test func neverDeletesOrFillsWhatItDidNotCreate() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let fileManager = FileManager.default
        // `landmark index data/partial --out data`: the photos live inside --out, which is no index.
        let data = temporary.path("data")
        let photos = data.appendingPathComponent("partial")
        let entries = try makeSyntheticDataset(in: photos, landmarks: 2, views: 2, distractors: 1)
        do {
            _ = try IndexBuilder.build(images: photos, index: data, extractor: extractor)
            Issue.record("a non-empty --out that is not an index must be refused")
        } catch {
            #expect(error.code == .invalidRequest && error.file == data.path)
        }
        for entry in entries { #expect(fileManager.fileExists(atPath: photos.appendingPathComponent(entry.relativePath).path)) }
        #expect(try fileManager.contentsOfDirectory(atPath: data.path) == ["partial"])

        // A folder named like the old work folder inside a real index survives every run.
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        let userFolder = index.appendingPathComponent("partial")
        try fileManager.createDirectory(at: userFolder, withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: userFolder.appendingPathComponent("notes.txt"))
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        #expect(try Data(contentsOf: userFolder.appendingPathComponent("notes.txt")) == Data("keep".utf8))

        // A work folder with something of the user's in it: checkpoints go, the user's file stays.
        let work = try makeWorkDirectory(in: index)
        try Data("mine".utf8).write(to: work.appendingPathComponent("mine.txt"))
        _ = try IndexBuilder.build(images: photos, index: index, extractor: extractor)
        #expect(try fileManager.contentsOfDirectory(atPath: work.path).sorted() == [IndexLayout.workMarkerFileName, "mine.txt"])

        // A folder of that name the tool did not make (no marker) is refused and left alone.
        try fileManager.removeItem(at: work)
        try fileManager.createDirectory(at: work, withIntermediateDirectories: true)
        try Data("theirs".utf8).write(to: work.appendingPathComponent("shard-000000.lmd"))
        #expect(throws: PipelineError.self) { try IndexBuilder.build(images: photos, index: index, extractor: extractor) }
        #expect(try Data(contentsOf: work.appendingPathComponent("shard-000000.lmd")) == Data("theirs".utf8))
    }

    @Test func rerunReusesDescriptorsAndWritesTheSameStore() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        let first = try Data(contentsOf: index.appendingPathComponent(IndexLayout.storeFileName))
        let again = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(again.described == 0)
        #expect(again.reused == again.total)
        #expect(try Data(contentsOf: index.appendingPathComponent(IndexLayout.storeFileName)) == first)
    }

    /// Issue 14, 2: a descriptor is reused only for the file it was made from (size, modification time, inode).
    @Test func replacedOrTouchedPhotosAreDescribedAgain() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1).map(\.relativePath).sorted()
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        func descriptor(_ name: String) throws -> [Float] {
            let store = try RetrievalIndex.open(index).store
            return store.descriptor(at: try #require(store.identifiers.firstIndex(of: name)))
        }
        let (replaced, source, touched) = (entries[0], entries[3], entries[1])
        let before = try descriptor(replaced)
        #expect(try descriptor(source) != before)
        // Another photo under the same name (a new file: new inode), and a file only touched.
        let replacedURL = images.appendingPathComponent(replaced)
        try FileManager.default.removeItem(at: replacedURL)
        try FileManager.default.copyItem(at: images.appendingPathComponent(source), to: replacedURL)
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: replacedURL.path)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)],
                                              ofItemAtPath: images.appendingPathComponent(touched).path)
        let rerun = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(rerun.described == 2 && rerun.reused == entries.count - 2 && rerun.removed == 0)
        #expect(try descriptor(replaced) == descriptor(source))
        #expect(try RetrievalIndex.open(index).store.identifiers.sorted() == entries)
        let unchanged = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(unchanged.described == 0 && unchanged.reused == entries.count)
        // One fingerprint table, the one the manifest names.
        let tables = try FileManager.default.contentsOfDirectory(atPath: index.path).filter { $0.hasPrefix("image-fingerprints+") }
        #expect(tables == [try #require(RetrievalIndex.open(index).manifest.fingerprints)])
    }

    /// Issue 14, 2: a checkpoint of an interrupted run is reused only when its file is unchanged since.
    @Test func resumedRunDescribesAgainWhatChangedSinceItsCheckpoint() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 1, views: 3, distractors: 0).map(\.relativePath).sorted()
        for (fingerprintMatches, expectReused) in [(true, true), (false, false)] {
            let index = temporary.path("index-\(fingerprintMatches)")
            let work = try makeWorkDirectory(in: index)
            // A checkpoint holding a vector no photo has, as if described before the file was replaced.
            let marker = [Float](repeating: 0.5, count: extractor.dimension)
            var recorded = ImageFingerprintTable.current(of: [entries[0]], in: images)
            if !fingerprintMatches { recorded.images[entries[0]]?.modified -= 1 }
            try DescriptorStoreWriter.write(Matrix(rows: 1, columns: extractor.dimension, storage: marker), identifiers: [entries[0]],
                                            metadata: ["descriptor": extractor.name,
                                                       ImageFingerprintTable.metadataKey: recorded.metadataValue(file: "")],
                                            to: work.appendingPathComponent("shard-000000.lmd"))
            let summary = try IndexBuilder.build(images: images, index: index, extractor: extractor)
            #expect(summary.reused == (expectReused ? 1 : 0))
            let store = try RetrievalIndex.open(index).store
            #expect((store.descriptor(at: try #require(store.identifiers.firstIndex(of: entries[0]))) == marker) == expectReused)
        }
    }

    /// Issue 14, 2: indexing another folder into an index must be asked for; then unchanged files are reused.
    @Test func anotherFolderIsRefusedUnlessAskedFor() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let first = temporary.path("first"), second = temporary.path("second")
        let entries = try makeSyntheticDataset(in: first, landmarks: 2, views: 2, distractors: 0).map(\.relativePath).sorted()
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: first, index: index, extractor: extractor)
        // The second folder holds one of the photos (moved, so the same file) and nothing else.
        try FileManager.default.createDirectory(at: second.appendingPathComponent(entries[0]).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: first.appendingPathComponent(entries[0]), to: second.appendingPathComponent(entries[0]))
        do {
            _ = try IndexBuilder.build(images: second, index: index, extractor: extractor)
            Issue.record("indexing another folder into an index must be refused without --change-folder")
        } catch {
            #expect(error.code == .invalidRequest && error.reason.contains("--change-folder"))
        }
        #expect(try RetrievalIndex.open(index).manifest.count == entries.count)
        let moved = try IndexBuilder.build(images: second, index: index, extractor: extractor, options: IndexBuildOptions(changeFolder: true))
        #expect(moved.reused == 1 && moved.described == 0 && moved.removed == entries.count - 1)
        let reopened = try RetrievalIndex.open(index)
        #expect(reopened.manifest.imageRoot == second.standardizedFileURL.resolvingSymlinksInPath().path)
        #expect(reopened.store.identifiers == [entries[0]])
    }

    /// An index made before fingerprints were recorded is trusted by name once, then fingerprinted.
    @Test func indexWithoutFingerprintsGetsThemOnItsNextRun() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 1)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        let manifestURL = index.appendingPathComponent(IndexManifest.fileName)
        var manifest = try JSONDecoder().decode(IndexManifest.self, from: Data(contentsOf: manifestURL))
        // As written before fingerprints (and checksums) existed.
        manifest.fingerprints = nil
        manifest.checksum = nil
        try JSONEncoder().encode(manifest).write(to: manifestURL)
        let rerun = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        #expect(rerun.described == 0 && rerun.reused == rerun.total)
        #expect(try RetrievalIndex.open(index).manifest.fingerprints != nil)
        // A manifest naming a table outside the directory is refused.
        manifest = try JSONDecoder().decode(IndexManifest.self, from: Data(contentsOf: manifestURL))
        manifest.fingerprints = "../image-fingerprints+00000000.json"
        manifest = manifest.sealed()
        try JSONEncoder().encode(manifest).write(to: manifestURL)
        #expect(throws: PipelineError.self) { try IndexBuilder.build(images: images, index: index, extractor: extractor) }
    }

    /// Issue 14, 3: one writer at a time, named to the second; readers are not blocked.
    @Test func aSecondWriterIsRefusedWhileTheLockIsHeld() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 1)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
        // Another writer: the lock taken through a separate open file, as another process takes it.
        let lockPath = index.appendingPathComponent(IndexLayout.lockFileName).path
        let descriptor = open(lockPath, O_RDWR)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        try #require(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        try Data("4242\n".utf8).write(to: URL(fileURLWithPath: lockPath))
        do {
            _ = try IndexBuilder.build(images: images, index: index, extractor: extractor)
            Issue.record("a second writer must be refused while the lock is held")
        } catch {
            #expect(error.code == .indexBusy && error.file == index.path && error.reason.contains("process 4242"))
        }
        #expect(throws: PipelineError.self) {
            try IndexUpdate(removals: ["anything.jpg"]).apply(to: index)
        }
        #expect(try RetrievalIndex.open(index).manifest.count == 3)
        _ = flock(descriptor, LOCK_UN)
        #expect(try IndexBuilder.build(images: images, index: index, extractor: extractor).reused == 3)
    }

    @Test func refusesAnIndexBuiltWithAnotherDescriptor() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0)
        let index = temporary.path("index")
        _ = try IndexBuilder.build(images: images, index: index, extractor: GradientColourHistogramBaseline(inputSize: 128))
        // Same name, so this succeeds; a store with another name must be refused.
        try DescriptorStoreWriter.write(.init(rows: 1, columns: 3, storage: [1, 0, 0]), identifiers: ["x.jpg"],
                                        metadata: ["descriptor": "other"], to: index.appendingPathComponent(IndexLayout.storeFileName))
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: images, index: index, extractor: extractor)
        }
    }

    @Test func emptyOrMissingFoldersAreClearErrors() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: temporary.path("missing"), index: temporary.path("index"), extractor: extractor)
        }
        try FileManager.default.createDirectory(at: temporary.path("empty"), withIntermediateDirectories: true)
        #expect(throws: PipelineError.self) {
            try IndexBuilder.build(images: temporary.path("empty"), index: temporary.path("index"), extractor: extractor)
        }
        #expect(throws: PipelineError.self) { try RetrievalIndex.open(temporary.path("empty")) }
    }

    @Test func searchFindsTheQueryItselfFirst() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 2)
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: extractor)
        let index = try RetrievalIndex.open(temporary.path("index"))
        let queries = entries.prefix(3).map { images.appendingPathComponent($0.relativePath) }
        let outcomes = index.search(images: queries + [temporary.path("nothing.jpg")], top: 4)
        for (entry, outcome) in zip(entries.prefix(3), outcomes) {
            let hits = try outcome.get()
            #expect(hits.count == 4)
            #expect(hits.first?.image == entry.relativePath)
            #expect(abs((hits.first?.score ?? 0) - 1) < 1e-4)
            #expect(zip(hits, hits.dropFirst()).allSatisfy { $0.score >= $1.score })
        }
        guard case .failure = outcomes[3] else {
            Issue.record("a missing query file must fail")
            return
        }
    }
}

@Suite struct BadImageCorpusTests {
    /// The image module's corpus of broken files (empty, truncated, corrupt, wrong type, bombs…).
    static let corpus = packageRoot.appendingPathComponent("Tests/LandmarkImageTests/Fixtures/bad")

    @Test func indexingAFolderWithTheWholeBadCorpusSkipsEachFileAndIndexesTheRest() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let badDirectory = images.appendingPathComponent("bad")
        try FileManager.default.copyItem(at: Self.corpus, to: badDirectory)
        let badImages = try ImageCollection.scan(badDirectory).map { "bad/" + $0 }
        #expect(badImages.count >= 10)

        let summary = try IndexBuilder.build(images: images, index: temporary.path("index"),
                                             extractor: GradientColourHistogramBaseline())
        #expect(summary.described == entries.count)
        #expect(summary.skipped.map(\.image) == badImages.sorted())
        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.store.count == entries.count)
    }
}

/// Issue 14, 3 (scanning): every entry that may be a photograph is indexed or reported with a reason.
@Suite struct ImageScanTests {
    @Test func linksHiddenFilesAndUndecodableNamesAreReportedNotLost() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0).map(\.relativePath).sorted()
        let fileManager = FileManager.default
        let photo = images.appendingPathComponent(entries[0])
        try fileManager.createSymbolicLink(at: images.appendingPathComponent("link.jpg"), withDestinationURL: photo)
        try fileManager.createSymbolicLink(at: images.appendingPathComponent("loop"), withDestinationURL: images)
        try fileManager.createSymbolicLink(at: images.appendingPathComponent("dangling"), withDestinationURL: images.appendingPathComponent("gone"))
        try fileManager.copyItem(at: photo, to: images.appendingPathComponent(".hidden.jpg"))
        try Data("ignored".utf8).write(to: images.appendingPathComponent("notes.txt"))
        // A name with a byte that is not UTF-8 (Latin-1 "é"), as old cameras and archives write them.
        let latin1Name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".jpg".utf8)
        let rawPath = Array(images.path.utf8) + [UInt8(ascii: "/")] + latin1Name
        let descriptor = open(rawPath.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT, 0o644)
        try #require(descriptor >= 0)
        close(descriptor)

        let scan = try ImageCollection.scanReporting(images)
        #expect(scan.images == entries)
        let reported = Dictionary(uniqueKeysWithValues: scan.leftOut.map { ($0.image, $0.reason) })
        #expect(Set(reported.keys) == [".hidden.jpg", "caf\\xE9.jpg", "dangling", "link.jpg", "loop/"])
        #expect(reported["link.jpg"]?.contains("symbolic link") == true)
        #expect(reported["caf\\xE9.jpg"]?.contains("UTF-8") == true)

        // The index run reports them with the images that failed (exit code 3 on the command line).
        let summary = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: GradientColourHistogramBaseline())
        #expect(summary.total == entries.count + reported.count)
        #expect(Set(summary.skipped.map(\.image)) == Set(reported.keys))
        #expect(try RetrievalIndex.open(temporary.path("index")).store.identifiers == entries)
    }

    @Test(.enabled(if: geteuid() != 0, "root reads every folder, so an unreadable one cannot be made"))
    func unreadableFoldersAreReported() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0)
        let closed = images.appendingPathComponent("closed")
        try FileManager.default.createDirectory(at: closed, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: closed.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: closed.path) }
        let scan = try ImageCollection.scanReporting(images)
        #expect(scan.leftOut.map(\.image) == ["closed/"])
    }
}
