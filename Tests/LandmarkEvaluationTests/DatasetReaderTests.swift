import Foundation
import Testing
import LandmarkEvaluation
import LandmarkPickle

@Suite struct RevisitedDatasetTests {
    @Test func loadsBothLayoutsAndBuildsProtocols() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let nested = root.appendingPathComponent("roxford5k")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.url("gnd_numpy_python2.pkl"), to: nested.appendingPathComponent("gnd_roxford5k.pkl"))
        try FileManager.default.copyItem(at: Fixtures.url("gnd_lists_p4.pkl"), to: root.appendingPathComponent("gnd_rparis6k.pkl"))

        let oxford = try RevisitedDataset.load(name: "roxford5k", root: root)
        let paris = try RevisitedDataset.load(name: "rparis6k", root: root)
        #expect(oxford.imageNames == paris.imageNames && oxford.queries == paris.queries)
        #expect(oxford.imageURL("all_souls_000001").path == nested.path + "/jpg/all_souls_000001.jpg")
        #expect(paris.imageURL("x").path == root.path + "/jpg/x.jpg")

        let query = oxford.queries[2]
        let easy = oxford.groundTruth(.easy)[2], medium = oxford.groundTruth(.medium)[2], hard = oxford.groundTruth(.hard)[2]
        #expect(easy == QueryGroundTruth(positives: query.easy, junk: query.junk + query.hard))
        #expect(medium == QueryGroundTruth(positives: query.easy + query.hard, junk: query.junk))
        #expect(hard == QueryGroundTruth(positives: query.hard, junk: query.junk + query.easy))

        #expect { try RevisitedDataset.load(name: "rparis6k", root: nested) } throws: { error in
            (error as? DatasetError)?.code == .unreadable
        }
    }

    @Test func rejectsWrongStructure() throws {
        let value = PickleValue.dictionary([
            PickleDictionaryEntry(key: .string("imlist"), value: .list([.string("a")])),
            PickleDictionaryEntry(key: .string("qimlist"), value: .list([.string("a")])),
            PickleDictionaryEntry(key: .string("gnd"), value: .list([.dictionary([
                PickleDictionaryEntry(key: .string("bbx"), value: .list([.int(0), .int(0), .float(2.5), .int(3)])),
                PickleDictionaryEntry(key: .string("easy"), value: .list([.int(4)])),
            ])])),
        ])
        #expect { try RevisitedDataset.parse(value, name: "x", directory: URL(fileURLWithPath: "/"), file: "g.pkl") } throws: { error in
            (error as? DatasetError)?.reason.contains("outside the 1 database images") == true
        }
    }

    @Test func cropRoundsLikePILAndClamps() {
        let query = RevisitedQuery(boundingBox: (x0: 10.5, y0: 11.5, x1: 120.4, y1: 999), easy: [], hard: [], junk: [])
        let crop = query.cropRectangle(imageWidth: 100, imageHeight: 200)
        #expect(crop.x == 10 && crop.y == 12 && crop.width == 90 && crop.height == 188)
    }
}

@Suite struct FolderBenchmarkTests {
    private func makeFolder(_ tsv: String, files: [String]) throws -> URL {
        let directory = try Fixtures.temporaryDirectory()
        for file in files {
            let url = directory.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data([0]).write(to: url)
        }
        try Data(tsv.utf8).write(to: directory.appendingPathComponent("ground_truth.tsv"))
        return directory
    }

    private func loadError(_ tsv: String, files: [String]) throws -> DatasetError? {
        let directory = try makeFolder(tsv, files: files)
        defer { try? FileManager.default.removeItem(at: directory) }
        do {
            _ = try FolderBenchmark.load(directory)
            return nil
        } catch {
            return error
        }
    }

    @Test func loadsQueriesPositivesAndDistractors() throws {
        let files = ["images/a1.jpg", "images/a2.jpg", "images/b1.png", "images/d1.jpg", "images/a3.jpg"]
        let directory = try makeFolder("image\tlandmark\r\nimages/a1.jpg\ta\nimages/a2.jpg\ta\n\nimages/b1.png\tb\nimages/d1.jpg\t\nimages/a3.jpg\ta\n",
                                       files: files)
        defer { try? FileManager.default.removeItem(at: directory) }
        let benchmark = try FolderBenchmark.load(directory)
        #expect(benchmark.images == files)
        #expect(benchmark.labels == ["a", "a", "b", nil, "a"])
        #expect(benchmark.queryIndices == [0, 1, 2, 4])
        #expect(benchmark.groundTruth(forQuery: 1) == QueryGroundTruth(positives: [0, 4], junk: [1]))
        #expect(benchmark.groundTruth(forQuery: 2) == QueryGroundTruth(positives: [], junk: [2]))
        #expect(benchmark.imageURL(3).path == directory.path + "/images/d1.jpg")

        // The query itself is junk: ranking it first or leaving it out scores the same.
        let truth = benchmark.groundTruth(forQuery: 0)
        let withSelf = RetrievalMetrics.evaluate(rankings: [[0, 3, 1, 2, 4]], groundTruth: [truth])
        let withoutSelf = RetrievalMetrics.evaluate(rankings: [[3, 1, 2, 4]], groundTruth: [truth])
        #expect(withSelf == withoutSelf)
    }

    @Test func reportsMalformedFilesWithLineNumbers() throws {
        let header = "image\tlandmark\n"
        let cases: [(String, [String], DatasetError.Code, String)] = [
            ("name\tlabel\na.jpg\tx\n", ["a.jpg"], .malformedText, "line 1: header"),
            (header + "a.jpg\tx\nb.jpg\n", ["a.jpg", "b.jpg"], .malformedText, "line 3: expected 2"),
            (header + "a.jpg\tx\textra\n", ["a.jpg"], .malformedText, "line 2: expected 2"),
            (header + "a.jpg\tx\nb.jpg\ty\na.jpg\tz\n", ["a.jpg", "b.jpg"], .duplicateEntry, "line 4: `a.jpg` is already listed on line 2"),
            (header + "a.jpg\tx\nmissing.jpg\tx\n", ["a.jpg"], .missingFile, "line 3: image `missing.jpg`"),
            (header + "/etc/passwd\tx\n", [], .malformedText, "line 2: image path"),
            (header + "../a.jpg\tx\n", [], .malformedText, "line 2: image path"),
            ("", [], .malformedText, "line 1"),
        ]
        for (tsv, files, code, reason) in cases {
            let error = try #require(try loadError(tsv, files: files), "\(tsv.debugDescription) should fail")
            #expect(error.code == code, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.file.hasSuffix("ground_truth.tsv"))
        }
        let missing = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: missing) }
        #expect { try FolderBenchmark.load(missing) } throws: { ($0 as? DatasetError)?.code == .unreadable }
    }

    @Test(.enabled(if: Fixtures.devset != nil, "needs ../shared/devset"))
    func loadsTheDevelopmentSet() throws {
        let benchmark = try FolderBenchmark.load(try #require(Fixtures.devset))
        #expect(benchmark.images.count == 69)
        #expect(benchmark.queryIndices.count == 57)
        #expect(benchmark.labels.filter { $0 == nil }.count == 12)
        #expect(Set(benchmark.labels.compactMap { $0 }).count == 18)
        // Every devset landmark has at least two photos, so every query has a positive.
        #expect(benchmark.queryIndices.allSatisfy { !benchmark.groundTruth(forQuery: $0).positives.isEmpty })
        // A perfect ranking (positives first) scores mAP 1.
        let queries = benchmark.queryIndices
        let truths = queries.map { benchmark.groundTruth(forQuery: $0) }
        let rankings = truths.map { truth in truth.positives + benchmark.images.indices.filter { !truth.positives.contains($0) } }
        #expect(RetrievalMetrics.evaluate(rankings: rankings, groundTruth: truths).meanAveragePrecision == 1)
    }
}

@Suite struct GLDv2ReaderTests {
    @Test func csvHandlesQuotesAndLineEnds() throws {
        let table = try CSVTable.parse("id,url,landmark_id\r\n1,\"http://x/a,b\",7\r\n\n2,\"say \"\"hi\"\"\nthere\",8\n3,,9", file: "t.csv")
        #expect(table.header == ["id", "url", "landmark_id"])
        #expect(table.rows == [["1", "http://x/a,b", "7"], ["2", "say \"hi\"\nthere", "8"], ["3", "", "9"]])
        #expect(table.lineNumbers == [2, 4, 6])
        let failures: [(String, String)] = [
            ("a,b\n1,\"open\n", "line 2: a quoted field is never closed"),
            ("a,b\n1,2\n3\n", "line 3: 1 fields"),
            ("a,b\n1,x\"y\n", "line 2: a quote inside"),
            ("a,b\n1,\"x\"y\n", "line 2: text after the closing quote"),
        ]
        for (text, reason) in failures {
            #expect { try CSVTable.parse(text, file: "t.csv") } throws: { error in
                guard let error = error as? DatasetError else { return false }
                return error.code == .malformedText && error.reason.contains(reason) && error.file == "t.csv"
            }
        }
    }

    @Test func readsTheDatasetFiles() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func write(_ name: String, _ text: String) throws { try Data(text.utf8).write(to: root.appendingPathComponent(name)) }
        try write("train.csv", "id,url,landmark_id\n6e158a47eb2ca3f6,\"https://upload.wikimedia.org/a,b.jpg\",142820\n202cd79556f30760,http://x/y.jpg,104169\n")
        try write("index.csv", "id\n0000059611c7d079\n00001ba8e0f7f7b8\n")
        try write("test.csv", "id\n00006dcbe6b2f0c4\n")
        try write("retrieval_solution_v2.1.csv", "id,images,Usage\n00006dcbe6b2f0c4,0000059611c7d079 00001ba8e0f7f7b8,Private\nabc,None,Ignored\n")
        try write("recognition_solution_v2.1.csv", "id,landmarks,Usage\n00006dcbe6b2f0c4,142820,Public\nabc,,Private\ndef,1 2,Ignored\n")
        let dataset = GLDv2Dataset(root: root)
        #expect(try dataset.trainImages() == [
            GLDv2TrainImage(id: "6e158a47eb2ca3f6", url: "https://upload.wikimedia.org/a,b.jpg", landmarkID: "142820"),
            GLDv2TrainImage(id: "202cd79556f30760", url: "http://x/y.jpg", landmarkID: "104169"),
        ])
        #expect(try dataset.indexIDs() == ["0000059611c7d079", "00001ba8e0f7f7b8"])
        #expect(try dataset.testIDs() == ["00006dcbe6b2f0c4"])
        let retrieval = try dataset.retrievalSolution()
        #expect(retrieval.solution() == ["00006dcbe6b2f0c4": ["0000059611c7d079", "00001ba8e0f7f7b8"]])
        #expect(retrieval.usage["abc"] == .ignored)
        let recognition = try dataset.recognitionSolution()
        #expect(recognition.solution() == ["00006dcbe6b2f0c4": ["142820"], "abc": []])
        #expect(recognition.solution(for: [.ignored]) == ["def": ["1", "2"]])
        #expect(dataset.imageURL(split: .index, id: "0000059611c7d079").path == root.path + "/index/0/0/0/0000059611c7d079.jpg")

        try write("index.csv", "id\nx\nx\n")
        #expect { try dataset.indexIDs() } throws: { ($0 as? DatasetError)?.reason.contains("line 3") == true }
        try write("test.csv", "url\nx\n")
        #expect { try dataset.testIDs() } throws: { ($0 as? DatasetError)?.reason.contains("lacks column `id`") == true }
        try write("recognition_solution_v2.1.csv", "id,landmarks,Usage\na,1,Secret\n")
        #expect { try dataset.recognitionSolution() } throws: { ($0 as? DatasetError)?.reason.contains("line 2: Usage") == true }
    }
}
