/// A value decoded from a Python pickle by `PickleDecoder`.
///
/// Plain data (numbers, text, containers) decodes to the matching case. What Python would *execute* —
/// looking up a global, calling it, setting an object's state, resolving a persistent id — stays symbolic
/// (`global`, `call`, `build`, `persistentID`), so a consumer decides which few constructors it trusts and
/// interprets them itself (`resolvingNumpyArrays()` for numpy data; the checkpoint reader for tensors).
public indirect enum PickleValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    /// A Python 3 `str`.
    case string(String)
    /// Python 3 `bytes`, or a Python 2 `str` (which pickles as bytes; see `text`).
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// Entries in pickle order.
    case dictionary([PickleDictionaryEntry])
    /// A numpy `ndarray` of a numeric or boolean dtype; produced by `resolvingNumpyArrays()`, never by the
    /// decoder itself.
    case array(NumpyArray)
    /// A reference to `module.name` (GLOBAL, STACK_GLOBAL), never imported.
    case global(module: String, name: String)
    /// `callable(*arguments)` as REDUCE, NEWOBJ, OBJ or INST would have run it.
    case call(callable: PickleValue, arguments: [PickleValue])
    /// `object` with `state` applied by BUILD (`__setstate__` or an update of `__dict__`).
    case build(object: PickleValue, state: PickleValue)
    /// A persistent id (BINPERSID, PERSID) that the pickler stored in place of an object, e.g. torch's
    /// `('storage', FloatStorage, key, location, count)` tuples.
    case persistentID(PickleValue)

    /// The value as text: a `str`, or a Python 2 byte string decoded as UTF-8 (Latin-1 if not UTF-8, the
    /// only encoding in which every byte string is valid).
    public var text: String? {
        switch self {
        case .string(let string): return string
        case .bytes(let bytes):
            if let string = String(validating: bytes, as: UTF8.self) { return string }
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        default: return nil
        }
    }

    /// The value of `key` in a dictionary whose keys are text; nil for other values or missing keys.
    public subscript(key: String) -> PickleValue? {
        guard case .dictionary(let entries) = self else { return nil }
        return entries.first { $0.key.text == key }?.value
    }

    /// Whether the value is plain data: no global, call, build or persistent id anywhere inside it.
    public var isPlainData: Bool {
        switch self {
        case .none, .bool, .int, .float, .string, .bytes, .array: return true
        case .list(let items), .tuple(let items): return items.allSatisfy(\.isPlainData)
        case .dictionary(let entries): return entries.allSatisfy { $0.key.isPlainData && $0.value.isPlainData }
        case .global, .call, .build, .persistentID: return false
        }
    }

    /// The items of a list or tuple.
    public var items: [PickleValue]? {
        switch self {
        case .list(let items), .tuple(let items): return items
        default: return nil
        }
    }

    /// A list or tuple of integers, or a 1-D integer (or boolean) array — ground-truth files use either.
    public var integers: [Int]? {
        switch self {
        case .int(let value): return [value]
        case .array(let array):
            switch array.elements {
            case .integers(let values): return values
            case .booleans(let values): return values.map { $0 ? 1 : 0 }
            case .floats: return nil
            }
        case .list(let items), .tuple(let items):
            var values: [Int] = []
            values.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .int(let value): values.append(value)
                case .bool(let value): values.append(value ? 1 : 0)
                default: return nil
                }
            }
            return values
        default: return nil
        }
    }

    /// A list or tuple of numbers, or a numeric array, as doubles.
    public var doubles: [Double]? {
        switch self {
        case .int(let value): return [Double(value)]
        case .float(let value): return [value]
        case .array(let array):
            switch array.elements {
            case .integers(let values): return values.map(Double.init)
            case .floats(let values): return values
            case .booleans(let values): return values.map { $0 ? 1 : 0 }
            }
        case .list(let items), .tuple(let items):
            var values: [Double] = []
            values.reserveCapacity(items.count)
            for item in items {
                switch item {
                case .int(let value): values.append(Double(value))
                case .float(let value): values.append(value)
                default: return nil
                }
            }
            return values
        default: return nil
        }
    }
}

/// One key–value pair of a pickled dictionary (keys may be any hashable Python value, so no Swift
/// dictionary can hold them faithfully).
public struct PickleDictionaryEntry: Sendable, Equatable {
    public var key: PickleValue
    public var value: PickleValue

    public init(key: PickleValue, value: PickleValue) {
        self.key = key
        self.value = value
    }
}

/// A numpy array read from a pickle, in C (row-major) order.
public struct NumpyArray: Sendable, Equatable {
    public enum Elements: Sendable, Equatable {
        case integers([Int])
        case floats([Double])
        case booleans([Bool])
    }

    public var shape: [Int]
    public var elements: Elements

    public init(shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
    }
}
