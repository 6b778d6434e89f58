import Dispatch
import Foundation

/// Bounds the heavy work (decoding, descriptors, verification) the service does at once.
///
/// At most `workers` jobs run; up to `capacity` more wait in arrival order. A request that finds the
/// queue full is refused at once with 503 and a Retry-After, and one that waits longer than `timeout`
/// is refused the same way, so memory stays bounded under any load and clients learn to back off
/// instead of piling up. Jobs run on Dispatch's global queue, never on the server's event loops, which
/// keep accepting and refusing requests while every worker is busy.
public actor WorkQueue {
    public nonisolated let workers: Int
    public nonisolated let capacity: Int
    public nonisolated let timeout: Duration

    private var running = 0
    private var waiting: [(ticket: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextTicket = 0
    private let depthChanged: @Sendable (_ running: Int, _ waiting: Int) -> Void

    /// - Parameter depthChanged: told the running and waiting counts whenever they change (metrics).
    public init(workers: Int, capacity: Int, timeout: Duration,
                depthChanged: @escaping @Sendable (_ running: Int, _ waiting: Int) -> Void = { _, _ in }) {
        self.workers = max(1, workers)
        self.capacity = max(0, capacity)
        self.timeout = timeout
        self.depthChanged = depthChanged
    }

    /// Runs `job` on a worker once one is free.
    /// - Throws: `ServiceError` 503 when the queue is full or the wait exceeds `timeout`; what `job` throws.
    public func run<Value: Sendable>(_ job: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await acquire()
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try job() })
            }
        }
    }

    /// Jobs running and waiting now.
    public var depth: (running: Int, waiting: Int) { (running, waiting.count) }

    private func acquire() async throws {
        if running < workers {
            running += 1
            depthChanged(running, waiting.count)
            return
        }
        guard waiting.count < capacity else {
            throw ServiceError(.serviceUnavailable, "the service is busy (\(running) requests running, \(waiting.count) waiting); retry shortly",
                               retryAfterSeconds: 1)
        }
        let ticket = nextTicket
        nextTicket += 1
        let timeout = self.timeout
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            waiting.append((ticket, continuation))
            depthChanged(running, waiting.count)
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expire(ticket)
            }
        }
    }

    /// Hands the worker straight to the next waiter (so `running` stays), or frees it.
    private func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().continuation.resume()
        }
        depthChanged(running, waiting.count)
    }

    private func expire(_ ticket: Int) {
        guard let position = waiting.firstIndex(where: { $0.ticket == ticket }) else { return }
        let waiter = waiting.remove(at: position)
        depthChanged(running, waiting.count)
        waiter.continuation.resume(throwing: ServiceError(
            .serviceUnavailable, "the request waited longer than \(timeout) for a free worker; retry shortly", retryAfterSeconds: 2))
    }
}
