import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The photographs of a folder, as the indexer sees them.
public enum ImageCollection {
    /// File name extensions treated as images (case-insensitive). Other files are ignored silently;
    /// files with these extensions that cannot be decoded are reported as skipped.
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// What a scan found: the images to index, and every entry that looked like one of the user's
    /// photographs (or a folder of them) but cannot be indexed, with the reason.
    public struct Scan: Sendable, Equatable {
        /// Relative paths of the images, sorted so that every run, and every resumed run, sees the
        /// same order.
        public var images: [String]
        /// Entries left out: symbolic links, hidden image files, names that are not UTF-8, folders
        /// that cannot be read.
        public var leftOut: [SkippedImage]
    }

    /// Relative paths of every image below `directory` (recursively), sorted. See `scanReporting`
    /// for what is left out and why.
    public static func scan(_ directory: URL) throws(PipelineError) -> [String] {
        try scanReporting(directory).images
    }

    /// Every image below `directory`, recursively, and the entries left out with their reason, so that
    /// none is lost without a word:
    /// - symbolic links are not followed (a link can leave the folder or loop; index its target's
    ///   folder instead);
    /// - hidden entries (names starting with a dot) are not descended into, and hidden image files are
    ///   reported (editors and sync tools leave such copies);
    /// - names that are not valid UTF-8 cannot be stored as identifiers and are reported with the
    ///   invalid bytes escaped;
    /// - folders that cannot be listed are reported with the system's reason.
    /// Files without an image extension are ignored silently.
    /// - Throws: `.inputNotFound` when `directory` is missing, not a directory or cannot be listed.
    public static func scanReporting(_ directory: URL) throws(PipelineError) -> Scan {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PipelineError(code: .inputNotFound, file: directory.path, reason: "no such directory")
        }
        let root = directory.standardizedFileURL.resolvingSymlinksInPath().path
        var scan = Scan(images: [], leftOut: [])
        guard let stream = opendir(root) else {
            throw PipelineError(code: .inputNotFound, file: directory.path, reason: "cannot list the directory: \(String(cString: strerror(errno)))")
        }
        closedir(stream)
        walk(root: root, relative: [], into: &scan)
        scan.images.sort()
        scan.leftOut.sort { $0.image < $1.image }
        return scan
    }

    /// Lists one folder (`relative`: its path below `root` as raw name bytes) and descends.
    private static func walk(root: String, relative: [UInt8], into scan: inout Scan) {
        let folderPath = Array(root.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
        let displayFolder = displayName(relative)
        guard let stream = opendir(cPath(folderPath)) else {
            scan.leftOut.append(SkippedImage(image: displayFolder + "/", reason: "folder cannot be read: \(String(cString: strerror(errno)))"))
            return
        }
        defer { closedir(stream) }
        var entries: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            entries.append(name)
        }
        for name in entries {
            let entryRelative = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            var information = stat()
            guard lstat(cPath(Array(root.utf8) + [UInt8(ascii: "/")] + entryRelative), &information) == 0 else {
                scan.leftOut.append(SkippedImage(image: displayName(entryRelative), reason: "cannot be read: \(String(cString: strerror(errno)))"))
                continue
            }
            let kind = information.st_mode & S_IFMT
            let isImageName = hasImageExtension(name)
            let hidden = name.first == UInt8(ascii: ".")
            if kind == S_IFDIR {
                if !hidden { walk(root: root, relative: entryRelative, into: &scan) }
                continue
            }
            if kind == S_IFLNK, !hidden, !isImageName {
                // A link to a folder (perhaps a loop back up the tree) or to nothing: photos may be
                // behind it, so it is named rather than passed over.
                var target = stat()
                let resolved = stat(cPath(Array(root.utf8) + [UInt8(ascii: "/")] + entryRelative), &target) == 0
                if !resolved || target.st_mode & S_IFMT == S_IFDIR {
                    scan.leftOut.append(SkippedImage(image: displayName(entryRelative) + (resolved ? "/" : ""),
                                                     reason: resolved ? "symbolic link to a folder, not followed; index that folder instead"
                                                         : "symbolic link that does not resolve (\(String(cString: strerror(errno))))"))
                }
                continue
            }
            guard isImageName else { continue }
            guard let text = String(validating: entryRelative, as: UTF8.self) else {
                scan.leftOut.append(SkippedImage(image: displayName(entryRelative),
                                                 reason: "name is not valid UTF-8 (shown with the bytes escaped); rename the file to index it"))
                continue
            }
            if hidden {
                scan.leftOut.append(SkippedImage(image: text, reason: "hidden file (name starts with a dot); rename it to index it"))
            } else if kind == S_IFLNK {
                scan.leftOut.append(SkippedImage(image: text, reason: "symbolic link, not followed; index the folder of its target instead"))
            } else if kind == S_IFREG {
                scan.images.append(text)
            } else {
                scan.leftOut.append(SkippedImage(image: text, reason: "not a regular file"))
            }
        }
    }

    /// A path's bytes as a NUL-terminated C string, whatever its encoding.
    private static func cPath(_ bytes: [UInt8]) -> [CChar] {
        bytes.map { CChar(bitPattern: $0) } + [0]
    }

    private static func hasImageExtension(_ name: [UInt8]) -> Bool {
        guard let dot = name.lastIndex(of: UInt8(ascii: ".")), dot > name.startIndex else { return false }
        let suffix = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
        return imageExtensions.contains(suffix)
    }

    /// The name as text, each byte that is not part of valid UTF-8 shown as `\xNN`.
    static func displayName(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var result = ""
        var index = 0
        while index < bytes.count {
            // The longest valid UTF-8 sequence starting here (1 to 4 bytes), else one escaped byte.
            var matched = false
            for length in (1 ... 4).reversed() where index + length <= bytes.count {
                if let piece = String(validating: bytes[index ..< index + length], as: UTF8.self), piece.unicodeScalars.count == 1 {
                    result += piece
                    index += length
                    matched = true
                    break
                }
            }
            if !matched {
                result += String(format: "\\x%02X", bytes[index])
                index += 1
            }
        }
        return result
    }
}
