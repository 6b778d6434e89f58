extension PickleValue {
    /// The value with numpy arrays, dtypes and scalars (and Python 3's protocol-2 encoding of `bytes`)
    /// reconstructed, for plain data files such as the revisited benchmarks' ground truth.
    ///
    /// Only `numpy.core.multiarray._reconstruct`, `numpy.core.numeric._frombuffer`,
    /// `numpy.core.multiarray.scalar`, `numpy.dtype`, `_codecs.encode` and `bytes()` are interpreted (by
    /// decoding their bytes, not by running them); any other global, call or persistent id is refused.
    public func resolvingNumpyArrays() throws(PickleError) -> PickleValue {
        do {
            return try NumpyInterpreter.resolve(self).value(at: "the top-level value")
        } catch {
            throw PickleError(code: error.code == .malformed ? .refused : error.code, file: "<memory>", reason: error.message)
        }
    }
}

enum NumpyInterpreter {
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

    static let numpyModules: Set<String> = ["numpy.core.multiarray", "numpy._core.multiarray"]
    static let numericModules: Set<String> = ["numpy.core.numeric", "numpy._core.numeric"]

    static func resolve(_ value: PickleValue) throws(PickleFailure) -> Resolved {
        switch value {
        case .none, .bool, .int, .float, .string, .bytes, .array: return .value(value)
        case .list(let items): return .value(.list(try resolveAll(items, place: "a list item")))
        case .tuple(let items): return .value(.tuple(try resolveAll(items, place: "a tuple item")))
        case .dictionary(let entries):
            var resolved: [PickleDictionaryEntry] = []
            resolved.reserveCapacity(entries.count)
            for entry in entries {
                resolved.append(PickleDictionaryEntry(key: try resolve(entry.key).value(at: "a dictionary key"),
                                                      value: try resolve(entry.value).value(at: "a dictionary value")))
            }
            return .value(.dictionary(resolved))
        case .global(let module, let name): return .global(module: module, name: name)
        case .call(let callable, let arguments): return try construct(callable, arguments, state: nil)
        case .build(.call(let callable, let arguments), let state): return try construct(callable, arguments, state: state)
        case .build: throw PickleFailure("BUILD on a value that was not constructed by a call")
        case .persistentID: throw PickleFailure("refusing a persistent id: plain data files have none")
        }
    }

    static func resolveAll(_ items: [PickleValue], place: String) throws(PickleFailure) -> [PickleValue] {
        var resolved: [PickleValue] = []
        resolved.reserveCapacity(items.count)
        for item in items { resolved.append(try resolve(item).value(at: place)) }
        return resolved
    }

    /// The fixed list of constructors plain numpy data may call; anything else is refused.
    static func construct(_ callable: PickleValue, _ argumentValues: [PickleValue],
                          state stateValue: PickleValue?) throws(PickleFailure) -> Resolved {
        guard case .global(let module, let name) = callable else {
            throw PickleFailure("call of a value that is not a global")
        }
        let known = (module == "numpy" && name == "dtype") || (numpyModules.contains(module) && (name == "_reconstruct" || name == "scalar"))
            || (numericModules.contains(module) && name == "_frombuffer") || (module == "_codecs" && name == "encode")
            || ((module == "__builtin__" || module == "builtins") && name == "bytes")
        guard known else {
            throw PickleFailure("refusing to construct \(module).\(name): only numpy arrays, dtypes and scalars are allowed")
        }
        var arguments: [Resolved] = []
        for argument in argumentValues { arguments.append(try resolve(argument)) }
        var state: [Resolved]?
        if let stateValue {
            if case .tuple(let members) = stateValue {
                var resolved: [Resolved] = []
                for member in members { resolved.append(try resolve(member)) }
                state = resolved
            } else {
                state = [try resolve(stateValue)]
            }
        }

        switch (module, name) {
        case ("numpy", "dtype"):
            guard let first = arguments.first, case .value(let typeValue) = first, let typeString = typeValue.text else {
                throw PickleFailure("numpy.dtype without a type string")
            }
            var byteOrder: String?
            if let state, state.count > 1, case .value(let order) = state[1] { byteOrder = order.text }
            return .dtype(try NumpyDType(typeString, byteOrder: byteOrder))
        case (_, "_reconstruct"):
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
        case (_, "_frombuffer"):
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
        case (_, "scalar"):
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
        default: // bytes()
            guard arguments.isEmpty else { throw PickleFailure("bytes() with arguments") }
            return .value(.bytes([]))
        }
    }

    static func rawBytes(_ value: PickleValue) -> [UInt8]? {
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
