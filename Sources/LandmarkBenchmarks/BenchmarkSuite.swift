import Foundation
public struct BenchmarkReport: Sendable { public var text: String; public var json: String }
public enum BenchmarkSuite {
    public static func run(imagesDirectory: URL?, quick: Bool, log: (String) -> Void) -> BenchmarkReport { BenchmarkReport(text: "", json: "") }
}
