import Foundation
import LandmarkPipeline
import LandmarkStorage

/// The folder a distributed job keeps its plan, driver, log and task outputs in: created with the marker
/// file that makes it the tool's own, so the tool removes only folders it made, and only its own files in them.
enum SparkWorkFolder {
    /// `folder`, created with its marker, or reused when it is the tool's own.
    /// - Throws: `.invalidRequest` when a folder of that name exists without the marker.
    static func open(_ folder: URL, purpose: String) throws(PipelineError) -> URL {
        let marker = folder.appendingPathComponent(IndexLayout.workMarkerFileName)
        if FileManager.default.fileExists(atPath: folder.path) {
            guard IndexWorkDirectory.isOwnWorkDirectory(folder) else {
                throw PipelineError(code: .invalidRequest, file: folder.path,
                                    reason: "exists but was not created by landmark (no \(IndexLayout.workMarkerFileName) in it); move it away and run again")
            }
            return folder
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try DurableFile.write(Data("\(purpose)\n".utf8), to: marker)
        } catch {
            throw PipelineError(code: .writeFailed, file: folder.path, reason: "cannot create the work folder: \(error.localizedDescription)")
        }
        return folder
    }

    /// Removes the job's own files (the driver's, `SparkJob`'s, and those named with `outputPrefix`),
    /// then the folder and its marker when nothing else is left in it.
    static func remove(_ folder: URL, outputPrefix: String) {
        guard IndexWorkDirectory.isOwnWorkDirectory(folder) else { return }
        let fileManager = FileManager.default
        for name in (try? fileManager.contentsOfDirectory(atPath: folder.path)) ?? []
        where name.hasPrefix(outputPrefix) || SparkJob.ownFileNames.contains(name) || DurableFile.isTemporaryName(name) {
            try? fileManager.removeItem(at: folder.appendingPathComponent(name))
        }
        if (try? fileManager.contentsOfDirectory(atPath: folder.path)) == [IndexLayout.workMarkerFileName] {
            try? fileManager.removeItem(at: folder.appendingPathComponent(IndexLayout.workMarkerFileName))
            try? fileManager.removeItem(at: folder)
        }
    }
}
