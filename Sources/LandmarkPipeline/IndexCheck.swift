import Foundation
import LandmarkIndex

/// Verifies every file of an index directory in full — what opening an index skips for speed:
/// the store's checksum over every byte, the local-feature store's checksum, the ASMK files, the
/// approximate index and their agreement with the manifest.
public enum IndexCheck {
    /// The verdict on one file.
    public struct FileResult: Sendable, Codable, Equatable {
        /// File name inside the index directory.
        public var file: String
        /// nil when the file is sound; otherwise what is wrong and what to do.
        public var problem: String?
        /// Bytes read.
        public var bytes: Int
    }

    /// Checks the index at `directory`; one result per file the manifest names (the manifest first).
    public static func run(_ directory: URL) -> [FileResult] {
        do {
            if let sharded = try ShardedIndexManifest.load(in: directory) {
                var results = [FileResult(file: ShardedIndexManifest.fileName, problem: nil, bytes: 0)]
                for name in sharded.shards {
                    results += run(directory.appendingPathComponent(name)).map {
                        FileResult(file: name + "/" + $0.file, problem: $0.problem, bytes: $0.bytes)
                    }
                }
                // The shards must also agree with one another, which opening them together checks.
                do {
                    _ = try RetrievalIndex.open(directory)
                } catch {
                    results[0].problem = error.reason
                }
                return results
            }
        } catch {
            return [FileResult(file: ShardedIndexManifest.fileName, problem: error.reason, bytes: 0)]
        }
        var results: [FileResult] = []
        func size(_ name: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path))?[.size] as? Int) ?? 0
        }
        func record(_ name: String, _ problem: String?) {
            results.append(FileResult(file: name, problem: problem, bytes: size(name)))
        }
        let manifestURL = directory.appendingPathComponent(IndexManifest.fileName)
        guard let data = try? Data(contentsOf: manifestURL) else {
            record(IndexManifest.fileName, "missing or unreadable: not an index directory (or indexing never finished)")
            return results
        }
        let manifest: IndexManifest
        do {
            manifest = try IndexManifest.decode(data, file: IndexManifest.fileName)
        } catch {
            record(IndexManifest.fileName, error.reason)
            return results
        }
        record(IndexManifest.fileName, IndexManifest.supportedFormatVersions.contains(manifest.formatVersion)
               ? nil : "format \(manifest.formatVersion) is not supported by this build")

        // Every segment in full, then the segments together against the manifest.
        var store: SegmentedDescriptorStore?
        do {
            let opened = try IndexSegments.open(directory, manifest: manifest, checksumLimit: .max)
            store = opened
            for segment in manifest.descriptorSegments { record(segment.file, nil) }
        } catch {
            let failing = manifest.descriptorSegments.first { error.file.hasSuffix("/" + $0.file) }?.file
                ?? manifest.descriptorSegments.first?.file ?? IndexLayout.storeFileName
            record(failing, error.reason)
        }

        if let store {
            let factory = manifest.vectorIndex ?? .defaultFactory
            if !factory.isExact {
                let url = directory.appendingPathComponent(IndexLayout.vectorIndexFileName)
                var problem: String?
                do {
                    _ = try store.vectorIndex(factory, savedAt: url)
                } catch {
                    problem = error.reason
                }
                record(IndexLayout.vectorIndexFileName, problem)
            } else if factory.storeElementType != store.elementType {
                results[results.count - 1].problem = results[results.count - 1].problem
                    ?? "stored as \(store.elementType), the manifest's \(factory) expects \(factory.storeElementType)"
            }
        }

        if let local = manifest.local {
            for name in [local.featuresFile, local.vocabularyFile, local.asmkFile] where !IndexLayout.isPlainFileName(name) {
                record(name, "the manifest names a file outside the index directory; rebuild the index")
                return results
            }
            do {
                let features = try LocalFeatureStore.open(directory.appendingPathComponent(local.featuresFile), verifyChecksum: true)
                record(local.featuresFile, store.map { features.identifiers == $0.identifiers } == false
                       ? "its images differ from those of the descriptor store" : nil)
            } catch {
                record(local.featuresFile, error.reason)
            }
            do {
                _ = try VisualVocabulary.load(contentsOf: directory.appendingPathComponent(local.vocabularyFile))
                record(local.vocabularyFile, nil)
            } catch {
                record(local.vocabularyFile, error.reason)
            }
            do {
                let asmk = try ASMKIndex.load(contentsOf: directory.appendingPathComponent(local.asmkFile))
                record(local.asmkFile, asmk.imageCount == manifest.count ? nil
                       : "indexes \(asmk.imageCount) images, the manifest \(manifest.count)")
            } catch {
                record(local.asmkFile, error.reason)
            }
        }
        return results
    }
}
