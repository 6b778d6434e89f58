import Foundation
import LandmarkCheckpoint
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPickle
import LandmarkPipeline

/// The parsers of untrusted input, each as one function of bytes, for libFuzzer (`landmark-fuzz`,
/// `scripts/fuzz.sh`) and for the regression test that replays the committed corpus.
///
/// A target feeds its bytes to the parser the way the tool would meet them (a file in a folder where
/// the parser expects one), then uses whatever parsed. Thrown errors are the expected outcome for
/// most inputs; only a crash, a sanitizer report, a hang or runaway memory is a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case pickle
    case checkpoint
    case descriptorStore = "descriptor-store"
    case localFeatureStore = "local-feature-store"
    case asmkVocabulary = "asmk-vocabulary"
    case asmkIndex = "asmk-index"
    case manifest
    case folderBenchmark = "folder-benchmark"
    case gldv2CSV = "gldv2-csv"
    case imageDecoding = "image-decoding"

    /// Runs the target on `bytes`, using `scratch` (an existing folder of the caller's) for files.
    public func run(_ bytes: [UInt8], scratch: URL) {
        switch self {
        case .pickle:
            _ = try? PickleDecoder.decode(bytes)
            _ = try? PickleReader.decode(bytes)
        case .checkpoint:
            if let checkpoint = try? Checkpoint.decode(Data(bytes)) {
                for name in checkpoint.tensors.keys.sorted().prefix(8) {
                    _ = checkpoint.tensors[name]?.values.reduce(0, +)
                }
            }
        case .descriptorStore:
            let url = write(bytes, to: scratch, name: IndexLayout.storeFileName)
            for verify in [false, true] {
                guard let store = try? DescriptorStore.open(url, verifyChecksum: verify) else { continue }
                for row in 0 ..< min(store.count, 64) { _ = store.descriptor(at: row) }
                _ = store.identifiers.count
            }
        case .localFeatureStore:
            let url = write(bytes, to: scratch, name: "local-features.lmf")
            for verify in [false, true] {
                guard let store = try? LocalFeatureStore.open(url, verifyChecksum: verify) else { continue }
                for image in 0 ..< min(store.imageCount, 16) {
                    _ = store.featureCount(ofImage: image)
                    _ = store.imageSize(ofImage: image)
                    _ = store.record(at: image)
                }
            }
        case .asmkVocabulary:
            let url = write(bytes, to: scratch, name: "vocabulary.asmk")
            if let vocabulary = try? VisualVocabulary.load(contentsOf: url), vocabulary.centroids.columns > 0 {
                _ = vocabulary.nearestWords(Matrix(rows: 1, columns: vocabulary.centroids.columns, repeating: 0.5))
            }
        case .asmkIndex:
            let url = write(bytes, to: scratch, name: "index.asmk")
            _ = try? ASMKIndex.load(contentsOf: url)
        case .manifest:
            // A valid index beside the fuzzed manifest, so that what the manifest names is cross-checked.
            let directory = Self.seedIndex(in: scratch)
            _ = write(bytes, to: directory, name: IndexManifest.fileName)
            _ = try? RetrievalIndex.open(directory)
        case .folderBenchmark:
            _ = write(bytes, to: scratch, name: "ground_truth.tsv")
            _ = try? FolderBenchmark.load(scratch)
        case .gldv2CSV:
            let url = write(bytes, to: scratch, name: "train.csv")
            _ = try? GLDv2Dataset.readTrain(url)
            _ = try? GLDv2Dataset.readIDs(url)
            _ = try? GLDv2Dataset.readSolution(url, truthColumn: "landmarks")
        case .imageDecoding:
            // A pixel limit a fuzzer's memory allows; the limit itself is what is under test.
            if let image = try? ImageDecoder.decode(bytes, name: "<fuzz>", options: ImageDecodingOptions(maximumPixelCount: 4_000_000)),
               image.width > 0, image.height > 0 {
                _ = image.resized(longerSide: 32, filter: .bilinear)
            }
        }
    }

    private func write(_ bytes: [UInt8], to directory: URL, name: String) -> URL {
        let url = directory.appendingPathComponent(name)
        FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url
    }

    /// A two-image index made with the weight-free baseline, created once in `scratch/seed-index`.
    static func seedIndex(in scratch: URL) -> URL {
        let directory = scratch.appendingPathComponent("seed-index")
        let store = directory.appendingPathComponent(IndexLayout.storeFileName)
        if !FileManager.default.fileExists(atPath: store.path) {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let baseline = GradientColourHistogramBaseline()
            var rows = Matrix(rows: 2, columns: baseline.dimension, repeating: 0)
            rows[0, 0] = 1
            rows[1, 1] = 1
            try? DescriptorStoreWriter.write(rows, identifiers: ["a.jpg", "b.jpg"], metadata: ["descriptor": baseline.name], to: store)
        }
        return directory
    }
}
