import Foundation
import LandmarkPickle

/// The difficulty setups of the revisited Oxford/Paris benchmark. They differ only in which annotated
/// images count as positives and which are ignored as junk.
public enum RevisitedProtocol: String, CaseIterable, Sendable {
    /// Positives: easy; junk: junk ∪ hard.
    case easy
    /// Positives: easy ∪ hard; junk: junk.
    case medium
    /// Positives: hard; junk: junk ∪ easy.
    case hard
}

/// One query of ROxford5k / RParis6k: its crop and its annotated database images.
public struct RevisitedQuery: Sendable, Equatable {
    /// Query region in pixels of the full image (x0, y0, x1, y1); queries are evaluated on this crop only.
    public var boundingBox: (x0: Double, y0: Double, x1: Double, y1: Double)
    /// Database indices of clearly visible views of the landmark.
    public var easy: [Int]
    /// Database indices of hard but recognisable views.
    public var hard: [Int]
    /// Database indices that are ambiguous and ignored.
    public var junk: [Int]

    public init(boundingBox: (x0: Double, y0: Double, x1: Double, y1: Double), easy: [Int], hard: [Int], junk: [Int]) {
        self.boundingBox = boundingBox
        self.easy = easy
        self.hard = hard
        self.junk = junk
    }

    public static func == (lhs: RevisitedQuery, rhs: RevisitedQuery) -> Bool {
        lhs.boundingBox == rhs.boundingBox && lhs.easy == rhs.easy && lhs.hard == rhs.hard && lhs.junk == rhs.junk
    }

    /// The crop in whole pixels, clamped to an image of the given size. Corners are rounded as PIL's
    /// `Image.crop` (which cirtorch uses for queries) rounds them — half to even — and the end is exclusive;
    /// unlike PIL, which pads a box reaching outside the image, the rectangle is clamped to the image.
    public func cropRectangle(imageWidth: Int, imageHeight: Int) -> (x: Int, y: Int, width: Int, height: Int) {
        func clamp(_ value: Double, _ limit: Int) -> Int {
            guard value.isFinite else { return 0 }
            return max(0, min(limit, Int(value.rounded(.toNearestOrEven))))
        }
        let x0 = clamp(boundingBox.x0, imageWidth), x1 = clamp(boundingBox.x1, imageWidth)
        let y0 = clamp(boundingBox.y0, imageHeight), y1 = clamp(boundingBox.y1, imageHeight)
        return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))
    }
}

/// ROxford5k or RParis6k as distributed: `jpg/<name>.jpg` and `gnd_<dataset>.pkl`.
public struct RevisitedDataset: Sendable {
    public let name: String
    /// Database images, without extension; ground-truth indices refer to this order.
    public let imageNames: [String]
    /// Query images, without extension (they are also database images).
    public let queryNames: [String]
    public let queries: [RevisitedQuery]
    /// The directory holding `jpg/`.
    public let directory: URL

    public init(name: String, imageNames: [String], queryNames: [String], queries: [RevisitedQuery], directory: URL) {
        self.name = name
        self.imageNames = imageNames
        self.queryNames = queryNames
        self.queries = queries
        self.directory = directory
    }

    /// Loads `root/<name>/gnd_<name>.pkl` (revisitop's layout) or `root/gnd_<name>.pkl`.
    ///
    /// The pickle may come from Python 2 or 3, with index lists stored as lists or numpy arrays.
    public static func load(name: String, root: URL) throws(DatasetError) -> RevisitedDataset {
        let fileName = "gnd_\(name).pkl"
        let candidates = [root.appendingPathComponent(name, isDirectory: true), root]
        guard let directory = candidates.first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent(fileName).path)
        }) else {
            throw DatasetError(code: .unreadable, file: root.appendingPathComponent(name).appendingPathComponent(fileName).path,
                               reason: "no \(fileName) in \(root.path)/\(name) or \(root.path); download the revisited annotation (revisitop's download_datasets)")
        }
        let file = directory.appendingPathComponent(fileName)
        let value = try PickleReader.read(contentsOf: file)
        return try parse(value, name: name, directory: directory, file: file.path)
    }

    /// Builds the dataset from a decoded ground-truth pickle.
    public static func parse(_ value: PickleValue, name: String, directory: URL, file: String) throws(DatasetError) -> RevisitedDataset {
        func fail(_ reason: String) -> DatasetError { DatasetError(code: .unexpectedContent, file: file, reason: reason) }
        func names(_ key: String) throws(DatasetError) -> [String] {
            guard let items = value[key]?.items else { throw fail("'\(key)' is missing or not a list") }
            var result: [String] = []
            result.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                guard let text = item.text else { throw fail("'\(key)'[\(index)] is not a string") }
                result.append(text)
            }
            return result
        }
        let imageNames = try names("imlist")
        let queryNames = try names("qimlist")
        guard let gnd = value["gnd"]?.items else { throw fail("'gnd' is missing or not a list") }
        guard gnd.count == queryNames.count else {
            throw fail("'gnd' has \(gnd.count) entries for \(queryNames.count) queries")
        }
        var queries: [RevisitedQuery] = []
        for (queryIndex, entry) in gnd.enumerated() {
            guard let box = entry["bbx"]?.doubles, box.count == 4 else {
                throw fail("gnd[\(queryIndex)]['bbx'] is missing or not four numbers")
            }
            func indices(_ key: String) throws(DatasetError) -> [Int] {
                guard let list = entry[key] else { return [] } // absent lists mean none, as revisitop's try/except
                guard let values = list.integers else { throw fail("gnd[\(queryIndex)]['\(key)'] is not a list of integers") }
                if let bad = values.first(where: { $0 < 0 || $0 >= imageNames.count }) {
                    throw fail("gnd[\(queryIndex)]['\(key)'] holds \(bad), outside the \(imageNames.count) database images")
                }
                return values
            }
            queries.append(RevisitedQuery(boundingBox: (box[0], box[1], box[2], box[3]),
                                          easy: try indices("easy"), hard: try indices("hard"), junk: try indices("junk")))
        }
        return RevisitedDataset(name: name, imageNames: imageNames, queryNames: queryNames, queries: queries,
                                directory: directory)
    }

    /// `<directory>/jpg/<imageName>.jpg`.
    public func imageURL(_ imageName: String) -> URL {
        directory.appendingPathComponent("jpg", isDirectory: true).appendingPathComponent(imageName + ".jpg")
    }

    /// Per-query ground truth for one difficulty setup, as revisitop's example_evaluate builds it.
    public func groundTruth(_ protocol: RevisitedProtocol) -> [QueryGroundTruth] {
        queries.map { query in
            switch `protocol` {
            case .easy: QueryGroundTruth(positives: query.easy, junk: query.junk + query.hard)
            case .medium: QueryGroundTruth(positives: query.easy + query.hard, junk: query.junk)
            case .hard: QueryGroundTruth(positives: query.hard, junk: query.junk + query.easy)
            }
        }
    }
}
