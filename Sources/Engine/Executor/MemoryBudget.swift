#if canImport(Glibc)
import Glibc
#elseif canImport(SegrunLibc)
import SegrunLibc
#endif

/// What a plan may allocate. Input shapes must hold a sane number of elements (no extent that overflows the
/// arithmetic of shape inference), and a plan's activation arena, workspace and packed weights together must fit
/// in this machine's memory: `bench --size 40000` or a 30000 x 30000 image run at its own size is one error that
/// names the sizes, where the allocation failing would kill the process.
public enum MemoryBudget {
    /// Elements one input tensor may hold: 2^31 (8 GiB of floats).
    public static let maxInputElements = 1 << 31

    /// This machine's physical memory in bytes (0 where it cannot be read, which turns the check off).
    public static var physicalBytes: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size : 0
    }

    /// Refuses input shapes with a non-positive extent or more than `maxInputElements` elements.
    public static func checkInputs(_ inputs: [TensorShape]) throws(GraphError) {
        for shape in inputs {
            var total = 1, empty = false, large = false
            for e in [shape.batch, shape.channels, shape.depth ?? 1, shape.height, shape.width] {
                let (p, overflow) = total.multipliedReportingOverflow(by: e)
                empty = empty || e < 1
                large = large || overflow || p > maxInputElements
                total = p
            }
            if empty || large {
                throw refusal(["an input of ", shape.description, empty ? " is empty" : " is too large: more than " + String(maxInputElements) + " values"])
            }
        }
    }

    /// Refuses a plan that needs more than this machine's memory for `inputs`.
    static func check(bytes: Int, inputs: [TensorShape]) throws(GraphError) {
        let available = physicalBytes
        guard available > 0, bytes > available, let first = inputs.first else { return }
        throw refusal(["the plan for inputs ", first.description, inputs.count > 1 ? ", ..." : "", " needs ", String(bytes >> 20),
                       " MiB of activations and weights; this machine has ", String(available >> 20), " MiB"])
    }

    /// The error, its parts joined (one cold function, so the checks stay small in segrun-edge).
    @inline(never)
    static func refusal(_ parts: [String]) -> GraphError { .tooLarge(parts.joined()) }
}
