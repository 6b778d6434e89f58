import Foundation
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkRecognition

extension LandmarkLabels {
    /// Reads labels from what a user points at: a folder benchmark directory (its ground_truth.tsv), a
    /// GLDv2 `train.csv`, or an `image<TAB>landmark` TSV file.
    public static func load(_ path: String) throws(PipelineError) -> LandmarkLabels {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw PipelineError(code: .inputNotFound, file: path, reason: "no such file or directory")
        }
        do {
            if isDirectory.boolValue {
                do {
                    return fromFolderBenchmark(try FolderBenchmark.load(url))
                } catch {
                    throw PipelineError(code: .invalidDataset, file: error.file, reason: error.reason)
                }
            }
            if url.pathExtension.lowercased() == "csv" { return try readGLDv2Train(url) }
            return try readTSV(url)
        } catch let error as RecognitionError {
            throw PipelineError(code: .invalidDataset, file: path, reason: error.description)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(code: .invalidDataset, file: path, reason: "\(error)")
        }
    }
}

extension LandmarkLabels {
    /// The labels keyed by `index`'s identifiers, each image matched by the file it names
    /// (`resolved(identifiers:imageRoot:)`), whatever folder was indexed.
    public func resolved(for index: RetrievalIndex) -> LandmarkLabels {
        resolved(identifiers: index.store.identifiers, imageRoot: index.manifest.imageRoot)
    }

    /// Where an index's labels are looked for when none are given: the indexed folder, or its parent
    /// when that is the folder benchmark (`trainset/images` indexed, `trainset/ground_truth.tsv` beside it).
    public static func defaultPath(forImageRoot imageRoot: String) -> String {
        let root = URL(fileURLWithPath: imageRoot, isDirectory: true)
        for folder in [root, root.deletingLastPathComponent()]
        where FileManager.default.fileExists(atPath: folder.appendingPathComponent(FolderBenchmark.groundTruthFileName).path) {
            return folder.path
        }
        return root.path
    }
}

extension TrainSet {
    /// Opens a train index and its labels (default: the indexed folder's ground_truth.tsv) for a pipeline
    /// whose images are described by `descriptor`: a train set described otherwise cannot be compared.
    public static func load(indexDirectory: String, labelsPath: String?, descriptor: String,
                            recognition: KNNRecognition) throws(PipelineError) -> TrainSet {
        let index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory))
        guard index.manifest.descriptor == descriptor else {
            throw PipelineError(code: .invalidIndex, file: indexDirectory,
                                reason: "the train index was built with '\(index.manifest.descriptor)', the images here with '\(descriptor)'")
        }
        let path = labelsPath ?? LandmarkLabels.defaultPath(forImageRoot: index.manifest.imageRoot)
        return try load(index: index, labels: LandmarkLabels.load(path), recognition: recognition,
                        labelsSource: URL(fileURLWithPath: path).standardizedFileURL.path)
    }

    /// The labelled images of a train index: their stored descriptors and landmarks.
    public static func load(index: RetrievalIndex, labels: LandmarkLabels,
                            recognition: KNNRecognition = KNNRecognition(inlierWeight: 0),
                            labelsSource: String = "") throws(PipelineError) -> TrainSet {
        let labels = labels.resolved(for: index)
        let matrix = index.store.matrix()
        var rows: [[Float]] = []
        var names: [String] = []
        for (row, identifier) in index.store.identifiers.enumerated() {
            guard let label = labels.label(of: identifier) else { continue }
            rows.append(matrix.row(row))
            names.append(label)
        }
        guard !rows.isEmpty else {
            throw PipelineError(code: .invalidDataset, file: index.directory.path,
                                reason: "none of the index's \(index.store.count) images has a label in the given labels")
        }
        // Labels count as part of the source: the same index with other labels predicts differently.
        let labelled = labels.labelOfImage.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        return TrainSet(descriptors: Matrix(stacking: rows, dimension: matrix.columns), labels: names,
                        recognition: recognition,
                        source: "train=\(index.directory.standardizedFileURL.path) descriptor=\(index.manifest.descriptor) "
                            + "labels=\(labelsSource) labels-hash=\(String(stableHash(labelled), radix: 16))")
    }
}

/// FNV-1a over UTF-8: stable across runs and machines (Swift's `hashValue` is seeded per process).
func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return hash
}
