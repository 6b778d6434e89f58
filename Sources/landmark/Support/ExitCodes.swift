import ArgumentParser
import Foundation
import LandmarkPipeline

/// Exit codes documented in `landmark --help`.
enum LandmarkExitCode {
    static let failure = ExitCode(1)
    static let someInputsSkipped = ExitCode(3)

    /// Exit 3 when some inputs were skipped, 1 when all of them were: a run that produced nothing
    /// must not look to a script like a partial success.
    static func forSkipped(_ skipped: Int, of total: Int) -> ExitCode? {
        guard skipped > 0 else { return nil }
        return skipped >= total ? failure : someInputsSkipped
    }
}

/// Prints a pipeline error for a person and exits with the failure code.
func fail(_ error: PipelineError) -> ExitCode {
    Console.error("error: \(error)")
    return LandmarkExitCode.failure
}

/// Runs `body`, turning the library's errors (index, mining, Spark, database: each names its file or
/// table and the reason) into a message and the failure code; usage errors pass through to the parser.
func reportingFailures<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as ValidationError {
        throw error
    } catch let error as ExitCode {
        throw error
    } catch let error as CustomStringConvertible & Error {
        Console.error("error: \(error)")
        throw LandmarkExitCode.failure
    }
}

/// Where messages for people go: results to standard output, everything else to standard error, so
/// that `--json` output can be piped.
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}

extension Console {
    /// `text` for line-oriented output: control characters (a newline in a file name) escaped as
    /// `\n`, `\t`, `\r` or `\u{…}`, so that one result stays one line for the scripts that read it.
    static func line(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where scalar.properties.generalCategory == .control: escaped += "\\u{\(String(scalar.value, radix: 16))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
