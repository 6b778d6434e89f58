import ArgumentParser
import Foundation
import LandmarkMining
import LandmarkPipeline
import LandmarkRecognition
import LandmarkStorage

struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Drop wrongly labelled train images by spatial verification (METHODS.md §6).",
        discussion: """
        For every labelled image of TRAIN_INDEX (built with --local rootsift-asmk): its --neighbours nearest \\
        images by the global descriptor, the first --same-label of them that carry its label, spatial \\
        verification of each; the image is kept when more than --min-verified of them have at least \\
        --min-inliers distinct inliers. CLEAN.tsv gets the kept rows of --labels, unchanged; the report \\
        says per landmark how many were dropped. Verified pairs are shared with `landmark mine` through \\
        TRAIN_INDEX/match-graph.tsv.
        """)

    @Argument(help: "Index of the train images (global descriptors and local features).")
    var trainIndex: String

    @Option(help: "image<TAB>landmark TSV; image paths as in the index (relative to the indexed folder).")
    var labels: String

    @Option(name: .customLong("out"), help: "Cleaned TSV to write (never the --labels file).")
    var output: String

    @Option(parsing: .unconditional, help: "Nearest neighbours searched per image.")
    var neighbours: Int = 1000

    @Option(parsing: .unconditional, help: "Same-label neighbours verified per image.")
    var sameLabel: Int = 100

    @Option(help: "Distinct inliers a verified neighbour needs.")
    var minInliers: Int = LabelCleaning().minimumInliers

    @Option(help: "An image is kept with more than this many verified same-label neighbours (METHODS.md §6 uses 2, for classes of hundreds of images).")
    var minVerified: Int = LabelCleaning().minimumVerified

    @Option(help: "Nearest neighbours of any label also verified: an image whose label is outvoted by more verified neighbours of one other landmark is dropped (0: off, METHODS.md §6's rule alone).")
    var voteNeighbours: Int = LabelCleaning().voteNeighbours

    @Option(help: "For an image no neighbour of any label verifies: nearest neighbours whose plurality must carry its label to keep it (0: drop such images).")
    var fallbackNeighbours: Int = LabelCleaning().fallbackNeighbours

    @Flag(help: "Print every decision and the per-landmark report as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    struct Report: Encodable {
        var kept: Int
        var dropped: Int
        var landmarks: [String: [String: Int]]
        var decisions: [LabelCleaning.Decision]
    }

    func validate() throws {
        guard voteNeighbours >= 0, fallbackNeighbours >= 0 else {
            throw ValidationError("--vote-neighbours and --fallback-neighbours must be at least 0")
        }
        guard neighbours > 0, sameLabel > 0, minInliers > 0, minVerified >= 0 else {
            throw ValidationError("--neighbours, --same-label and --min-inliers must be positive, --min-verified at least 0")
        }
        guard URL(fileURLWithPath: output).standardizedFileURL != URL(fileURLWithPath: labels).standardizedFileURL else {
            throw ValidationError("--out must not be the --labels file")
        }
    }

    func run() throws {
        let index: RetrievalIndex
        do {
            index = try RetrievalIndex.open(URL(fileURLWithPath: trainIndex))
        } catch {
            throw fail(error)
        }
        guard let data = FileManager.default.contents(atPath: labels), let text = String(data: data, encoding: .utf8) else {
            Console.error("error: \(labels): cannot read the labels")
            throw LandmarkExitCode.failure
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        guard lines.first?.split(separator: "\t", omittingEmptySubsequences: false) == ["image", "landmark"] else {
            Console.error("error: \(labels): line 1: header must be `image<TAB>landmark`")
            throw LandmarkExitCode.failure
        }
        var labelOf: [String: String] = [:]
        for (offset, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 2 else {
                Console.error("error: \(labels): line \(offset + 1): expected 2 tab-separated fields (image, landmark)")
                throw LandmarkExitCode.failure
            }
            if !fields[1].isEmpty { labelOf[fields[0]] = fields[1] }
        }
        // Rows name files relative to the labels file's folder, matched to the index's images by file.
        let keyOf = LandmarkLabels(labelOf, baseDirectory: URL(fileURLWithPath: labels).deletingLastPathComponent())
            .matchingKeys(identifiers: index.store.identifiers, imageRoot: index.manifest.imageRoot)
        let labelOfIdentifier = keyOf.compactMapValues { labelOf[$0] }
        let matchedKeys = Set(keyOf.values)
        let missing = labelOf.keys.filter { !matchedKeys.contains($0) }
        if !missing.isEmpty {
            Console.error("warning: \(missing.count) labelled images are not in the index (e.g. \(missing.sorted()[0])); they are dropped")
        }
        let cleaning = LabelCleaning(neighbours: neighbours, sameLabelNeighbours: sameLabel, minimumInliers: minInliers,
                                     minimumVerified: minVerified, voteNeighbours: voteNeighbours,
                                     fallbackNeighbours: fallbackNeighbours)
        let decisions: [LabelCleaning.Decision]
        do {
            decisions = try cleaning.clean(index, labels: labelOfIdentifier, progress: ProgressBar(label: "verifying", enabled: !quiet).handler)
        } catch {
            Console.error("error: \(error)")
            throw LandmarkExitCode.failure
        }
        let kept = Set(decisions.filter(\.kept).compactMap { keyOf[$0.image] })
        let header = lines.removeFirst()
        let keptLines = lines.filter { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            return fields.count == 2 && kept.contains(String(fields[0]))
        }
        do {
            try DurableFile.write(Data(([header] + keptLines).joined(separator: "\n").appending("\n").utf8), to: URL(fileURLWithPath: output))
        } catch {
            Console.error("error: \(output): \(error)")
            throw LandmarkExitCode.failure
        }
        var perLandmark: [String: [String: Int]] = [:]
        for decision in decisions { perLandmark[decision.label, default: ["kept": 0, "dropped": 0]][decision.kept ? "kept" : "dropped", default: 0] += 1 }
        let keptCount = decisions.filter(\.kept).count
        let report = Report(kept: keptCount, dropped: decisions.count - keptCount, landmarks: perLandmark, decisions: decisions)
        if json {
            print(JSONOutput.line(report))
            return
        }
        print("kept \(report.kept) of \(decisions.count) labelled images in \(output) (\(report.dropped) dropped)")
        for landmark in perLandmark.keys.sorted() {
            let counts = perLandmark[landmark] ?? [:]
            print(String(format: "  %-32@ kept %3d  dropped %3d", landmark as NSString, counts["kept"] ?? 0, counts["dropped"] ?? 0))
        }
    }
}
