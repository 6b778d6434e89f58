import Foundation

/// One result per work item, written by worker threads at distinct indices and read once they
/// have all finished: how every parallel loop of the system (extraction, verification, searches)
/// collects its results in input order. Kept in this core module so that index and pipeline
/// code share it.
public final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    // The lock makes each write and the final read safe; workers never write the same index.
    private var storage: [Value]
    private let lock = NSLock()

    public init(count: Int, initial: Value) { storage = Array(repeating: initial, count: count) }

    public func set(_ index: Int, _ value: Value) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }

    public var values: [Value] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
