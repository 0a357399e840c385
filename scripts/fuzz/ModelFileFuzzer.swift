// libFuzzer entry point for the model file reader (scripts/fuzz-model-file builds and runs it).
import Engine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if let model = try? ModelFileReader.decode(bytes) {
        // Whatever the reader accepts must re-encode and decode to the same model.
        let again = ModelFileWriter.encode(model)
        let back = again.withUnsafeBytes { try? ModelFileReader.decode($0) }
        if back != model { fatalError("re-encoded model differs") }
    }
    return 0
}
