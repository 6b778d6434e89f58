import Foundation
import LandmarkStorage

/// The tuple directory `landmark mine` writes and `landmark train` reads (METHODS.md §9): the same
/// format whether clusters came from a verified-match graph or from labels.
///
/// - `clusters.tsv`: header `image<TAB>cluster`, one line per clustered image;
/// - `tuples.tsv`: header `tuple<TAB>role<TAB>image<TAB>cluster`, role ∈ {query, positive, negative};
///   each tuple has one query and one positive, and zero or more negatives (training re-mines
///   negatives every epoch, so they may be left out);
/// - `mining.json`: `{"root": <absolute folder the image paths are relative to>, "parameters": {…}}`.
public enum TupleFile {
    public static let clustersFileName = "clusters.tsv"
    public static let tuplesFileName = "tuples.tsv"
    public static let manifestFileName = "mining.json"

    /// One mined tuple, by image path.
    public struct Tuple: Sendable, Equatable {
        public var query: String
        public var positive: String
        public var negatives: [String]
        public init(query: String, positive: String, negatives: [String] = []) {
            self.query = query
            self.positive = positive
            self.negatives = negatives
        }
    }

    struct Manifest: Codable {
        var root: String
        var parameters: [String: String]
    }

    /// Writes the three files durably (each replaced whole, never half-written).
    public static func write(to directory: URL, root: URL, clusters: [(image: String, cluster: String)],
                             tuples: [Tuple], parameters: [String: String]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clusterOf = Dictionary(clusters.map { ($0.image, $0.cluster) }, uniquingKeysWith: { first, _ in first })
        var clusterText = "image\tcluster\n"
        for entry in clusters { clusterText += "\(entry.image)\t\(entry.cluster)\n" }
        var tupleText = "tuple\trole\timage\tcluster\n"
        for (number, tuple) in tuples.enumerated() {
            let roles = [("query", tuple.query), ("positive", tuple.positive)] + tuple.negatives.map { ("negative", $0) }
            for (role, image) in roles { tupleText += "\(number)\t\(role)\t\(image)\t\(clusterOf[image] ?? "")\n" }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let manifest = try encoder.encode(Manifest(root: root.standardizedFileURL.path, parameters: parameters))
        try DurableFile.write(Data(clusterText.utf8), to: directory.appendingPathComponent(clustersFileName))
        try DurableFile.write(Data(tupleText.utf8), to: directory.appendingPathComponent(tuplesFileName))
        try DurableFile.write(manifest, to: directory.appendingPathComponent(manifestFileName))
    }

    /// Reads a tuple directory into a training set: classes are the clusters, pairs the tuples'
    /// query–positive pairs (negatives are re-mined by training, so the file's are not needed).
    public static func read(_ directory: URL) throws(TrainingDataError) -> TrainingSet {
        let manifestURL = directory.appendingPathComponent(manifestFileName)
        guard let manifestData = FileManager.default.contents(atPath: manifestURL.path) else {
            throw TrainingDataError(code: .unreadable, file: manifestURL.path, reason: "cannot read the file; a tuple directory needs it")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
        } catch {
            throw TrainingDataError(code: .malformed, file: manifestURL.path, reason: "not a mining manifest (\(error.localizedDescription))")
        }
        let root = URL(fileURLWithPath: manifest.root, isDirectory: true)
        let clustersURL = directory.appendingPathComponent(clustersFileName)
        var images: [String] = [], labels: [Int?] = [], classNames: [String] = []
        var imageIndex: [String: Int] = [:], classIndex: [String: Int] = [:]
        for row in try TabSeparatedTable.read(clustersURL, header: ["image", "cluster"]) {
            let image = row.fields[0], cluster = row.fields[1]
            try TabSeparatedTable.checkRelativePath(image, file: clustersURL, line: row.line)
            guard imageIndex[image] == nil else {
                throw TrainingDataError(code: .malformed, file: clustersURL.path, reason: "line \(row.line): `\(image)` is listed twice")
            }
            guard !cluster.isEmpty else {
                throw TrainingDataError(code: .malformed, file: clustersURL.path, reason: "line \(row.line): empty cluster")
            }
            guard FileManager.default.fileExists(atPath: root.appendingPathComponent(image).path) else {
                throw TrainingDataError(code: .missingImage, file: clustersURL.path,
                                        reason: "line \(row.line): image `\(image)` does not exist in \(root.path) (the root named in \(manifestFileName))")
            }
            let label = classIndex[cluster] ?? classNames.count
            if label == classNames.count {
                classIndex[cluster] = label
                classNames.append(cluster)
            }
            imageIndex[image] = images.count
            images.append(image)
            labels.append(label)
        }
        let tuplesURL = directory.appendingPathComponent(tuplesFileName)
        var queries: [String: Int] = [:], positives: [String: Int] = [:], order: [String] = []
        for row in try TabSeparatedTable.read(tuplesURL, header: ["tuple", "role", "image", "cluster"]) {
            let tuple = row.fields[0], role = row.fields[1], image = row.fields[2]
            guard let index = imageIndex[image] else {
                throw TrainingDataError(code: .malformed, file: tuplesURL.path,
                                        reason: "line \(row.line): `\(image)` is not in \(clustersFileName)")
            }
            switch role {
            case "query", "positive":
                if queries[tuple] == nil && positives[tuple] == nil { order.append(tuple) }
                if role == "query" {
                    guard queries[tuple] == nil else {
                        throw TrainingDataError(code: .malformed, file: tuplesURL.path, reason: "line \(row.line): tuple \(tuple) has a second query")
                    }
                    queries[tuple] = index
                } else {
                    guard positives[tuple] == nil else {
                        throw TrainingDataError(code: .malformed, file: tuplesURL.path, reason: "line \(row.line): tuple \(tuple) has a second positive")
                    }
                    positives[tuple] = index
                }
            case "negative":
                continue
            default:
                throw TrainingDataError(code: .malformed, file: tuplesURL.path,
                                        reason: "line \(row.line): role must be query, positive or negative, not `\(role)`")
            }
        }
        var pairs: [TrainingSet.QueryPositivePair] = []
        for tuple in order {
            guard let query = queries[tuple], let positive = positives[tuple] else {
                throw TrainingDataError(code: .malformed, file: tuplesURL.path, reason: "tuple \(tuple) needs one query and one positive")
            }
            guard labels[query] == labels[positive] else {
                throw TrainingDataError(code: .malformed, file: tuplesURL.path,
                                        reason: "tuple \(tuple): query and positive are in different clusters")
            }
            pairs.append(TrainingSet.QueryPositivePair(query: query, positive: positive))
        }
        guard !pairs.isEmpty else {
            throw TrainingDataError(code: .tooFewImages, file: tuplesURL.path, reason: "no tuple to train on")
        }
        return TrainingSet(root: root, images: images, labels: labels, classNames: classNames, pairs: pairs)
    }
}
