import Foundation
import LandmarkStorage
import Testing

@Test func durableWriteReplacesTheFileAndLeavesNoTemporary() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("durable-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("file.bin")
    try DurableFile.write(Data([1, 2, 3]), to: url)
    try DurableFile.write([4, 5], to: url)
    #expect(try Data(contentsOf: url) == Data([4, 5]))
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["file.bin"])
}

@Test func durableWriteIntoAMissingDirectoryNamesTheFile() {
    let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/file.bin")
    #expect(throws: StorageError.self) { try DurableFile.write(Data([1]), to: url) }
    do {
        try DurableFile.write(Data([1]), to: url)
    } catch {
        #expect(error.file == url.path)
        #expect(error.reason.contains("cannot create"))
    }
}

@Test func crc32MatchesZlib() {
    var check = CRC32()
    check.update(Array("123456789".utf8))
    #expect(check.value == 0xCBF4_3926)
    // Reference from Python: zlib.crc32(bytes((i*7+3)%256 for i in range(1000))).
    let data = (0 ..< 1000).map { UInt8(($0 * 7 + 3) % 256) }
    #expect(CRC32.checksum(data) == 0x17BC_2A46)
    var pieces = CRC32()
    pieces.update(Array(data[0 ..< 3]))
    pieces.update(Array(data[3 ..< 517]))
    pieces.update(Array(data[517...]))
    #expect(pieces.value == 0x17BC_2A46)
}

/// Issue 14, 5: the cache follows `$HOME` (where scripts/setup.sh writes), unless told otherwise.
@Test func cacheDirectoryFollowsTheEnvironment() {
    #expect(CacheDirectory.root(environment: ["HOME": "/tmp/someone"]).path == "/tmp/someone/.cache/landmark")
    #expect(CacheDirectory.root(environment: ["HOME": "/tmp/someone", "XDG_CACHE_HOME": "/tmp/xdg"]).path == "/tmp/xdg/landmark")
    #expect(CacheDirectory.root(environment: ["HOME": "/tmp/someone", "XDG_CACHE_HOME": "/tmp/xdg", "LANDMARK_CACHE": "/tmp/lc"]).path == "/tmp/lc")
    #expect(CacheDirectory.root(environment: ["HOME": "", "XDG_CACHE_HOME": ""]).path.hasSuffix("/.cache/landmark"))
}

/// What a killed writer leaves (its temporary file, named after its dead process) is removed; a live
/// writer's temporary file, our own and every other name stay.
@Test func leftoversOfDeadWritersAreRemovedAndNothingElse() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-leftovers-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    // A process id that is not running: a child that has exited and been reaped.
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/bin/true")
    try child.run()
    child.waitUntilExit()
    let dead = child.processIdentifier
    let names = [
        ".descriptors.lmd.tmp-\(dead)-12345",            // a killed writer's: removed
        ".index.json.tmp-1-777",                          // init is alive: kept
        ".index.json.tmp-\(getpid())-9",                  // ours: kept
        "photo.tmp-\(dead)-1.jpg", ".hidden", "notes.tmp-\(dead)-x", "descriptors.lmd",
    ]
    for name in names { try Data("x".utf8).write(to: directory.appendingPathComponent(name)) }
    let removed = DurableFile.removeLeftovers(in: directory)
    #expect(removed == [".descriptors.lmd.tmp-\(dead)-12345"])
    let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
    #expect(left == Set(names.dropFirst()))
}
