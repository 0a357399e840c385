// libFuzzer entry point for the NIfTI and NRRD readers (scripts/fuzz-volumes builds and runs it). The first
// byte picks the reader; the rest is the file. Whatever a reader accepts must hold as many voxels as its
// size says.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVolume(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if size < 1 { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let limits = VolumeLimits(maxValues: 1 << 22)
    let volume = data[0] & 1 == 0 ? try? NIfTI.decode(bytes, limits: limits) : try? NRRD.decode(bytes, limits: limits)
    if let volume, volume.voxels.count != volume.voxelCount * volume.channels { fatalError("voxel count differs from the size") }
    return 0
}
