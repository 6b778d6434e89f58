import Foundation
import LandmarkPickle

/// Reads the pickles benchmark ground truth ships in (`gnd_roxford5k.pkl`, …) as plain data.
///
/// Decoding is `LandmarkPickle`'s safe decoder, which never runs code; this reader then accepts only numpy
/// arrays, dtypes and scalars among the constructors a pickle names, and reports every problem as a
/// `DatasetError`.
public enum PickleReader {
    /// Files beyond this size are refused; real ground-truth pickles are well under a megabyte.
    public static let maximumFileSize = 256 << 20
    /// Nesting beyond this depth is refused (and cyclic structures, which plain data never has, end here).
    public static let maximumDepth = PickleDecoder.maximumDepth

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
        do {
            return try PickleDecoder.decode(bytes, file: file).resolvingNumpyArrays()
        } catch {
            throw DatasetError(code: .malformedPickle, file: file, reason: error.reason)
        }
    }
}
