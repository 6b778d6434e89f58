import Foundation
import LandmarkFuzzing

#if LANDMARK_LIBFUZZER
// Built by scripts/fuzz.sh with -sanitize=fuzzer,address: libFuzzer provides main and calls this
// function with each input; LANDMARK_FUZZ_TARGET names the parser under test.
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["LANDMARK_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("landmark-fuzz: set LANDMARK_FUZZ_TARGET to one of \(names)\n".utf8))
        exit(64)
    }
    return target
}()

private let scratch: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
    let url = base.appendingPathComponent("landmark-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    target.run(bytes, scratch: scratch)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// SwiftPM links an executable's entry point under this name; it hands control to libFuzzer's driver.
@_cdecl("landmark_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
#else
/// Without libFuzzer: `landmark-fuzz seeds DIR` writes the seed corpus, `landmark-fuzz TARGET FILE…`
/// replays inputs (a crasher, a corpus) through a target.
@main
struct FuzzReplay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        guard let first = arguments.first else {
            print("usage: landmark-fuzz seeds DIR | landmark-fuzz TARGET FILE-OR-DIR… (targets: \(names))")
            exit(64)
        }
        if first == "seeds", arguments.count == 2 {
            try FuzzSeeds.write(to: URL(fileURLWithPath: arguments[1]))
            return
        }
        guard let target = FuzzTarget(rawValue: first) else {
            FileHandle.standardError.write(Data("landmark-fuzz: unknown target \(first) (targets: \(names))\n".utf8))
            exit(64)
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-fuzz-replay-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? (try FileManager.default.contentsOfDirectory(atPath: path)).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run([UInt8](data), scratch: scratch)
                count += 1
            }
        }
        print("replayed \(count) inputs through \(target.rawValue)")
    }
}
#endif
