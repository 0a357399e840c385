/// A zero-initialised (unless asked otherwise), 64-byte-aligned block of floats that frees itself.
///
/// Used for packed weights and per-thread scratch, allocated at plan time and never inside a hot loop.
public final class AlignedBuffer {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public convenience init(count: Int) {
        self.init(count: count, zeroed: true)
    }

    /// `zeroed: false` skips the clearing, for panels the caller overwrites completely before reading.
    public init(count: Int, zeroed: Bool) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 16)) }
    }

    deinit { pointer.deallocate() }

    public var constPointer: UnsafePointer<Float> { UnsafePointer(pointer) }
}
