/// What an int8 GEMM stores: requantized UInt8 (`.quantized`) or dequantized Float (`.float`, for
/// logits and for layers read by float ops).
public enum Q8OutputTarget: Equatable, Sendable {
    case quantized(zeroPoint: Int32)
    case float
}

/// Turns a row of Int32 sums into stored values, column by column:
/// `sum + offset[c]`, then `Q8Requantization` with `multiplier[c]` (or the float stage).
/// `offset` folds the Int32 bias and the input zero-point correction `-zeroPoint * sum(weights[c])`.
public final class Q8OutputStage {
    public let columns: Int
    public let activation: FusedActivation
    public let target: Q8OutputTarget
    let multipliers: UnsafeMutablePointer<Float>
    let offsets: UnsafeMutablePointer<Int32>

    public init(multipliers: [Float], offsets: [Int32], activation: FusedActivation, target: Q8OutputTarget) {
        precondition(multipliers.count == offsets.count, "int8 output stage: \(multipliers.count) multipliers, \(offsets.count) offsets")
        columns = multipliers.count
        self.activation = activation
        self.target = target
        let padded = roundUp(max(columns, 1), toMultipleOf: Q8Microkernel.columns)
        self.multipliers = .allocate(capacity: padded)
        self.multipliers.initialize(repeating: 0, count: padded)
        self.multipliers.update(from: multipliers, count: columns)
        self.offsets = .allocate(capacity: padded)
        self.offsets.initialize(repeating: 0, count: padded)
        self.offsets.update(from: offsets, count: columns)
    }

    deinit {
        multipliers.deallocate()
        offsets.deallocate()
    }

    /// Bytes per stored value.
    public var elementBytes: Int { target == .float ? 4 : 1 }

    /// Stores `count` columns starting at `column` from `sums` to `destination` (element 0 = `column`).
    @inline(__always)
    func store(_ sums: UnsafePointer<Int32>, column: Int, count: Int, to destination: UnsafeMutableRawPointer) {
        var j = 0
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        // 16 columns at a time where one register holds them (the same operations per lane).
        if case .quantized(let zp) = target {
            while j &+ 16 <= count {
                let acc = UnsafeRawPointer(sums + j).loadUnaligned(as: SIMD16<Int32>.self)
                    &+ UnsafeRawPointer(offsets + (column &+ j)).loadUnaligned(as: SIMD16<Int32>.self)
                let m = UnsafeRawPointer(multipliers + (column &+ j)).loadUnaligned(as: SIMD16<Float>.self)
                destination.storeBytes(of: Q8Requantization.requantize(acc, multiplier: m, activation: activation, zeroPoint: zp),
                                       toByteOffset: j, as: SIMD16<UInt8>.self)
                j &+= 16
            }
        }
        #endif
        while j &+ 8 <= count {
            let acc = UnsafeRawPointer(sums + j).loadUnaligned(as: SIMD8<Int32>.self)
                &+ UnsafeRawPointer(offsets + (column &+ j)).loadUnaligned(as: SIMD8<Int32>.self)
            let m = UnsafeRawPointer(multipliers + (column &+ j)).loadUnaligned(as: SIMD8<Float>.self)
            switch target {
            case .quantized(let zp):
                destination.storeBytes(of: Q8Requantization.requantize(acc, multiplier: m, activation: activation, zeroPoint: zp),
                                       toByteOffset: j, as: SIMD8<UInt8>.self)
            case .float:
                destination.storeBytes(of: Q8Requantization.dequantize(acc, multiplier: m, activation: activation),
                                       toByteOffset: j &* 4, as: SIMD8<Float>.self)
            }
            j &+= 8
        }
        while j < count {
            let acc = sums[j] &+ offsets[column &+ j], m = multipliers[column &+ j]
            switch target {
            case .quantized(let zp):
                destination.storeBytes(of: Q8Requantization.requantize(acc, multiplier: m, activation: activation, zeroPoint: zp),
                                       toByteOffset: j, as: UInt8.self)
            case .float:
                destination.storeBytes(of: activation.apply(Float(acc) * m), toByteOffset: j &* 4, as: Float.self)
            }
            j &+= 1
        }
    }

    /// The offsets and multipliers of columns `column..<column + 16`, for kernels that requantize many pixels of
    /// the same 16 columns from registers with `store`'s 16-lane step.
    @inline(__always)
    func sixteenColumns(at column: Int) -> (offset: SIMD16<Int32>, multiplier: SIMD16<Float>) {
        (UnsafeRawPointer(offsets + column).loadUnaligned(as: SIMD16<Int32>.self),
         UnsafeRawPointer(multipliers + column).loadUnaligned(as: SIMD16<Float>.self))
    }

    /// Stores `rows` rows of a tile (`tileColumns` sums per row) whose first `count` columns are output columns
    /// `column...`, row `r` to `destination + r * rowBytes`: `store` row by row, and for 16 or 32 quantized columns
    /// in 512-bit builds the same 16-lane step with its offsets and multipliers loaded once for the tile.
    @inline(__always)
    func storeRows(_ tile: UnsafePointer<Int32>, rows: Int, tileColumns: Int, column: Int, count: Int,
                   to destination: UnsafeMutableRawPointer, rowBytes: Int) {
        #if arch(x86_64) && SEGRUN_VNNI_ZMM
        if case .quantized(let zp) = target, count == 16 || count == 32 {
            let (o0, m0) = sixteenColumns(at: column)
            if count == 16 {
                for r in 0..<rows {
                    let acc = UnsafeRawPointer(tile + r &* tileColumns).loadUnaligned(as: SIMD16<Int32>.self) &+ o0
                    destination.storeBytes(of: Q8Requantization.requantize(acc, multiplier: m0, activation: activation, zeroPoint: zp),
                                           toByteOffset: r &* rowBytes, as: SIMD16<UInt8>.self)
                }
                return
            }
            let (o1, m1) = sixteenColumns(at: column &+ 16)
            for r in 0..<rows {
                let sums = UnsafeRawPointer(tile + r &* tileColumns)
                let acc0 = sums.loadUnaligned(as: SIMD16<Int32>.self) &+ o0
                let acc1 = sums.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int32>.self) &+ o1
                destination.storeBytes(of: Q8Requantization.requantize(acc0, multiplier: m0, activation: activation, zeroPoint: zp),
                                       toByteOffset: r &* rowBytes, as: SIMD16<UInt8>.self)
                destination.storeBytes(of: Q8Requantization.requantize(acc1, multiplier: m1, activation: activation, zeroPoint: zp),
                                       toByteOffset: r &* rowBytes &+ 16, as: SIMD16<UInt8>.self)
            }
            return
        }
        #endif
        for r in 0..<rows { store(tile + r &* tileColumns, column: column, count: count, to: destination + r &* rowBytes) }
    }

    /// Stores `count` sums of column 0 (a one-channel layer's consecutive pixels) to `destination`, 8 at a time.
    @inline(__always)
    func storeOneChannel(_ sums: UnsafePointer<Int32>, count: Int, to destination: UnsafeMutableRawPointer) {
        let offset = SIMD8<Int32>(repeating: offsets[0]), m = SIMD8<Float>(repeating: multipliers[0])
        var j = 0
        while j &+ 8 <= count {
            let acc = UnsafeRawPointer(sums + j).loadUnaligned(as: SIMD8<Int32>.self) &+ offset
            switch target {
            case .quantized(let zp):
                destination.storeBytes(of: Q8Requantization.requantize(acc, multiplier: m, activation: activation, zeroPoint: zp),
                                       toByteOffset: j, as: SIMD8<UInt8>.self)
            case .float:
                destination.storeBytes(of: Q8Requantization.dequantize(acc, multiplier: m, activation: activation),
                                       toByteOffset: j &* 4, as: SIMD8<Float>.self)
            }
            j &+= 8
        }
        while j < count {
            store(sums + j, column: 0, count: 1, to: destination + j &* elementBytes)
            j &+= 1
        }
    }
}
