import Foundation
import LandmarkEvaluation

/// Labelled (or mined) photos to fine-tune on: every image with the class (landmark or mined cluster)
/// it belongs to, and optionally the query–positive pairs a tuple file names.
///
/// One type for every source (METHODS.md §7 and §9) so that the loop never knows where labels came from:
/// - a folder benchmark (a folder with `ground_truth.tsv`, header `image<TAB>landmark`; distractors —
///   an empty landmark — only ever serve as negatives);
/// - an `image<TAB>landmark` TSV anywhere (paths relative to the TSV's folder);
/// - a tuple directory written by `landmark mine` (`clusters.tsv`, `tuples.tsv`, `mining.json`).
public struct TrainingSet: Sendable, Equatable {
    /// The folder image paths are relative to.
    public let root: URL
    /// Relative image paths; indices everywhere refer to this order.
    public let images: [String]
    /// Class of each image; `nil` for a distractor (a negative only).
    public let labels: [Int?]
    /// Class names, indexed by label.
    public let classNames: [String]
    /// Query–positive pairs from a tuple file; `nil` means any two images of one class form a pair.
    public let pairs: [QueryPositivePair]?

    public struct QueryPositivePair: Sendable, Equatable, Codable {
        public var query: Int
        public var positive: Int
        public init(query: Int, positive: Int) {
            self.query = query
            self.positive = positive
        }
    }

    public init(root: URL, images: [String], labels: [Int?], classNames: [String], pairs: [QueryPositivePair]? = nil) {
        precondition(images.count == labels.count, "one label per image")
        self.root = root
        self.images = images
        self.labels = labels
        self.classNames = classNames
        self.pairs = pairs
    }

    public var count: Int { images.count }
    public func url(_ index: Int) -> URL { root.appendingPathComponent(images[index]) }

    /// Images of each class.
    public var membersByClass: [[Int]] {
        var members = [[Int]](repeating: [], count: classNames.count)
        for (index, label) in labels.enumerated() { if let label { members[label].append(index) } }
        return members
    }

    /// Every query–positive pair training can draw from: the tuple file's, else every ordered pair of
    /// distinct images of one class.
    public var candidatePairs: [QueryPositivePair] {
        if let pairs { return pairs }
        var result: [QueryPositivePair] = []
        for members in membersByClass where members.count > 1 {
            for query in members {
                for positive in members where positive != query { result.append(QueryPositivePair(query: query, positive: positive)) }
            }
        }
        return result
    }

    /// Reads a folder benchmark, a tuple directory or an `image<TAB>landmark` TSV, whichever `path` is.
    public static func load(_ path: URL) throws(TrainingDataError) -> TrainingSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            throw TrainingDataError(code: .unreadable, file: path.path, reason: "does not exist")
        }
        if isDirectory.boolValue {
            let tuples = path.appendingPathComponent(TupleFile.tuplesFileName)
            if FileManager.default.fileExists(atPath: tuples.path) { return try TupleFile.read(path) }
            let groundTruth = path.appendingPathComponent("ground_truth.tsv")
            if !FileManager.default.fileExists(atPath: groundTruth.path) {
                let gldv2 = GLDv2Dataset(root: path).metadataURL("train.csv")
                if FileManager.default.fileExists(atPath: gldv2.path) { return try googleLandmarks(gldv2) }
                throw TrainingDataError(code: .unreadable, file: path.path,
                                        reason: "is neither a folder benchmark (no ground_truth.tsv), a tuple directory from `landmark mine` (no \(TupleFile.tuplesFileName)) nor a GLDv2 root (no train.csv)")
            }
            return try labelled(groundTruth)
        }
        if path.pathExtension.lowercased() == "csv" { return try googleLandmarks(path) }
        return try labelled(path)
    }

    /// Reads GLDv2's `train.csv` (columns id, url, landmark_id). Images are `train/a/b/c/<id>.jpg` under the
    /// dataset root: the folder holding train.csv, or its parent when that folder is `metadata/`. GLDv2 comes
    /// in 500 archives that users download in part, so ids without an image on disk are left out; it is an
    /// error only when none of them is there.
    public static func googleLandmarks(_ file: URL) throws(TrainingDataError) -> TrainingSet {
        var root = file.deletingLastPathComponent()
        if root.lastPathComponent == "metadata" { root = root.deletingLastPathComponent() }
        let rows: [GLDv2TrainImage]
        do {
            rows = try GLDv2Dataset.readTrain(file)
        } catch {
            throw TrainingDataError(code: .malformed, file: file.path, reason: error.reason)
        }
        let dataset = GLDv2Dataset(root: root)
        var images: [String] = [], labels: [Int?] = [], classNames: [String] = [], classIndex: [String: Int] = [:]
        var seen = Set<String>()
        for row in rows where seen.insert(row.id).inserted {
            guard row.id.allSatisfy({ $0.isLetter || $0.isNumber }), row.id.count >= 3 else {
                throw TrainingDataError(code: .malformed, file: file.path, reason: "id `\(row.id)` is not a GLDv2 image id (hexadecimal)")
            }
            let url = dataset.imageURL(split: .train, id: row.id)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let label = classIndex[row.landmarkID] ?? classNames.count
            if label == classNames.count {
                classIndex[row.landmarkID] = label
                classNames.append(row.landmarkID)
            }
            images.append(String(url.path.dropFirst(root.path.count + 1)))
            labels.append(label)
        }
        guard !images.isEmpty else {
            throw TrainingDataError(code: .missingImage, file: file.path,
                                    reason: "none of its \(rows.count) images is under \(root.path)/train/ (expected train/a/b/c/<id>.jpg)")
        }
        return TrainingSet(root: root, images: images, labels: labels, classNames: classNames)
    }

    /// Reads an `image<TAB>landmark` table; an empty landmark marks a distractor.
    public static func labelled(_ file: URL) throws(TrainingDataError) -> TrainingSet {
        let root = file.deletingLastPathComponent()
        let rows = try TabSeparatedTable.read(file, header: ["image", "landmark"])
        var images: [String] = [], labels: [Int?] = [], classNames: [String] = [], classIndex: [String: Int] = [:]
        var seen: [String: Int] = [:]
        for row in rows {
            let image = row.fields[0], landmark = row.fields[1].trimmingCharacters(in: .whitespaces)
            try TabSeparatedTable.checkRelativePath(image, file: file, line: row.line)
            if let earlier = seen[image] {
                throw TrainingDataError(code: .malformed, file: file.path,
                                        reason: "line \(row.line): `\(image)` is already listed on line \(earlier)")
            }
            guard FileManager.default.fileExists(atPath: root.appendingPathComponent(image).path) else {
                throw TrainingDataError(code: .missingImage, file: file.path,
                                        reason: "line \(row.line): image `\(image)` does not exist in \(root.path)")
            }
            seen[image] = row.line
            images.append(image)
            if landmark.isEmpty {
                labels.append(nil)
            } else {
                let label = classIndex[landmark] ?? classNames.count
                if label == classNames.count {
                    classIndex[landmark] = label
                    classNames.append(landmark)
                }
                labels.append(label)
            }
        }
        let set = TrainingSet(root: root, images: images, labels: labels, classNames: classNames)
        guard !set.candidatePairs.isEmpty else {
            throw TrainingDataError(code: .tooFewImages, file: file.path,
                                    reason: "no landmark has two images, so there is no matching pair to train on")
        }
        return set
    }
}

/// The line-oriented tab-separated tables of training data: a fixed header, blank lines skipped,
/// errors naming the 1-based line.
enum TabSeparatedTable {
    struct Row {
        var line: Int
        var fields: [String]
    }

    static func read(_ file: URL, header: [String]) throws(TrainingDataError) -> [Row] {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw TrainingDataError(code: .unreadable, file: file.path, reason: "cannot read the file")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw TrainingDataError(code: .malformed, file: file.path, reason: "not UTF-8 text")
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        if lines.first?.hasPrefix("\u{FEFF}") == true, let first = lines.first { lines[0] = first.dropFirst() }
        let expected = header.joined(separator: "<TAB>")
        guard let first = lines.first, first.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) == header else {
            throw TrainingDataError(code: .malformed, file: file.path,
                                    reason: "line 1: header must be `\(expected)`, found `\(lines.first ?? "")`")
        }
        var rows: [Row] = []
        for (offset, line) in lines.enumerated().dropFirst() {
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == header.count else {
                throw TrainingDataError(code: .malformed, file: file.path,
                                        reason: "line \(offset + 1): expected \(header.count) tab-separated fields (\(header.joined(separator: ", "))), found \(fields.count)")
            }
            rows.append(Row(line: offset + 1, fields: fields))
        }
        return rows
    }

    static func checkRelativePath(_ image: String, file: URL, line: Int) throws(TrainingDataError) {
        guard !image.isEmpty else {
            throw TrainingDataError(code: .malformed, file: file.path, reason: "line \(line): empty image path")
        }
        guard !image.hasPrefix("/"), !image.split(separator: "/").contains("..") else {
            throw TrainingDataError(code: .malformed, file: file.path,
                                    reason: "line \(line): image path `\(image)` must be relative and stay inside the folder")
        }
    }
}
