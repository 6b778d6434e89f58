import Foundation
import LandmarkPipeline

/// A progress bar with rate and ETA on a terminal; on a pipe or a log, a line every 10 %.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let lock = NSLock()
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastDecile = -1
    private let interactive: Bool
    private let enabled: Bool

    init(label: String, enabled: Bool = true) {
        self.label = label
        self.enabled = enabled
        interactive = Console.standardErrorIsTerminal
    }

    /// Forwards pipeline progress here.
    var handler: @Sendable (PipelineProgress) -> Void {
        { [self] progress in update(progress) }
    }

    func update(_ progress: PipelineProgress) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        let done = progress.completed >= progress.total
        let fraction = progress.total > 0 ? Double(progress.completed) / Double(progress.total) : 1
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(progress.completed) / elapsed : 0
        let remaining = rate > 0 ? Double(progress.total - progress.completed) / rate : 0
        if interactive {
            guard done || now.timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = now
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let line = String(format: "\r%@ %@ %d/%d %3.0f%% %.1f img/s ETA %@ ", label, bar, progress.completed,
                              progress.total, fraction * 100, rate, Self.clock(remaining))
            FileHandle.standardError.write(Data(line.utf8))
            if done { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = Int(fraction * 10)
            guard decile > lastDecile else { return }
            lastDecile = decile
            Console.error(String(format: "%@ %d/%d (%.0f%%, %.1f img/s, ETA %@)", label, progress.completed,
                                 progress.total, fraction * 100, rate, Self.clock(remaining)))
        }
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
