/// Writes a `PickleValue` as a Python pickle of protocol 2, the protocol `torch.save` uses.
///
/// The inverse of `PickleDecoder` for the values a checkpoint holds: plain data plus the symbolic
/// constructs a torch checkpoint needs — `global` (GLOBAL), `call` (arguments as a tuple, then REDUCE),
/// `build` (BUILD) and `persistentID` (BINPERSID, how torch refers to its tensor storages). Dictionaries keep
/// their entry order. Nothing is memoised: a checkpoint shares no objects, and Python's unpickler does not
/// need memo entries that are never read.
///
/// Protocol 2 has no bytes opcode, so `bytes` are written as Python 3 writes them at this protocol:
/// `_codecs.encode(text, 'latin1')`. numpy arrays (`array`) are refused: nothing this project writes holds
/// one, and torch tensors are built from storages instead.
public enum PickleEncoder {
    /// The protocol written (PROTO 2), so that torch 1.x and 2.x and Python 2 readers all accept the result.
    public static let protocolVersion: UInt8 = 2

    /// The pickle of `value`, ending with STOP.
    /// - Throws: `PickleError` `.refused` for a numpy array anywhere inside `value`, or nesting deeper than
    ///   `PickleDecoder.maximumDepth` (which the decoder would refuse to read back).
    public static func encode(_ value: PickleValue) throws(PickleError) -> [UInt8] {
        var writer = Writer()
        writer.bytes.append(contentsOf: [0x80, protocolVersion])
        do {
            try writer.write(value, depth: 0)
        } catch {
            throw error.error(file: "<pickle being written>")
        }
        writer.bytes.append(0x2E) // STOP
        return writer.bytes
    }

    /// Python's pickler groups APPENDS / SETITEMS in batches of this many items.
    static let batchSize = 1000

    struct Writer {
        var bytes: [UInt8] = []

        mutating func write(_ value: PickleValue, depth: Int) throws(PickleFailure) {
            guard depth < PickleDecoder.maximumDepth else {
                throw PickleFailure("values nested deeper than \(PickleDecoder.maximumDepth) levels", code: .limitExceeded)
            }
            switch value {
            case .none: bytes.append(0x4E) // NONE
            case .bool(let flag): bytes.append(flag ? 0x88 : 0x89) // NEWTRUE, NEWFALSE
            case .int(let number): writeInteger(number)
            case .float(let number):
                bytes.append(0x47) // BINFLOAT, big-endian IEEE double
                appendBigEndian(number.bitPattern)
            case .string(let text): writeString(text)
            case .bytes(let raw):
                // _codecs.encode(latin-1 text, 'latin1'): Python 3's protocol-2 form of bytes.
                writeGlobal(module: "_codecs", name: "encode")
                writeString(String(String.UnicodeScalarView(raw.map { Unicode.Scalar($0) })))
                writeString("latin1")
                bytes.append(0x86) // TUPLE2
                bytes.append(0x52) // REDUCE
            case .list(let items):
                bytes.append(0x5D) // EMPTY_LIST
                for batch in stride(from: 0, to: items.count, by: PickleEncoder.batchSize) {
                    let end = min(batch + PickleEncoder.batchSize, items.count)
                    bytes.append(0x28) // MARK
                    for item in items[batch..<end] { try write(item, depth: depth + 1) }
                    bytes.append(0x65) // APPENDS
                }
            case .tuple(let items): try writeTuple(items, depth: depth)
            case .dictionary(let entries):
                bytes.append(0x7D) // EMPTY_DICT
                for batch in stride(from: 0, to: entries.count, by: PickleEncoder.batchSize) {
                    let end = min(batch + PickleEncoder.batchSize, entries.count)
                    bytes.append(0x28) // MARK
                    for entry in entries[batch..<end] {
                        try write(entry.key, depth: depth + 1)
                        try write(entry.value, depth: depth + 1)
                    }
                    bytes.append(0x75) // SETITEMS
                }
            case .array:
                throw PickleFailure("a numpy array cannot be written; write tensors through their storages", code: .refused)
            case .global(let module, let name): writeGlobal(module: module, name: name)
            case .call(let callable, let arguments):
                try write(callable, depth: depth + 1)
                try writeTuple(arguments, depth: depth + 1)
                bytes.append(0x52) // REDUCE
            case .build(let object, let state):
                try write(object, depth: depth + 1)
                try write(state, depth: depth + 1)
                bytes.append(0x62) // BUILD
            case .persistentID(let identifier):
                try write(identifier, depth: depth + 1)
                bytes.append(0x51) // BINPERSID
            }
        }

        mutating func writeTuple(_ items: [PickleValue], depth: Int) throws(PickleFailure) {
            switch items.count {
            case 0: bytes.append(0x29) // EMPTY_TUPLE
            case 1...3:
                for item in items { try write(item, depth: depth + 1) }
                bytes.append([0x85, 0x86, 0x87][items.count - 1]) // TUPLE1, TUPLE2, TUPLE3
            default:
                bytes.append(0x28) // MARK
                for item in items { try write(item, depth: depth + 1) }
                bytes.append(0x74) // TUPLE
            }
        }

        mutating func writeInteger(_ number: Int) {
            if number >= 0, number < 0x100 {
                bytes.append(0x4B) // BININT1
                bytes.append(UInt8(number))
            } else if number >= 0, number < 0x1_0000 {
                bytes.append(0x4D) // BININT2
                appendLittleEndian(UInt64(number), count: 2)
            } else if number >= Int(Int32.min), number <= Int(Int32.max) {
                bytes.append(0x4A) // BININT, signed 32-bit
                appendLittleEndian(UInt64(UInt32(bitPattern: Int32(number))), count: 4)
            } else {
                // LONG1: the shortest little-endian two's complement that keeps the sign.
                var count = 8
                while count > 1 {
                    let shifted = number >> (8 * (count - 1) - 1)
                    guard shifted == 0 || shifted == -1 else { break }
                    count -= 1
                }
                bytes.append(0x8A)
                bytes.append(UInt8(count))
                appendLittleEndian(UInt64(bitPattern: Int64(number)), count: count)
            }
        }

        mutating func writeString(_ text: String) {
            let utf8 = Array(text.utf8)
            bytes.append(0x58) // BINUNICODE
            appendLittleEndian(UInt64(utf8.count), count: 4)
            bytes.append(contentsOf: utf8)
        }

        mutating func writeGlobal(module: String, name: String) {
            bytes.append(0x63) // GLOBAL
            bytes.append(contentsOf: Array(module.utf8))
            bytes.append(0x0A)
            bytes.append(contentsOf: Array(name.utf8))
            bytes.append(0x0A)
        }

        mutating func appendLittleEndian(_ value: UInt64, count: Int) {
            for index in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
        }

        mutating func appendBigEndian(_ value: UInt64) {
            for index in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
        }
    }
}
