import ArgumentParser

/// The `landmark` command: a thin front end over the LandmarkPipeline library.
@main
struct Landmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "landmark",
        abstract: "Landmark image retrieval and recognition: index a folder of photographs, search it, recognise landmarks, evaluate.",
        discussion: """
        Start with `landmark demo`, which needs no input: it builds a small set of synthetic landmark \
        photographs, indexes it, runs queries and prints the mAP.

        EXIT CODES
          0   success
          1   failure (the error names the file and the reason), or every input image was skipped
          3   finished, but some input images were skipped (listed in the output)
          64  invalid command line
        """,
        version: "0.1.0",
        subcommands: [DemoCommand.self, IndexCommand.self, SearchCommand.self, EvaluateCommand.self,
                      BenchCommand.self, WhitenCommand.self, VerifyCommand.self, RecognizeCommand.self,
                      TrainCommand.self, MineCommand.self, CleanCommand.self, CheckCommand.self, ServeCommand.self,
                      MergeCommand.self, KNNCommand.self, MatchGraphCommand.self, DatabaseCommand.self])
}
