// libFuzzer entry point for the model file reader (scripts/fuzz-model-file builds and runs it).
//
// Inputs are "resealed" first: the file-size field and the CRC-32 are rewritten to match the mutated
// bytes, so that mutations reach the parsers behind those two checks instead of stopping at them.
import Engine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if bytes.count >= 128 {
        for i in 0..<8 { bytes[16 + i] = UInt8(truncatingIfNeeded: UInt64(bytes.count) >> (8 * UInt64(i))) }
        for i in 96..<100 { bytes[i] = 0 }
        let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
        for i in 0..<4 { bytes[96 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }
    let model = bytes.withUnsafeBytes { try? ModelFileReader.decode($0) }
    if let model {
        // Whatever the reader accepts must re-encode and decode to the same model.
        let again = ModelFileWriter.encode(model)
        let back = again.withUnsafeBytes { try? ModelFileReader.decode($0) }
        if back != model { fatalError("re-encoded model differs") }
    }
    return 0
}
