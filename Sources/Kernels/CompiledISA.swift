/// The vector instruction set this build of the kernels was compiled for.
///
/// Chosen at compile time by `Package.swift` (see `SEGRUN_TARGET_CPU`), which defines
/// `SEGRUN_FMA` and `SEGRUN_AVX512`. This is the one place that inspects those conditions:
/// every kernel family asks `CompiledISA` for its tile width instead of testing `#if` itself.
public enum CompiledISA {
    #if arch(arm64)
    public static let name = "aarch64 NEON (fmla)"
    public static let hasFMA = true
    /// Float lanes per tile vector: the tile is 6 rows x (2 x width) columns.
    public static let tileWidth = 8
    #elseif SEGRUN_AVX512
    public static let name = "x86-64 AVX-512 + FMA (zmm)"
    public static let hasFMA = true
    public static let tileWidth = 16
    #elseif SEGRUN_FMA
    public static let name = "x86-64 AVX2 + FMA (ymm)"
    public static let hasFMA = true
    public static let tileWidth = 8
    #else
    public static let name = "baseline without FMA (addingProduct calls fmaf: slow)"
    public static let hasFMA = false
    public static let tileWidth = 8
    #endif

    /// `name` through a call that stays in Kernels. The dispatching x86-64 segrun-edge compiles Kernels once per
    /// instruction set and everything above it once (scripts/build-edge), so a caller there must ask the kernel
    /// copy it runs; reading `name` directly would fold the constant of the copy it was compiled against.
    @export(interface)
    public static func nameOfRunningCopy() -> String { name }

    /// Columns (output channels) covered by one microkernel call.
    public static var tileColumns: Int { 2 * tileWidth }

    /// The columns of one packed weight block for a layer of `outputChannels`: `tileColumns`, except that an
    /// AVX-512 build gives layers of at most 16 outputs blocks of 16, which the 8-wide tile (two ymm vectors
    /// a row) fills, where the 16-wide tile would compute 16 padding columns. On CPUs that run a zmm FMA as two
    /// 256-bit halves (Zen 4) the ymm tile has the same peak, so those layers' multiplies run twice as fast;
    /// every output is the same sum in the same order either way, so the bits do not change.
    public static func blockColumns(outputChannels: Int) -> Int {
        tileWidth == 16 && outputChannels <= 16 ? 16 : tileColumns
    }
}
