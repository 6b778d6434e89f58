import ArgumentParser
import Foundation
import LandmarkPipeline

/// Exit codes documented in `landmark --help`.
enum LandmarkExitCode {
    static let failure = ExitCode(1)
    static let someInputsSkipped = ExitCode(3)
}

/// Prints a pipeline error for a person and exits with the failure code.
func fail(_ error: PipelineError) -> ExitCode {
    Console.error("error: \(error)")
    return LandmarkExitCode.failure
}

/// Where messages for people go: results to standard output, everything else to standard error, so
/// that `--json` output can be piped.
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}
