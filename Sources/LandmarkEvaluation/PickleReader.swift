import Foundation

/// A small, safe reader for the pickles benchmark ground truth ships in (`gnd_roxford5k.pkl`, …).
///
/// Unlike Python's unpickler it never runs code: it knows the opcodes of protocols 2–5 that plain data uses
/// and a fixed list of constructors (numpy arrays, dtypes and scalars, `_codecs.encode`, `bytes`), and
/// refuses everything else. Every length is checked against the input and every structure against limits,
/// so truncated or hostile files produce a `DatasetError`, never a crash.
public enum PickleReader {
    /// Files beyond this size are refused; real ground-truth pickles are well under a megabyte.
    public static let maximumFileSize = 256 << 20
    /// Nesting beyond this depth is refused (and cyclic structures, which plain data never has, end here).
    public static let maximumDepth = 64

    /// Reads and decodes the pickle at `url`.
    public static func read(contentsOf url: URL) throws(DatasetError) -> PickleValue {
        let path = url.path
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > maximumFileSize {
            throw DatasetError(code: .malformedPickle, file: path,
                               reason: "file is \(size) bytes, more than the \(maximumFileSize) a ground-truth pickle can need")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError(code: .unreadable, file: path, reason: "cannot read the file; check that it exists and is readable")
        }
        return try decode([UInt8](data), file: path)
    }

    /// Decodes a pickle held in memory; `file` only names it in errors.
    public static func decode(_ bytes: [UInt8], file: String = "<memory>") throws(DatasetError) -> PickleValue {
        guard bytes.count <= maximumFileSize else {
            throw DatasetError(code: .malformedPickle, file: file, reason: "pickle larger than \(maximumFileSize) bytes")
        }
        var machine = PickleMachine(bytes: bytes)
        do {
            let root = try machine.run()
            return try machine.materialize(root, depth: 0).value(at: "the top-level value")
        } catch {
            throw DatasetError(code: .malformedPickle, file: file, reason: error.message)
        }
    }
}

struct PickleFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The pickle virtual machine over an arena of nodes. Containers are mutable in pickle (items are appended
/// after the container is memoized), so the memo and the stack hold arena indices, not values.
struct PickleMachine {
    enum Node {
        case leaf(PickleValue)
        case list(Int)              // index into `lists`
        case tuple([Int])
        case dictionary(Int)        // index into `dictionaries`
        case global(module: String, name: String)
        case object(Int)            // index into `objects`: a REDUCE result, possibly given state by BUILD
    }

    struct Object {
        var callable: Int
        var arguments: Int
        var state: Int?
    }

    enum StackItem {
        case node(Int)
        case mark
    }

    static let maximumNodes = 20_000_000

    let bytes: [UInt8]
    var position = 0
    var nodes: [Node] = []
    var lists: [[Int]] = []
    var dictionaries: [[(Int, Int)]] = []
    var objects: [Object] = []
    var stack: [StackItem] = []
    var memo: [Int: Int] = [:]
    var visits = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: Reading the input

    mutating func take(_ count: Int) throws(PickleFailure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else {
            throw PickleFailure("truncated at byte \(position): needs \(count) more bytes, \(bytes.count - position) left")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func byte() throws(PickleFailure) -> UInt8 {
        guard position < bytes.count else { throw PickleFailure("truncated: no STOP opcode before the end of the data") }
        defer { position += 1 }
        return bytes[position]
    }

    /// Little-endian unsigned integer of `count` bytes (count ≤ 8).
    mutating func unsigned(_ count: Int) throws(PickleFailure) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(count).enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }

    mutating func length(_ count: Int) throws(PickleFailure) -> Int {
        let value = try unsigned(count)
        guard value <= UInt64(bytes.count - position) else {
            throw PickleFailure("length \(value) at byte \(position - count) runs past the end of the data")
        }
        return Int(value)
    }

    mutating func line() throws(PickleFailure) -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw PickleFailure("truncated GLOBAL name") }
        let text = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return text
    }

    // MARK: Stack

    mutating func add(_ node: Node) throws(PickleFailure) -> Int {
        guard nodes.count < Self.maximumNodes else { throw PickleFailure("more than \(Self.maximumNodes) values") }
        nodes.append(node)
        return nodes.count - 1
    }

    mutating func push(_ node: Node) throws(PickleFailure) { stack.append(.node(try add(node))) }

    mutating func pop() throws(PickleFailure) -> Int {
        guard let item = stack.popLast() else { throw PickleFailure("stack underflow at byte \(position)") }
        guard case .node(let index) = item else { throw PickleFailure("unexpected MARK at byte \(position)") }
        return index
    }

    func top() throws(PickleFailure) -> Int {
        guard let item = stack.last, case .node(let index) = item else {
            throw PickleFailure("no value on the stack at byte \(position)")
        }
        return index
    }

    /// Pops everything down to the topmost MARK.
    mutating func popToMark() throws(PickleFailure) -> [Int] {
        guard let markIndex = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw PickleFailure("no MARK on the stack at byte \(position)")
        }
        var items: [Int] = []
        items.reserveCapacity(stack.count - markIndex - 1)
        for item in stack[(markIndex + 1)...] { if case .node(let index) = item { items.append(index) } }
        stack.removeSubrange(markIndex...)
        return items
    }

    mutating func appendItems(_ items: [Int], to target: Int) throws(PickleFailure) {
        guard case .list(let storage) = nodes[target] else { throw PickleFailure("APPEND to a value that is not a list") }
        lists[storage].append(contentsOf: items)
    }

    mutating func setItems(_ items: [Int], in target: Int) throws(PickleFailure) {
        guard items.count % 2 == 0 else { throw PickleFailure("SETITEMS with an odd number of values") }
        guard case .dictionary(let storage) = nodes[target] else {
            throw PickleFailure("SETITEM on a value that is not a dictionary")
        }
        var index = 0
        while index < items.count {
            dictionaries[storage].append((items[index], items[index + 1]))
            index += 2
        }
    }

    mutating func string(_ count: Int) throws(PickleFailure) -> Node {
        let raw = try take(count)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw PickleFailure("invalid UTF-8 in a string at byte \(position - count)")
        }
        return .leaf(.string(text))
    }

    mutating func memoGet(_ key: Int) throws(PickleFailure) {
        guard let index = memo[key] else { throw PickleFailure("memo entry \(key) used before it was stored") }
        stack.append(.node(index))
    }

    // MARK: Running

    /// Executes opcodes up to STOP and returns the arena index of the result.
    mutating func run() throws(PickleFailure) -> Int {
        while true {
            let opcode = try byte()
            switch opcode {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw PickleFailure("pickle protocol \(version) is newer than 5") }
            case 0x95: _ = try unsigned(8) // FRAME: framing only groups opcodes
            case 0x2E: // STOP
                let result = try pop()
                return result
            case 0x28: stack.append(.mark) // MARK
            case 0x4E: try push(.leaf(.none))
            case 0x88: try push(.leaf(.bool(true)))
            case 0x89: try push(.leaf(.bool(false)))
            case 0x4B: try push(.leaf(.int(Int(try unsigned(1))))) // BININT1
            case 0x4D: try push(.leaf(.int(Int(try unsigned(2))))) // BININT2
            case 0x4A: try push(.leaf(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))))) // BININT
            case 0x8A, 0x8B: // LONG1, LONG4
                let count = try length(opcode == 0x8A ? 1 : 4)
                let raw = try take(count)
                guard count <= 8 else { throw PickleFailure("integer of \(count) bytes does not fit 64 bits") }
                var value: UInt64 = 0
                for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
                if count > 0, count < 8, let last = raw.last, last & 0x80 != 0 {
                    value |= ~UInt64(0) << (8 * UInt64(count)) // sign-extend
                }
                try push(.leaf(.int(Int(Int64(bitPattern: value)))))
            case 0x47: // BINFLOAT, big-endian
                var value: UInt64 = 0
                for byte in try take(8) { value = value << 8 | UInt64(byte) }
                try push(.leaf(.float(Double(bitPattern: value))))
            case 0x58: try push(try string(try length(4)))  // BINUNICODE
            case 0x8C: try push(try string(try length(1)))  // SHORT_BINUNICODE
            case 0x8D: try push(try string(try length(8)))  // BINUNICODE8
            case 0x54: // BINSTRING: a Python 2 str, signed length
                let raw = try unsigned(4)
                guard raw < 0x8000_0000 else { throw PickleFailure("negative BINSTRING length") }
                position -= 4
                try push(.leaf(.bytes(Array(try take(try length(4))))))
            case 0x55: try push(.leaf(.bytes(Array(try take(try length(1)))))) // SHORT_BINSTRING
            case 0x42: try push(.leaf(.bytes(Array(try take(try length(4)))))) // BINBYTES
            case 0x43: try push(.leaf(.bytes(Array(try take(try length(1)))))) // SHORT_BINBYTES
            case 0x8E, 0x96: try push(.leaf(.bytes(Array(try take(try length(8)))))) // BINBYTES8, BYTEARRAY8
            case 0x5D: // EMPTY_LIST
                lists.append([])
                try push(.list(lists.count - 1))
            case 0x7D: // EMPTY_DICT
                dictionaries.append([])
                try push(.dictionary(dictionaries.count - 1))
            case 0x29: try push(.tuple([])) // EMPTY_TUPLE
            case 0x85: try push(.tuple([try pop()])) // TUPLE1
            case 0x86: // TUPLE2
                let second = try pop()
                try push(.tuple([try pop(), second]))
            case 0x87: // TUPLE3
                let third = try pop()
                let second = try pop()
                try push(.tuple([try pop(), second, third]))
            case 0x74: try push(.tuple(try popToMark())) // TUPLE
            case 0x6C: // LIST
                lists.append(try popToMark())
                try push(.list(lists.count - 1))
            case 0x64: // DICT
                let items = try popToMark()
                dictionaries.append([])
                let node = try add(.dictionary(dictionaries.count - 1))
                try setItems(items, in: node)
                stack.append(.node(node))
            case 0x61: // APPEND
                let item = try pop()
                try appendItems([item], to: try top())
            case 0x65: // APPENDS
                let items = try popToMark()
                try appendItems(items, to: try top())
            case 0x73: // SETITEM
                let value = try pop()
                let key = try pop()
                try setItems([key, value], in: try top())
            case 0x75: // SETITEMS
                let items = try popToMark()
                try setItems(items, in: try top())
            case 0x94: memo[memo.count] = try top() // MEMOIZE
            case 0x71: memo[Int(try unsigned(1))] = try top() // BINPUT
            case 0x72: memo[Int(try unsigned(4))] = try top() // LONG_BINPUT
            case 0x68: try memoGet(Int(try unsigned(1))) // BINGET
            case 0x6A: try memoGet(Int(try unsigned(4))) // LONG_BINGET
            case 0x63: // GLOBAL
                let module = try line()
                let name = try line()
                try push(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let nameNode = try pop()
                let moduleNode = try pop()
                guard case .leaf(.string(let name)) = nodes[nameNode],
                      case .leaf(.string(let module)) = nodes[moduleNode] else {
                    throw PickleFailure("STACK_GLOBAL needs two strings")
                }
                try push(.global(module: module, name: name))
            case 0x52: // REDUCE
                let arguments = try pop()
                let callable = try pop()
                guard case .global = nodes[callable] else { throw PickleFailure("REDUCE of a value that is not a global") }
                objects.append(Object(callable: callable, arguments: arguments, state: nil))
                try push(.object(objects.count - 1))
            case 0x62: // BUILD
                let state = try pop()
                guard case .object(let object) = nodes[try top()] else {
                    throw PickleFailure("BUILD on a value that was not constructed by REDUCE")
                }
                guard objects[object].state == nil else { throw PickleFailure("BUILD applied twice") }
                objects[object].state = state
            default:
                throw PickleFailure(String(format: "unsupported opcode 0x%02X at byte %d", opcode, position - 1))
            }
        }
    }

    // MARK: Materializing

    /// Intermediate results: plain values, plus the numpy dtypes and globals that only serve as arguments.
    enum Resolved {
        case value(PickleValue)
        case dtype(NumpyDType)
        case global(module: String, name: String)

        func value(at place: String) throws(PickleFailure) -> PickleValue {
            guard case .value(let value) = self else { throw PickleFailure("\(place) is a type, not data") }
            return value
        }
    }

    mutating func materialize(_ index: Int, depth: Int) throws(PickleFailure) -> Resolved {
        // Shared nodes (memo references) are visited once per use; the budget stops hostile DAGs whose
        // expansion would be exponential.
        visits += 1
        guard visits <= 4 * nodes.count + 1024 else { throw PickleFailure("shared references expand beyond the size of the data") }
        guard depth <= PickleReader.maximumDepth else {
            throw PickleFailure("values nested deeper than \(PickleReader.maximumDepth) levels (or a cycle)")
        }
        switch nodes[index] {
        case .leaf(let value): return .value(value)
        case .global(let module, let name): return .global(module: module, name: name)
        case .list(let storage):
            var items: [PickleValue] = []
            items.reserveCapacity(lists[storage].count)
            for item in lists[storage] { items.append(try materialize(item, depth: depth + 1).value(at: "a list item")) }
            return .value(.list(items))
        case .tuple(let members):
            var items: [PickleValue] = []
            items.reserveCapacity(members.count)
            for item in members { items.append(try materialize(item, depth: depth + 1).value(at: "a tuple item")) }
            return .value(.tuple(items))
        case .dictionary(let storage):
            var entries: [PickleDictionaryEntry] = []
            entries.reserveCapacity(dictionaries[storage].count)
            for (key, value) in dictionaries[storage] {
                entries.append(PickleDictionaryEntry(
                    key: try materialize(key, depth: depth + 1).value(at: "a dictionary key"),
                    value: try materialize(value, depth: depth + 1).value(at: "a dictionary value")))
            }
            return .value(.dictionary(entries))
        case .object(let object):
            return try construct(objects[object], depth: depth)
        }
    }

    mutating func arguments(_ object: Object, depth: Int) throws(PickleFailure) -> [Resolved] {
        guard case .tuple(let members) = nodes[object.arguments] else {
            throw PickleFailure("REDUCE arguments are not a tuple")
        }
        var resolved: [Resolved] = []
        for member in members { resolved.append(try materialize(member, depth: depth + 1)) }
        return resolved
    }

    /// The fixed list of constructors a ground-truth pickle may call; anything else is refused.
    mutating func construct(_ object: Object, depth: Int) throws(PickleFailure) -> Resolved {
        guard case .global(let module, let name) = nodes[object.callable] else {
            throw PickleFailure("REDUCE of a value that is not a global")
        }
        let numpyModules: Set<String> = ["numpy.core.multiarray", "numpy._core.multiarray"]
        let numericModules: Set<String> = ["numpy.core.numeric", "numpy._core.numeric"]
        let arguments = try arguments(object, depth: depth)
        let state = try stateMembers(object, depth: depth)

        switch (module, name) {
        case ("numpy", "dtype"):
            guard let first = arguments.first, case .value(let typeValue) = first, let typeString = typeValue.text else {
                throw PickleFailure("numpy.dtype without a type string")
            }
            var byteOrder: String?
            if let state, state.count > 1, case .value(let order) = state[1] { byteOrder = order.text }
            return .dtype(try NumpyDType(typeString, byteOrder: byteOrder))
        case (let m, "_reconstruct") where numpyModules.contains(m):
            // The array's content arrives through BUILD: (version?, shape, dtype, is_fortran, raw data).
            guard var fields = state else { throw PickleFailure("numpy array without its state") }
            if fields.count == 5 { fields.removeFirst() } // version
            guard fields.count == 4, case .value(let shapeValue) = fields[0], let shape = shapeValue.integers,
                  case .dtype(let dtype) = fields[1], case .value(.bool(let fortran)) = fields[2],
                  case .value(let data) = fields[3], let raw = rawBytes(data) else {
                throw PickleFailure("numpy array state is not (shape, dtype, fortran flag, data)")
            }
            if fortran, shape.count > 1 { throw PickleFailure("Fortran-ordered multi-dimensional arrays are not supported") }
            return .value(.array(try dtype.array(shape: shape, raw: raw)))
        case (let m, "_frombuffer") where numericModules.contains(m):
            // Protocol 5: _frombuffer(buffer, dtype, shape, order).
            guard arguments.count == 4, case .value(let buffer) = arguments[0], let raw = rawBytes(buffer),
                  case .dtype(let dtype) = arguments[1], case .value(let shapeValue) = arguments[2],
                  let shape = shapeValue.integers else {
                throw PickleFailure("numpy _frombuffer arguments are not (buffer, dtype, shape, order)")
            }
            if case .value(let order) = arguments[3], order.text == "F", shape.count > 1 {
                throw PickleFailure("Fortran-ordered multi-dimensional arrays are not supported")
            }
            return .value(.array(try dtype.array(shape: shape, raw: raw)))
        case (let m, "scalar") where numpyModules.contains(m):
            guard arguments.count == 2, case .dtype(let dtype) = arguments[0], case .value(let data) = arguments[1],
                  let raw = rawBytes(data) else {
                throw PickleFailure("numpy scalar arguments are not (dtype, bytes)")
            }
            let array = try dtype.array(shape: [], raw: raw)
            switch array.elements {
            case .integers(let values): return .value(.int(values[0]))
            case .floats(let values): return .value(.float(values[0]))
            case .booleans(let values): return .value(.bool(values[0]))
            }
        case ("_codecs", "encode"):
            // Python 3 writes bytes in protocol 2 as encode(text, 'latin1'): one character per byte.
            guard arguments.count == 2, case .value(.string(let text)) = arguments[0],
                  case .value(let encoding) = arguments[1], encoding.text == "latin1" || encoding.text == "latin-1" else {
                throw PickleFailure("_codecs.encode other than (text, 'latin1')")
            }
            var raw: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw PickleFailure("latin1 text holds a character above U+00FF") }
                raw.append(UInt8(scalar.value))
            }
            return .value(.bytes(raw))
        case ("__builtin__", "bytes"), ("builtins", "bytes"):
            guard arguments.isEmpty else { throw PickleFailure("bytes() with arguments") }
            return .value(.bytes([]))
        default:
            throw PickleFailure("refusing to construct \(module).\(name): only numpy arrays, dtypes and scalars are allowed")
        }
    }

    /// The members of a BUILD state tuple, resolved one by one because they may hold a dtype.
    mutating func stateMembers(_ object: Object, depth: Int) throws(PickleFailure) -> [Resolved]? {
        guard let state = object.state else { return nil }
        guard case .tuple(let members) = nodes[state] else { return [try materialize(state, depth: depth + 1)] }
        var resolved: [Resolved] = []
        for member in members { resolved.append(try materialize(member, depth: depth + 1)) }
        return resolved
    }

    func rawBytes(_ value: PickleValue) -> [UInt8]? {
        switch value {
        case .bytes(let raw): return raw
        case .string(let text): // Python 2 array data unpickled as text: one character per byte.
            var raw: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { return nil }
                raw.append(UInt8(scalar.value))
            }
            return raw
        default: return nil
        }
    }
}

/// The numeric dtypes ground-truth arrays use.
struct NumpyDType {
    enum Kind { case signed, unsigned, float, boolean }
    var kind: Kind
    var size: Int
    var bigEndian: Bool

    init(_ typeString: String, byteOrder: String?) throws(PickleFailure) {
        var characters = Substring(typeString)
        var order = byteOrder
        if let first = characters.first, "<>|=".contains(first) {
            order = String(first)
            characters = characters.dropFirst()
        }
        guard let code = characters.first, let size = Int(characters.dropFirst()) else {
            throw PickleFailure("unsupported numpy dtype '\(typeString)'")
        }
        switch (code, size) {
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
        case ("f", 4), ("f", 8): kind = .float
        case ("b", 1): kind = .boolean
        default: throw PickleFailure("unsupported numpy dtype '\(typeString)'")
        }
        self.size = size
        bigEndian = order == ">"
    }

    func array(shape: [Int], raw: [UInt8]) throws(PickleFailure) -> NumpyArray {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { throw PickleFailure("negative numpy array dimension") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow, product <= raw.count else {
                throw PickleFailure("numpy array of shape \(shape) needs more data than the \(raw.count) bytes given")
            }
            count = product
        }
        guard count * size == raw.count else {
            throw PickleFailure("numpy array of shape \(shape) needs \(count * size) bytes, got \(raw.count)")
        }
        var words: [UInt64] = []
        words.reserveCapacity(count)
        for element in 0..<count {
            var word: UInt64 = 0
            for byte in 0..<size {
                let source = raw[element * size + (bigEndian ? size - 1 - byte : byte)]
                word |= UInt64(source) << (8 * UInt64(byte))
            }
            words.append(word)
        }
        switch kind {
        case .boolean: return NumpyArray(shape: shape, elements: .booleans(words.map { $0 != 0 }))
        case .float:
            let values = size == 8 ? words.map { Double(bitPattern: $0) }
                : words.map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: $0))) }
            return NumpyArray(shape: shape, elements: .floats(values))
        case .signed:
            let shift = UInt64(64 - 8 * size)
            return NumpyArray(shape: shape, elements: .integers(words.map { Int(Int64(bitPattern: $0 << shift) >> Int64(shift)) }))
        case .unsigned:
            var values: [Int] = []
            values.reserveCapacity(count)
            for word in words {
                guard word <= UInt64(Int.max) else { throw PickleFailure("unsigned value \(word) does not fit Int") }
                values.append(Int(word))
            }
            return NumpyArray(shape: shape, elements: .integers(values))
        }
    }
}
