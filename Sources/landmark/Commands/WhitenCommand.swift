import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkPipeline
import LandmarkRecognition
import LandmarkTraining

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
              --method learned   Lw from matching pairs (cirtorch whitenlearn): every pair of index images that \
            share a landmark in --ground-truth (a folder benchmark's ground_truth.tsv), or the pairs mined without \
            labels by `landmark mine` (--pairs DIR: each tuple's query and positive; --pair-source clusters: every \
            pair inside a mined cluster).
            When the pairs do not determine every dimension (fewer independent pairs than dimensions) the pair \
            covariance is singular; --shrinkage auto (the default) then shrinks it towards a multiple of the \
            identity by the Ledoit–Wolf intensity, and keeps cirtorch's plain estimate otherwise. The intensity \
            used is printed.
            """)

        @Argument(help: "Index directory whose descriptors to learn from (built without whitening).")
        var indexDirectory: String

        @Option(name: .customLong("out"), help: "Whitening file to write.")
        var output: String

        @Option(help: "pca or learned.")
        var method: String = "learned"

        @Option(help: "ground_truth.tsv (or its folder) naming the landmark of index images (for --method learned).")
        var groundTruth: String?

        @Option(help: "A `landmark mine` output directory whose mined pairs to learn from (for --method learned).")
        var pairs: String?

        @Option(help: "With --pairs: tuples (each tuple's query and positive) or clusters (every pair inside a cluster).")
        var pairSource: String = "tuples"

        @Option(help: "auto, none (cirtorch's estimate), ledoit-wolf, or an intensity in [0, 1].")
        var shrinkage: String = "auto"

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
                    let (queries, positives): ([Int], [Int])
                    switch (groundTruth, pairs) {
                    case (let groundTruth?, nil):
                        (queries, positives) = try matchingPairs(groundTruth, index: index)
                    case (nil, let pairs?):
                        (queries, positives) = try minedPairs(pairs, identifiers: index.store.identifiers)
                    default:
                        throw ValidationError("--method learned needs one of --ground-truth FILE (image<TAB>landmark) or --pairs DIR (from landmark mine)")
                    }
                    let chosen: Whitening.PairShrinkage
                    switch shrinkage.lowercased() {
                    case "auto":
                        // cirtorch's estimate when the pairs determine every dimension, Ledoit–Wolf otherwise.
                        chosen = (try? Whitening.learn(descriptors, queryIndices: queries, positiveIndices: positives)) == nil
                            ? .ledoitWolf : .none
                    case "none": chosen = .none
                    case "ledoit-wolf": chosen = .ledoitWolf
                    default:
                        guard let intensity = Double(shrinkage), intensity >= 0, intensity <= 1 else {
                            throw ValidationError("--shrinkage must be auto, none, ledoit-wolf or a number in [0, 1]")
                        }
                        chosen = .fixed(intensity)
                    }
                    Console.error("learning from \(queries.count) matching pairs of \(descriptors.rows) descriptors")
                    let learned = try Whitening.learnReportingShrinkage(descriptors, queryIndices: queries,
                                                                       positiveIndices: positives, shrinkage: chosen)
                    whitening = learned.whitening
                    Console.error(String(format: "pair covariance shrinkage intensity %.4f (%@)", learned.shrinkage,
                                         chosen == .none ? "none" : chosen == .ledoitWolf ? "Ledoit-Wolf" : "fixed"))
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

        /// The pairs `landmark mine` found, as index rows, each unordered pair once.
        func minedPairs(_ path: String, identifiers: [String]) throws -> ([Int], [Int]) {
            let set: TrainingSet
            do {
                set = try TupleFile.read(URL(fileURLWithPath: path))
            } catch {
                Console.error("error: --pairs: \(error)")
                throw LandmarkExitCode.failure
            }
            let row = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            var candidates: [(Int, Int)] = []
            switch pairSource {
            case "tuples":
                candidates = (set.pairs ?? []).map { ($0.query, $0.positive) }
            case "clusters":
                for members in set.membersByClass {
                    for a in members.indices { for b in members.indices where b > a { candidates.append((members[a], members[b])) } }
                }
            default:
                throw ValidationError("--pair-source must be tuples or clusters")
            }
            var seen = Set<SIMD2<Int>>()
            var queries: [Int] = [], positives: [Int] = []
            for (a, b) in candidates {
                guard let first = row[set.images[a]], let second = row[set.images[b]] else {
                    Console.error("error: --pairs: \(set.images[a]) or \(set.images[b]) is not in the index \(indexDirectory); "
                        + "learn from the index the pairs were mined from")
                    throw LandmarkExitCode.failure
                }
                guard seen.insert(SIMD2(min(first, second), max(first, second))).inserted else { continue }
                queries.append(first)
                positives.append(second)
            }
            guard !queries.isEmpty else { throw ValidationError("\(path) holds no mined pairs") }
            return (queries, positives)
        }

        /// Every unordered pair of index images that share a landmark in the ground truth.
        func matchingPairs(_ path: String, index: RetrievalIndex) throws -> ([Int], [Int]) {
            let labels: LandmarkLabels
            do {
                // Matched by the files the paths name, whatever folder the index was built from.
                labels = try LandmarkLabels.load(path).resolved(for: index)
            } catch {
                throw fail(error)
            }
            var members: [String: [Int]] = [:]
            for (row, identifier) in index.store.identifiers.enumerated() {
                if let label = labels.label(of: identifier) { members[label, default: []].append(row) }
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
