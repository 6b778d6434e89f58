import Foundation
import LandmarkEvaluation

/// Landmark labels of a train set: image identifier → landmark (METHODS.md §4).
///
/// Only labelled images belong here; an image without a landmark is simply absent, because kNN voting must
/// never take a distractor as a neighbour.
public struct LandmarkLabels: Sendable, Equatable {
    public var labelOfImage: [String: String]
    /// The folder the image paths are relative to (a TSV's folder, a folder benchmark's root); nil
    /// when the identifiers are not paths (GLDv2 ids) or were made for the index already.
    public var baseDirectory: URL?

    public init(_ labelOfImage: [String: String], baseDirectory: URL? = nil) {
        self.labelOfImage = labelOfImage
        self.baseDirectory = baseDirectory
    }

    public func label(of image: String) -> String? { labelOfImage[image] }

    /// The labels keyed by an index's identifiers (paths relative to `imageRoot`), matching each
    /// image by the file it names rather than by the text of its path: a labels file beside the
    /// folder (`trainset/ground_truth.tsv` listing `images/x.jpg`) labels an index of
    /// `trainset/images` (identifier `x.jpg`) as well as one of `trainset`. Identifiers that name no
    /// labelled file fall back to the identifier itself (GLDv2 ids, labels written for the index).
    public func resolved(identifiers: [String], imageRoot: String) -> LandmarkLabels {
        LandmarkLabels(matchingKeys(identifiers: identifiers, imageRoot: imageRoot).compactMapValues { labelOfImage[$0] })
    }

    /// For each identifier of an index of `imageRoot` that has a label, the key of `labelOfImage`
    /// that labels it (see `resolved`): what a command that rewrites a labels file maps back through.
    public func matchingKeys(identifiers: [String], imageRoot: String) -> [String: String] {
        var keyOfFile: [String: String] = [:]
        if let baseDirectory {
            // Marked as a folder explicitly: Foundation otherwise asks the disk, and resolves against the parent.
            let base = URL(fileURLWithPath: baseDirectory.standardizedFileURL.resolvingSymlinksInPath().path, isDirectory: true)
            for image in labelOfImage.keys {
                keyOfFile[URL(fileURLWithPath: image, relativeTo: base).standardizedFileURL.path] = image
            }
        }
        let root = URL(fileURLWithPath: URL(fileURLWithPath: imageRoot).standardizedFileURL.resolvingSymlinksInPath().path,
                       isDirectory: true)
        var keys: [String: String] = [:]
        for identifier in identifiers {
            let file = URL(fileURLWithPath: identifier, relativeTo: root).standardizedFileURL.path
            if let key = keyOfFile[file] ?? (labelOfImage[identifier] != nil ? identifier : nil) { keys[identifier] = key }
        }
        return keys
    }

    /// Reads `image<TAB>landmark` lines.
    ///
    /// The header `image<TAB>landmark` is optional (so a folder benchmark's `ground_truth.tsv` reads as is);
    /// a row with an empty landmark labels nothing and is skipped; blank lines are ignored. Errors name the
    /// 1-based line: a wrong number of fields, an empty image, an image listed twice.
    public static func readTSV(_ url: URL) throws(RecognitionError) -> LandmarkLabels {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecognitionError(code: .unreadable, file: url.path,
                                   reason: "cannot read the label file; check that it exists")
        }
        guard var text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw RecognitionError(code: .malformedText, file: url.path, reason: "not UTF-8 text")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var labels: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        var seenContent = false
        // Swift treats CRLF as one newline character, so this splits LF and CRLF files alike.
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = offset + 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            defer { seenContent = true }
            if !seenContent, fields == ["image", "landmark"] { continue }
            guard fields.count == 2 else {
                throw RecognitionError(code: .malformedText, file: url.path,
                                       reason: "line \(lineNumber): expected 2 tab-separated fields (image, landmark), found \(fields.count)")
            }
            let image = String(fields[0])
            let landmark = fields[1].trimmingCharacters(in: .whitespaces)
            guard !image.isEmpty else {
                throw RecognitionError(code: .malformedText, file: url.path, reason: "line \(lineNumber): empty image identifier")
            }
            if let earlier = firstLine[image] {
                throw RecognitionError(code: .duplicateEntry, file: url.path,
                                       reason: "line \(lineNumber): `\(image)` is already listed on line \(earlier)")
            }
            firstLine[image] = lineNumber
            if !landmark.isEmpty { labels[image] = landmark }
        }
        return LandmarkLabels(labels, baseDirectory: url.deletingLastPathComponent())
    }

    /// A folder benchmark's labelled images (distractors excluded); identifiers as in its `ground_truth.tsv`.
    public static func fromFolderBenchmark(_ benchmark: FolderBenchmark) -> LandmarkLabels {
        var labels: [String: String] = [:]
        for (image, label) in zip(benchmark.images, benchmark.labels) {
            if let label { labels[image] = label }
        }
        return LandmarkLabels(labels, baseDirectory: benchmark.directory)
    }

    /// GLDv2 `train.csv` (columns id, url, landmark_id); identifiers are the ids.
    public static func readGLDv2Train(_ url: URL) throws(RecognitionError) -> LandmarkLabels {
        let images: [GLDv2TrainImage]
        do {
            images = try GLDv2Dataset.readTrain(url)
        } catch {
            let code: RecognitionError.Code = error.code == .unreadable ? .unreadable : .malformedText
            throw RecognitionError(code: code, file: error.file, reason: error.reason)
        }
        var labels: [String: String] = [:]
        labels.reserveCapacity(images.count)
        for image in images {
            guard labels.updateValue(image.landmarkID, forKey: image.id) == nil else {
                throw RecognitionError(code: .duplicateEntry, file: url.path, reason: "id \(image.id) is listed twice")
            }
        }
        return LandmarkLabels(labels)
    }
}
