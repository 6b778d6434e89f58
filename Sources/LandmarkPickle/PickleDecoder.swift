import Foundation

/// A safe decoder for Python pickles (protocols 0–5).
///
/// Unlike Python's unpickler it never runs code and never imports anything: globals, calls, BUILD states and
/// persistent ids come back as symbolic `PickleValue` cases for the caller to interpret against its own short
/// list of trusted constructors. Every length is checked against the input and every structure against
/// limits, so truncated or hostile data produces a `PickleError`, never a crash or a runaway allocation.
public enum PickleDecoder {
    /// Nesting beyond this depth is refused (and cyclic structures, which data never has, end here).
    public static let maximumDepth = 64
    /// Pickles with more values than this are refused.
    public static let maximumValues = 20_000_000

    /// Decodes the pickle at the start of `bytes`; `file` only names it in errors.
    public static func decode(_ bytes: [UInt8], file: String = "<memory>") throws(PickleError) -> PickleValue {
        let result: Result<PickleValue, PickleError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(PickleError) -> PickleValue in try decode(buffer, from: 0, file: file).value }
        }
        return try result.get()
    }

    /// Decodes the pickle that starts at byte `offset` of `buffer` and returns it with the offset just past its
    /// STOP opcode — files such as legacy torch checkpoints hold several pickles and raw data back to back.
    public static func decode(_ buffer: UnsafeRawBufferPointer, from offset: Int,
                              file: String) throws(PickleError) -> (value: PickleValue, end: Int) {
        guard offset >= 0, offset <= buffer.count else {
            throw PickleError(code: .truncated, file: file, reason: "pickle offset \(offset) is beyond the \(buffer.count) bytes of data")
        }
        var machine = PickleMachine(bytes: buffer, position: offset)
        do {
            let root = try machine.run()
            return (try machine.materialize(root, depth: 0), machine.position)
        } catch {
            throw error.error(file: file)
        }
    }
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
        case call(callable: Int, arguments: [Int])
        case persistentID(Int)
    }

    enum StackItem {
        case node(Int)
        case mark
    }

    let bytes: UnsafeRawBufferPointer
    var position: Int
    var nodes: [Node] = []
    var lists: [[Int]] = []
    var dictionaries: [[(Int, Int)]] = []
    /// BUILD states by node: Python mutates the object in place, so every reference to it sees the state.
    var states: [Int: Int] = [:]
    var stack: [StackItem] = []
    var memo: [Int: Int] = [:]
    var visits = 0

    init(bytes: UnsafeRawBufferPointer, position: Int) {
        self.bytes = bytes
        self.position = position
    }

    // MARK: Reading the input

    mutating func take(_ count: Int) throws(PickleFailure) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw PickleFailure("truncated at byte \(position): needs \(count) more bytes, \(bytes.count - position) left",
                                code: .truncated)
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    mutating func byte() throws(PickleFailure) -> UInt8 {
        guard position < bytes.count else {
            throw PickleFailure("truncated: no STOP opcode before the end of the data", code: .truncated)
        }
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
            throw PickleFailure("length \(value) at byte \(position - count) runs past the end of the data", code: .truncated)
        }
        return Int(value)
    }

    /// A newline-terminated operand of the text opcodes (protocols 0 and 1), without the newline.
    mutating func line() throws(PickleFailure) -> [UInt8] {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else {
            throw PickleFailure("truncated: an operand at byte \(position) has no terminating newline", code: .truncated)
        }
        let text = Array(bytes[position..<end])
        position = end + 1
        return text
    }

    mutating func textLine() throws(PickleFailure) -> String {
        let raw = try line()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw PickleFailure("invalid UTF-8 in a text operand before byte \(position)")
        }
        return text
    }

    mutating func integerLine() throws(PickleFailure) -> Int {
        var text = try textLine()
        if text.hasSuffix("L") { text.removeLast() }
        guard let value = Int(text) else { throw PickleFailure("'\(text)' before byte \(position) is not a 64-bit integer") }
        return value
    }

    // MARK: Stack

    mutating func add(_ node: Node) throws(PickleFailure) -> Int {
        guard nodes.count < PickleDecoder.maximumValues else {
            throw PickleFailure("more than \(PickleDecoder.maximumValues) values", code: .limitExceeded)
        }
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

    /// A call node. `collections.OrderedDict()` becomes a plain dictionary, because pickle fills it with
    /// SETITEMS afterwards exactly as it fills a dict, and every Python dict keeps insertion order anyway.
    mutating func pushCall(callable: Int, arguments: Int) throws(PickleFailure) {
        guard case .tuple(let members) = nodes[arguments] else {
            throw PickleFailure("call arguments at byte \(position) are not a tuple")
        }
        if case .global("collections", "OrderedDict") = nodes[callable], members.isEmpty {
            dictionaries.append([])
            try push(.dictionary(dictionaries.count - 1))
        } else {
            try push(.call(callable: callable, arguments: members))
        }
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
            case 0x30: // POP
                guard stack.popLast() != nil else { throw PickleFailure("POP on an empty stack at byte \(position)") }
            case 0x31: _ = try popToMark() // POP_MARK
            case 0x32: stack.append(.node(try top())) // DUP
            case 0x4E: try push(.leaf(.none))
            case 0x88: try push(.leaf(.bool(true)))
            case 0x89: try push(.leaf(.bool(false)))
            case 0x4B: try push(.leaf(.int(Int(try unsigned(1))))) // BININT1
            case 0x4D: try push(.leaf(.int(Int(try unsigned(2))))) // BININT2
            case 0x4A: try push(.leaf(.int(Int(Int32(truncatingIfNeeded: try unsigned(4)))))) // BININT
            case 0x49: // INT (text); protocol 0 writes booleans as 00 and 01
                let raw = try line()
                if raw == Array("00".utf8) { try push(.leaf(.bool(false))) }
                else if raw == Array("01".utf8) { try push(.leaf(.bool(true))) }
                else {
                    position -= raw.count + 1
                    try push(.leaf(.int(try integerLine())))
                }
            case 0x4C: try push(.leaf(.int(try integerLine()))) // LONG (text)
            case 0x46: // FLOAT (text)
                let text = try textLine()
                guard let value = Double(text) else { throw PickleFailure("'\(text)' before byte \(position) is not a float") }
                try push(.leaf(.float(value)))
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
            case 0x56: try push(.leaf(.string(try PickleText.rawUnicodeEscape(try line())))) // UNICODE (text)
            case 0x53: try push(.leaf(.bytes(try PickleText.quotedBytes(try line())))) // STRING (text, quoted)
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
            case 0x70: memo[try integerLine()] = try top() // PUT (text)
            case 0x68: try memoGet(Int(try unsigned(1))) // BINGET
            case 0x6A: try memoGet(Int(try unsigned(4))) // LONG_BINGET
            case 0x67: try memoGet(try integerLine()) // GET (text)
            case 0x63: // GLOBAL
                let module = try textLine()
                let name = try textLine()
                try push(.global(module: module, name: name))
            case 0x93: // STACK_GLOBAL
                let nameNode = try pop()
                let moduleNode = try pop()
                guard case .leaf(.string(let name)) = nodes[nameNode],
                      case .leaf(.string(let module)) = nodes[moduleNode] else {
                    throw PickleFailure("STACK_GLOBAL needs two strings")
                }
                try push(.global(module: module, name: name))
            case 0x52, 0x81: // REDUCE, NEWOBJ: callable, arguments
                let arguments = try pop()
                let callable = try pop()
                try pushCall(callable: callable, arguments: arguments)
            case 0x6F: // OBJ: MARK callable arguments...
                let items = try popToMark()
                guard let callable = items.first else { throw PickleFailure("OBJ without a class at byte \(position)") }
                let arguments = try add(.tuple(Array(items.dropFirst())))
                try pushCall(callable: callable, arguments: arguments)
            case 0x69: // INST: module and name operands, MARK arguments...
                let module = try textLine()
                let name = try textLine()
                let arguments = try add(.tuple(try popToMark()))
                let callable = try add(.global(module: module, name: name))
                try pushCall(callable: callable, arguments: arguments)
            case 0x62: // BUILD
                let state = try pop()
                let object = try top()
                guard states[object] == nil else { throw PickleFailure("BUILD applied twice at byte \(position)") }
                states[object] = state
            case 0x51: try push(.persistentID(try pop())) // BINPERSID
            case 0x50: try push(.persistentID(try add(.leaf(.string(try textLine()))))) // PERSID (text)
            default:
                throw PickleFailure(String(format: "unsupported opcode 0x%02X at byte %d", opcode, position - 1))
            }
        }
    }

    // MARK: Materializing

    mutating func materialize(_ index: Int, depth: Int) throws(PickleFailure) -> PickleValue {
        // Shared nodes (memo references) are visited once per use; the budget stops hostile DAGs whose
        // expansion would be exponential.
        visits += 1
        guard visits <= 4 * nodes.count + 1024 else {
            throw PickleFailure("shared references expand beyond the size of the data", code: .limitExceeded)
        }
        guard depth <= PickleDecoder.maximumDepth else {
            throw PickleFailure("values nested deeper than \(PickleDecoder.maximumDepth) levels (or a cycle)", code: .limitExceeded)
        }
        let value: PickleValue
        switch nodes[index] {
        case .leaf(let leaf): value = leaf
        case .global(let module, let name): value = .global(module: module, name: name)
        case .list(let storage):
            value = .list(try materializeAll(lists[storage], depth: depth))
        case .tuple(let members):
            value = .tuple(try materializeAll(members, depth: depth))
        case .dictionary(let storage):
            var entries: [PickleDictionaryEntry] = []
            entries.reserveCapacity(dictionaries[storage].count)
            for (key, item) in dictionaries[storage] {
                entries.append(PickleDictionaryEntry(key: try materialize(key, depth: depth + 1),
                                                     value: try materialize(item, depth: depth + 1)))
            }
            value = .dictionary(entries)
        case .call(let callable, let arguments):
            value = .call(callable: try materialize(callable, depth: depth + 1),
                          arguments: try materializeAll(arguments, depth: depth))
        case .persistentID(let identifier):
            value = .persistentID(try materialize(identifier, depth: depth + 1))
        }
        guard let state = states[index] else { return value }
        return .build(object: value, state: try materialize(state, depth: depth + 1))
    }

    mutating func materializeAll(_ members: [Int], depth: Int) throws(PickleFailure) -> [PickleValue] {
        var items: [PickleValue] = []
        items.reserveCapacity(members.count)
        for member in members { items.append(try materialize(member, depth: depth + 1)) }
        return items
    }
}

/// The quoted operands of the text opcodes of protocols 0 and 1.
enum PickleText {
    /// STRING: a Python `repr` of a byte string, in single or double quotes, with backslash escapes.
    static func quotedBytes(_ line: [UInt8]) throws(PickleFailure) -> [UInt8] {
        guard line.count >= 2, let quote = line.first, quote == 0x27 || quote == 0x22, line.last == quote else {
            throw PickleFailure("STRING operand is not quoted")
        }
        let body = line[1..<(line.count - 1)]
        var result: [UInt8] = []
        result.reserveCapacity(body.count)
        var index = body.startIndex
        while index < body.endIndex {
            let byte = body[index]
            index += 1
            guard byte == 0x5C else { result.append(byte); continue }
            guard index < body.endIndex else { throw PickleFailure("STRING operand ends in a backslash") }
            let escape = body[index]
            index += 1
            switch escape {
            case 0x6E: result.append(0x0A) // \n
            case 0x72: result.append(0x0D) // \r
            case 0x74: result.append(0x09) // \t
            case 0x5C, 0x27, 0x22: result.append(escape)
            case 0x78: // \xHH
                guard body.endIndex - index >= 2,
                      let value = UInt8(String(decoding: body[index..<(index + 2)], as: UTF8.self), radix: 16) else {
                    throw PickleFailure("bad \\x escape in a STRING operand")
                }
                result.append(value)
                index += 2
            case 0x30...0x37: // up to three octal digits
                var value = Int(escape - 0x30)
                var digits = 1
                while digits < 3, index < body.endIndex, (0x30...0x37).contains(body[index]) {
                    value = value * 8 + Int(body[index] - 0x30)
                    index += 1
                    digits += 1
                }
                guard value < 256 else { throw PickleFailure("octal escape above 255 in a STRING operand") }
                result.append(UInt8(value))
            default: throw PickleFailure("unsupported escape \\\(Character(Unicode.Scalar(escape))) in a STRING operand")
            }
        }
        return result
    }

    /// UNICODE: Python's raw-unicode-escape — Latin-1 bytes with \uXXXX and \UXXXXXXXX escapes.
    static func rawUnicodeEscape(_ line: [UInt8]) throws(PickleFailure) -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0x5C, index + 1 < line.count, line[index + 1] == 0x75 || line[index + 1] == 0x55 {
                let digits = line[index + 1] == 0x75 ? 4 : 8
                guard line.count - index - 2 >= digits,
                      let code = UInt32(String(decoding: line[(index + 2)..<(index + 2 + digits)], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(code) else {
                    throw PickleFailure("bad \\u escape in a UNICODE operand")
                }
                scalars.append(scalar)
                index += 2 + digits
            } else {
                scalars.append(Unicode.Scalar(byte))
                index += 1
            }
        }
        return String(scalars)
    }
}
