import Dispatch
import Foundation
import LandmarkTensor

/// Runs independent per-image work on every core, each worker with its own tensor workspace, and
/// returns the results in image order — so that results do not depend on thread timing.
public enum ParallelImageWork {
    public static var workerCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    public static func map<Result: Sendable>(_ count: Int, _ body: @Sendable (Int, TensorWorkspace) -> Result) -> [Result] {
        let slots = Slots<Result>(count: count)
        let workers = min(workerCount, max(count, 1))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let workspace = TensorWorkspace()
            var index = worker
            while index < count {
                slots.set(index, body(index, workspace))
                index += workers
            }
        }
        return slots.values
    }

    /// Contiguous chunks, one per worker: the split backward passes use, fixed for a given count.
    static func chunks(_ count: Int) -> [Range<Int>] {
        let workers = min(workerCount, max(count, 1))
        return (0..<workers).map { worker in (count * worker / workers)..<(count * (worker + 1) / workers) }
    }

    final class Slots<Value: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [Value?]

        init(count: Int) { storage = [Value?](repeating: nil, count: count) }

        func set(_ index: Int, _ value: Value) {
            lock.lock()
            storage[index] = value
            lock.unlock()
        }

        var values: [Value] {
            lock.lock()
            defer { lock.unlock() }
            return storage.compactMap { $0 }
        }
    }
}

extension ParameterSet {
    /// Adds `other`'s gradients to these (the same parameters, accumulated elsewhere).
    mutating func addGradients(of other: ParameterSet) {
        precondition(other.count == count, "gradients of another parameter set")
        for position in 0..<count {
            let source = other[position].gradient
            var parameter = self[position]
            parameter.gradient.withUnsafeMutableBufferPointer { target in
                for index in 0..<target.count { target[index] += source[index] }
            }
            self[position] = parameter
        }
    }
}
