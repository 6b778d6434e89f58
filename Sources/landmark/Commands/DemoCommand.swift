import ArgumentParser
import Foundation
import LandmarkDemo
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkPipeline

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build a small synthetic landmark dataset, index it, search it and print the mAP.",
        discussion: """
        Needs no download and no input. The photographs are procedurally generated façades, each seen \
        several times under a different viewpoint, light and occlusion, plus distractors; they are written \
        as JPEG files with a ground_truth.tsv, then go through exactly the path real photographs take.
        """)

    @Option(help: "Directory to write the dataset and its index into (default: a new temporary directory).")
    var output: String?

    @Option(parsing: .unconditional, help: "Number of landmarks.")
    var landmarks: Int = 8

    @Option(parsing: .unconditional, help: "Views per landmark.")
    var views: Int = 5

    @Option(parsing: .unconditional, help: "Distractor images.")
    var distractors: Int = 10

    @Option(help: "Random seed of the generator.")
    var seed: UInt64 = 2019

    @OptionGroup(title: "Descriptor")
    var descriptorOptions: DescriptorOptions

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func validate() throws {
        guard landmarks > 0, views >= 2 else { throw ValidationError("need at least one landmark and two views") }
        guard distractors >= 0 else { throw ValidationError("--distractors must not be negative") }
    }

    func run() throws {
        let root = output.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("landmark-demo-\(ProcessInfo.processInfo.processIdentifier)")
        let datasetDirectory = root.appendingPathComponent("dataset")
        let indexDirectory = root.appendingPathComponent("index")
        let extractor = try descriptorOptions.makeExtractor()

        Console.error("1/4 rendering \(landmarks) landmarks × \(views) views + \(distractors) distractors into \(datasetDirectory.path)")
        let generator = SyntheticLandmarkDataset(configuration: .init(
            landmarkCount: landmarks, viewsPerLandmark: views, distractorCount: distractors, seed: seed))
        do {
            try generator.write(to: datasetDirectory)
        } catch {
            throw fail(PipelineError(code: .writeFailed, file: datasetDirectory.path, reason: "\(error)"))
        }

        Console.error("2/4 indexing with \(extractor.name)")
        let summary: IndexBuildSummary
        let index: RetrievalIndex
        let benchmark: FolderBenchmark
        do throws(PipelineError) {
            summary = try IndexBuilder.build(images: datasetDirectory, index: indexDirectory, extractor: extractor,
                                             progress: ProgressBar(label: "indexing").handler)
            index = try RetrievalIndex.open(indexDirectory)
        } catch {
            throw fail(error)
        }
        do {
            benchmark = try FolderBenchmark.load(datasetDirectory)
        } catch {
            throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
        }

        Console.error("3/4 searching")
        let queries = benchmark.queryIndices.filter { benchmark.images[$0].hasSuffix("__1.jpg") }.prefix(3)
        if !json {
            let outcomes = index.search(images: queries.map { benchmark.imageURL($0) }, top: 5)
            for (query, outcome) in zip(queries, outcomes) {
                print("query \(benchmark.images[query])")
                guard case .success(let hits) = outcome else { continue }
                for (rank, hit) in hits.enumerated() {
                    let mark = hit.image == benchmark.images[query] ? "(itself)"
                        : benchmark.labels[query].map { hit.image.contains($0 + "__") } == true ? "✓" : "✗"
                    print(String(format: "  %d. %.3f  %@ %@", rank + 1, hit.score, hit.image, mark))
                }
            }
        }

        Console.error("4/4 evaluating (every landmark image queries all the others)")
        let evaluation = RetrievalEvaluation(extraction: DescriptorExtraction(extractor: extractor))
        let (report, _) = try evaluation.evaluate(benchmark)
        if json {
            var summaryObject = report.summary
            summaryObject["indexed"] = .integer(summary.total - summary.skipped.count)
            summaryObject["output"] = .string(root.path)
            print(JSONOutput.line(summaryObject))
        } else {
            print(EvaluateCommand.describe(report))
            print("dataset and index kept in \(root.path)")
        }
    }
}
