import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkPipeline

struct WhitenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whiten",
        abstract: "Learn descriptor whitening (METHODS.md §2.5).",
        subcommands: [Learn.self])

    struct Learn: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Learn PCA-whitening, or learned whitening Lw from matching pairs, from an index's descriptors.",
            discussion: """
            Learn whitening on descriptors of an independent image set (not the one you evaluate on), built \
            without whitening, then pass the file to `landmark index/evaluate --whitening FILE` with the same \
            model, size, scales and pooling.
              --method pca       PCA-whitening of all descriptors (cirtorch pcawhitenlearn)
              --method learned   Lw from matching pairs: every pair of index images that share a landmark in \
            --ground-truth (a folder benchmark's ground_truth.tsv) (cirtorch whitenlearn)
            """)

        @Argument(help: "Index directory whose descriptors to learn from (built without whitening).")
        var indexDirectory: String

        @Option(name: .customLong("out"), help: "Whitening file to write.")
        var output: String

        @Option(help: "pca or learned.")
        var method: String = "learned"

        @Option(help: "ground_truth.tsv (or its folder) naming the landmark of index images (for --method learned).")
        var groundTruth: String?

        func run() throws {
            let index: RetrievalIndex
            do {
                index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory))
            } catch {
                throw fail(error)
            }
            let descriptors = index.store.matrix()
            let whitening: Whitening
            do {
                switch method.lowercased() {
                case "pca":
                    whitening = try Whitening.learnPCA(descriptors)
                case "learned":
                    guard let groundTruth else {
                        throw ValidationError("--method learned needs --ground-truth FILE (image<TAB>landmark)")
                    }
                    let (queries, positives) = try matchingPairs(groundTruth, identifiers: index.store.identifiers)
                    Console.error("learning from \(queries.count) matching pairs of \(descriptors.rows) descriptors")
                    whitening = try Whitening.learn(descriptors, queryIndices: queries, positiveIndices: positives)
                default:
                    throw ValidationError("--method must be pca or learned")
                }
                try whitening.write(to: URL(fileURLWithPath: output))
            } catch let error as WhiteningError {
                Console.error("error: \(error)")
                throw LandmarkExitCode.failure
            }
            print("wrote \(method) whitening of \(descriptors.columns)-D descriptors to \(output)")
        }

        /// Every unordered pair of index images that share a landmark in the ground truth.
        func matchingPairs(_ path: String, identifiers: [String]) throws -> ([Int], [Int]) {
            var isDirectory: ObjCBool = false
            let url = URL(fileURLWithPath: path)
            let directory = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
                ? url : url.deletingLastPathComponent()
            let benchmark: FolderBenchmark
            do {
                benchmark = try FolderBenchmark.load(directory)
            } catch {
                Console.error("error: \(error)")
                throw LandmarkExitCode.failure
            }
            let row = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            var members: [String: [Int]] = [:]
            for (image, label) in zip(benchmark.images, benchmark.labels) {
                if let label, let index = row[image] { members[label, default: []].append(index) }
            }
            var queries: [Int] = [], positives: [Int] = []
            for label in members.keys.sorted() {
                let rows = members[label] ?? []
                for a in rows.indices {
                    for b in rows.indices where b > a {
                        queries.append(rows[a])
                        positives.append(rows[b])
                    }
                }
            }
            guard !queries.isEmpty else {
                throw ValidationError("no two index images share a landmark in \(path)")
            }
            return (queries, positives)
        }
    }
}
