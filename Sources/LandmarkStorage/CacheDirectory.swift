import Foundation

/// Where the tool keeps what it downloads (network weights, the OpenBLAS build):
/// `$LANDMARK_CACHE`, else `$XDG_CACHE_HOME/landmark`, else `$HOME/.cache/landmark` — the same
/// place `scripts/setup.sh` writes to, stated once.
public enum CacheDirectory {
    /// The cache root for `environment` (the process's by default). `$HOME` wins over the account's
    /// home directory, so a user (or a test) that points `HOME` elsewhere finds what setup put there.
    public static func root(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let explicit = environment["LANDMARK_CACHE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit, isDirectory: true)
        }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg, isDirectory: true).appendingPathComponent("landmark", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home, isDirectory: true).appendingPathComponent(".cache/landmark", isDirectory: true)
    }
}
