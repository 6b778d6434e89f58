import Foundation

/// A retrieval benchmark made from a folder of photos: `ground_truth.tsv` lists every image with its
/// landmark (empty for a distractor). Every image with a landmark queries all other images of the folder.
public struct FolderBenchmark: Sendable {
    public let directory: URL
    /// Paths relative to `directory`, in `ground_truth.tsv` order; indices everywhere refer to this order.
    public let images: [String]
    /// The landmark of each image; nil for a distractor.
    public let labels: [String?]

    public static let groundTruthFileName = "ground_truth.tsv"

    public init(directory: URL, images: [String], labels: [String?]) {
        precondition(images.count == labels.count, "one label per image")
        self.directory = directory
        self.images = images
        self.labels = labels
    }

    /// Reads `<directory>/ground_truth.tsv` and checks that every listed image exists.
    ///
    /// The file has the header `image<TAB>landmark`; blank lines are skipped; a row with an empty landmark is a
    /// distractor. Errors name the 1-based line: wrong header, a wrong number of fields, an absolute or
    /// escaping path, an image listed twice, a missing image file.
    public static func load(_ directory: URL) throws(DatasetError) -> FolderBenchmark {
        let file = directory.appendingPathComponent(groundTruthFileName)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw DatasetError(code: .unreadable, file: file.path,
                               reason: "cannot read \(groundTruthFileName); a folder benchmark needs it (header `image<TAB>landmark`)")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw DatasetError(code: .malformedText, file: file.path, reason: "not UTF-8 text")
        }
        // Swift treats CRLF as one newline character, so this splits LF and CRLF files alike.
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        if lines.first?.hasPrefix("\u{FEFF}") == true, let first = lines.first { lines[0] = first.dropFirst() }
        guard let header = lines.first, header.split(separator: "\t", omittingEmptySubsequences: false) == ["image", "landmark"] else {
            throw DatasetError(code: .malformedText, file: file.path,
                               reason: "line 1: header must be `image<TAB>landmark`, found `\(lines.first ?? "")`")
        }
        var images: [String] = []
        var labels: [String?] = []
        var firstLine: [String: Int] = [:]
        for (offset, line) in lines.enumerated().dropFirst() {
            let lineNumber = offset + 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2 else {
                throw DatasetError(code: .malformedText, file: file.path,
                                   reason: "line \(lineNumber): expected 2 tab-separated fields (image, landmark), found \(fields.count)")
            }
            let image = String(fields[0])
            let landmark = fields[1].trimmingCharacters(in: .whitespaces)
            guard !image.isEmpty else {
                throw DatasetError(code: .malformedText, file: file.path, reason: "line \(lineNumber): empty image path")
            }
            guard !image.hasPrefix("/"), !image.split(separator: "/").contains("..") else {
                throw DatasetError(code: .malformedText, file: file.path,
                                   reason: "line \(lineNumber): image path `\(image)` must be relative to the folder and stay inside it")
            }
            if let earlier = firstLine[image] {
                throw DatasetError(code: .duplicateEntry, file: file.path,
                                   reason: "line \(lineNumber): `\(image)` is already listed on line \(earlier)")
            }
            guard FileManager.default.fileExists(atPath: directory.appendingPathComponent(image).path) else {
                throw DatasetError(code: .missingFile, file: file.path,
                                   reason: "line \(lineNumber): image `\(image)` does not exist in \(directory.path)")
            }
            firstLine[image] = lineNumber
            images.append(image)
            labels.append(landmark.isEmpty ? nil : landmark)
        }
        return FolderBenchmark(directory: directory, images: images, labels: labels)
    }

    /// Every image with a landmark, in file order.
    public var queryIndices: [Int] { labels.indices.filter { labels[$0] != nil } }

    /// Positives are the other images of the query's landmark. The query itself is junk, so a ranking over the
    /// whole folder may include it or leave it out without changing the score.
    public func groundTruth(forQuery index: Int) -> QueryGroundTruth {
        precondition(labels.indices.contains(index), "query index out of range")
        guard let label = labels[index] else { return QueryGroundTruth(positives: [], junk: [index]) }
        var positives: [Int] = []
        for (other, otherLabel) in labels.enumerated() where other != index && otherLabel == label {
            positives.append(other)
        }
        return QueryGroundTruth(positives: positives, junk: [index])
    }

    public func imageURL(_ index: Int) -> URL { directory.appendingPathComponent(images[index]) }
}
