/// The EXIF Orientation tag (0x0112): how the stored pixels must be turned to appear upright.
///
/// Raw values 1…8 as in the EXIF/TIFF specification; 1 means "already upright".
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    case upright = 1
    case mirroredHorizontally = 2
    case rotated180 = 3
    case mirroredVertically = 4
    case transposed = 5
    case rotated90Clockwise = 6
    case transversed = 7
    case rotated90CounterClockwise = 8

    /// The orientation recorded in a JPEG's first APP1 "Exif" segment (the one PIL uses), or nil if there is
    /// none or it cannot be read. Malformed EXIF is ignored: every offset is bounds-checked.
    static func fromJPEG(_ bytes: [UInt8]) -> EXIFOrientation? {
        var index = 2
        while index + 4 <= bytes.count {
            guard bytes[index] == 0xFF else { return nil }
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { index += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return nil }
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            guard length >= 2, index + 2 + length <= bytes.count else { return nil }
            let payload = (index + 4)..<(index + 2 + length)
            if marker == 0xE1, payload.count >= 6,
               Array(bytes[payload.lowerBound..<(payload.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return fromTIFF(bytes, range: (payload.lowerBound + 6)..<payload.upperBound)
            }
            index += 2 + length
        }
        return nil
    }

    /// The orientation in a PNG's eXIf chunk (which PIL also honours), or nil.
    static func fromPNG(_ bytes: [UInt8]) -> EXIFOrientation? {
        var index = 8
        while index + 12 <= bytes.count {
            let length = Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            let type = Array(bytes[(index + 4)..<(index + 8)])
            guard length >= 0, index + 12 + length <= bytes.count else { return nil }
            if type == Array("eXIf".utf8) {
                var start = index + 8
                if length >= 6 && Array(bytes[start..<(start + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] { start += 6 }
                return fromTIFF(bytes, range: start..<(index + 8 + length))
            }
            if type == Array("IDAT".utf8) || type == Array("IEND".utf8) { return nil }
            index += 12 + length
        }
        return nil
    }

    /// Reads tag 0x0112 from IFD0 of a TIFF structure occupying `range` of `bytes`.
    static func fromTIFF(_ bytes: [UInt8], range: Range<Int>) -> EXIFOrientation? {
        guard range.lowerBound >= 0, range.upperBound <= bytes.count, range.count >= 8 else { return nil }
        let base = range.lowerBound
        let bigEndian: Bool
        switch (bytes[base], bytes[base + 1]) {
        case (0x49, 0x49): bigEndian = false
        case (0x4D, 0x4D): bigEndian = true
        default: return nil
        }
        func read16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= range.count else { return nil }
            let a = Int(bytes[base + offset]), b = Int(bytes[base + offset + 1])
            return bigEndian ? a << 8 | b : b << 8 | a
        }
        func read32(_ offset: Int) -> Int? {
            guard let high = read16(bigEndian ? offset : offset + 2),
                  let low = read16(bigEndian ? offset + 2 : offset) else { return nil }
            return high << 16 | low
        }
        guard read16(2) == 42, let ifd = read32(4), let count = read16(ifd) else { return nil }
        for entry in 0..<count {
            let offset = ifd + 2 + entry * 12
            guard let tag = read16(offset), let type = read16(offset + 2), let valueCount = read32(offset + 4) else {
                return nil
            }
            guard tag == 0x0112, valueCount >= 1 else { continue }
            let value: Int?
            switch type {
            case 3: value = read16(offset + 8)       // SHORT, the standard type
            case 4: value = read32(offset + 8)       // LONG, written by some tools
            default: value = nil
            }
            return value.flatMap { EXIFOrientation(rawValue: $0) }
        }
        return nil
    }
}

extension RGBImage {
    /// Turns the image upright for `orientation`, as PIL's `ImageOps.exif_transpose`.
    public func applying(_ orientation: EXIFOrientation) -> RGBImage {
        if orientation == .upright { return self }
        let swapsAxes = orientation.rawValue >= 5
        let outWidth = swapsAxes ? height : width, outHeight = swapsAxes ? width : height
        // Source index = origin + x·stepX + y·stepY (in pixels), for output pixel (x, y).
        let w = width, h = height
        let (origin, stepX, stepY): (Int, Int, Int)
        switch orientation {
        case .upright: (origin, stepX, stepY) = (0, 1, w)
        case .mirroredHorizontally: (origin, stepX, stepY) = (w - 1, -1, w)
        case .rotated180: (origin, stepX, stepY) = ((h - 1) * w + w - 1, -1, -w)
        case .mirroredVertically: (origin, stepX, stepY) = ((h - 1) * w, 1, -w)
        case .transposed: (origin, stepX, stepY) = (0, w, 1)
        case .rotated90Clockwise: (origin, stepX, stepY) = ((h - 1) * w, -w, 1)
        case .transversed: (origin, stepX, stepY) = ((h - 1) * w + w - 1, -w, -1)
        case .rotated90CounterClockwise: (origin, stepX, stepY) = (w - 1, w, -1)
        }
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                var target = 0
                for y in 0..<outHeight {
                    var sourcePixel = origin + y * stepY
                    for _ in 0..<outWidth {
                        destination[target] = source[sourcePixel * 3]
                        destination[target + 1] = source[sourcePixel * 3 + 1]
                        destination[target + 2] = source[sourcePixel * 3 + 2]
                        target += 3
                        sourcePixel += stepX
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
