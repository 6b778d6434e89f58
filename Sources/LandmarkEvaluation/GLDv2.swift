import Foundation

/// One image of GLDv2 `train.csv`.
public struct GLDv2TrainImage: Sendable, Equatable {
    public var id: String
    public var url: String
    public var landmarkID: String

    public init(id: String, url: String, landmarkID: String) {
        self.id = id
        self.url = url
        self.landmarkID = landmarkID
    }
}

/// The subsets of the GLDv2 test set: the challenges scored Public and Private separately and ignored the
/// rest.
public enum GLDv2Usage: String, CaseIterable, Sendable {
    case `public` = "Public"
    case `private` = "Private"
    case ignored = "Ignored"
}

/// A GLDv2 solution file (`retrieval_solution_v2.1.csv` or `recognition_solution_v2.1.csv`).
public struct GLDv2Solution: Sendable, Equatable {
    /// Test id → ground-truth ids (index image ids for retrieval, landmark ids for recognition); empty for a
    /// test image without landmark.
    public var truth: [String: [String]]
    /// Test id → its subset.
    public var usage: [String: GLDv2Usage]

    public init(truth: [String: [String]], usage: [String: GLDv2Usage]) {
        self.truth = truth
        self.usage = usage
    }

    /// The solution restricted to the given subsets, as the metrics take it (Ignored ids are never scored).
    public func solution(for usages: Set<GLDv2Usage> = [.public, .private]) -> [String: [String]] {
        truth.filter { usages.contains(usage[$0.key] ?? .ignored) }
    }
}

/// The Google Landmarks Dataset v2 as downloaded: CSV metadata and images under
/// `<root>/<split>/<a>/<b>/<c>/<id>.jpg`, where a, b, c are the first three characters of the id.
public struct GLDv2Dataset: Sendable {
    public enum Split: String, CaseIterable, Sendable { case train, index, test }

    public let root: URL

    public init(root: URL) { self.root = root }

    /// `<root>/<split>/<a>/<b>/<c>/<id>.jpg`.
    public func imageURL(split: Split, id: String) -> URL {
        var url = root.appendingPathComponent(split.rawValue, isDirectory: true)
        for character in id.prefix(3) { url.appendPathComponent(String(character), isDirectory: true) }
        return url.appendingPathComponent(id + ".jpg")
    }

    /// A metadata file: `<root>/<name>` if it exists, else `<root>/metadata/<name>`.
    public func metadataURL(_ name: String) -> URL {
        let direct = root.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: direct.path) { return direct }
        let nested = root.appendingPathComponent("metadata", isDirectory: true).appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: nested.path) ? nested : direct
    }

    public func trainImages() throws(DatasetError) -> [GLDv2TrainImage] {
        try Self.readTrain(metadataURL("train.csv"))
    }

    public func indexIDs() throws(DatasetError) -> [String] { try Self.readIDs(metadataURL("index.csv")) }

    public func testIDs() throws(DatasetError) -> [String] { try Self.readIDs(metadataURL("test.csv")) }

    public func retrievalSolution() throws(DatasetError) -> GLDv2Solution {
        try Self.readSolution(metadataURL("retrieval_solution_v2.1.csv"), truthColumn: "images")
    }

    public func recognitionSolution() throws(DatasetError) -> GLDv2Solution {
        try Self.readSolution(metadataURL("recognition_solution_v2.1.csv"), truthColumn: "landmarks")
    }

    /// `train.csv`: columns id, url, landmark_id.
    public static func readTrain(_ url: URL) throws(DatasetError) -> [GLDv2TrainImage] {
        let table = try CSVTable.read(contentsOf: url)
        let columns = try table.columns(["id", "url", "landmark_id"], file: url.path)
        var images: [GLDv2TrainImage] = []
        images.reserveCapacity(table.rows.count)
        for (row, line) in zip(table.rows, table.lineNumbers) {
            let image = GLDv2TrainImage(id: row[columns[0]], url: row[columns[1]], landmarkID: row[columns[2]])
            guard !image.id.isEmpty, !image.landmarkID.isEmpty else {
                throw DatasetError(code: .malformedText, file: url.path, reason: "line \(line): empty id or landmark_id")
            }
            images.append(image)
        }
        return images
    }

    /// `index.csv` or `test.csv`: the `id` column (other columns, such as `url`, are ignored).
    public static func readIDs(_ url: URL) throws(DatasetError) -> [String] {
        let table = try CSVTable.read(contentsOf: url)
        let column = try table.columns(["id"], file: url.path)[0]
        var ids: [String] = []
        ids.reserveCapacity(table.rows.count)
        var seen = Set<String>()
        for (row, line) in zip(table.rows, table.lineNumbers) {
            let id = row[column]
            guard !id.isEmpty else { throw DatasetError(code: .malformedText, file: url.path, reason: "line \(line): empty id") }
            guard seen.insert(id).inserted else {
                throw DatasetError(code: .duplicateEntry, file: url.path, reason: "line \(line): id \(id) is listed twice")
            }
            ids.append(id)
        }
        return ids
    }

    /// A solution file: columns id, `truthColumn` (space-separated ids; empty or `None` for no landmark) and
    /// Usage (Public, Private or Ignored), as the challenge's own reader parses them.
    public static func readSolution(_ url: URL, truthColumn: String) throws(DatasetError) -> GLDv2Solution {
        let table = try CSVTable.read(contentsOf: url)
        let columns = try table.columns(["id", truthColumn, "Usage"], file: url.path)
        var truth: [String: [String]] = [:]
        var usage: [String: GLDv2Usage] = [:]
        for (row, line) in zip(table.rows, table.lineNumbers) {
            let id = row[columns[0]]
            guard let subset = GLDv2Usage(rawValue: row[columns[2]]) else {
                throw DatasetError(code: .malformedText, file: url.path,
                                   reason: "line \(line): Usage `\(row[columns[2]])` is not Public, Private or Ignored")
            }
            guard usage[id] == nil else {
                throw DatasetError(code: .duplicateEntry, file: url.path, reason: "line \(line): id \(id) is listed twice")
            }
            let ids = row[columns[1]].split(separator: " ").map(String.init).filter { $0 != "None" }
            truth[id] = ids
            usage[id] = subset
        }
        return GLDv2Solution(truth: truth, usage: usage)
    }
}
