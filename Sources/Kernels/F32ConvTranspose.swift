/// Transposed convolution (PyTorch `ConvTranspose2d`, groups 1). Weights are IOHW:
/// `[inChannels][outChannels][kernelHeight][kernelWidth]`. Input and output are NHWC images.
public enum F32ConvTranspose {
    /// Weights packed for either path, plus the bias.
    public struct Plan {
        public let geometry: ConvTranspose2dGeometry
        public let activation: FusedActivation
        /// Up-step path: 4 taps (i, j) packed for the igemm tile, `[block][tap][cin][2W]`.
        let packed: F32PackedConvWeights?
        /// General path: `[ky][kx][cin][paddedOut]`.
        let general: AlignedBuffer?
        let bias: AlignedBuffer
        let paddedOut: Int

        @export(interface)
        public init(_ g: ConvTranspose2dGeometry, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    activation: FusedActivation) throws(ShapeError) {
            if let error = g.validate() { throw error }
            geometry = g
            self.activation = activation
            let cin = g.inChannels, cout = g.outChannels, kh = g.kernelHeight, kw = g.kernelWidth
            paddedOut = roundUp(cout, toMultipleOf: CompiledISA.tileColumns)
            self.bias = AlignedBuffer(count: paddedOut)
            if let bias { for o in 0..<cout { self.bias.pointer[o] = bias[o] } }
            if g.isUpStep2x2 {
                packed = F32PackedConvWeights(outChannels: cout, inChannels: cin, taps: 4, bias: bias) { o, i, t in
                    weights[(i * cout + o) * 4 + t]
                }
                general = nil
            } else {
                packed = nil
                let buffer = AlignedBuffer(count: kh * kw * cin * paddedOut)
                for i in 0..<cin {
                    for o in 0..<cout {
                        for t in 0..<(kh * kw) { buffer.pointer[(t * cin + i) * paddedOut + o] = weights[(i * cout + o) * kh * kw + t] }
                    }
                }
                general = buffer
            }
        }

        /// Bytes of packed weights and bias this plan holds.
        public var packedWeightBytes: Int {
            ((packed.map { $0.data.count + $0.bias.count } ?? 0) + (general?.count ?? 0) + bias.count) * 4
        }

        /// Work items of one image: tiles of 6 input pixels (up-step) or output rows (general).
        public var workItems: Int {
            let g = geometry
            return packed != nil ? (g.inHeight * g.inWidth + igemmTileRows - 1) / igemmTileRows : g.outHeight
        }

        /// Computes work items `items` of one image.
        @export(interface)
        public func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, items: Range<Int>) {
            if let packed {
                runUpStep(packed, input, output, items)
            } else if CompiledISA.tileWidth == 16 {
                runGeneral(SIMD16<Float>.self, input, output, items)
            } else {
                runGeneral(SIMD8<Float>.self, input, output, items)
            }
        }

        @export(interface)
        public func runSingleThreaded(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
            let g = geometry
            for n in 0..<g.batch {
                run(input: input + n * g.inputShape.elementsPerImage, output: output + n * g.outputShape.elementsPerImage,
                    items: 0..<workItems)
            }
        }

        /// 2x2 stride 2: four GEMMs `[pixels x cin] x [cin x cout]`, one per output phase (i, j),
        /// each storing straight into pixel (2y + i, 2x + j) through the tile's row pointers.
        func runUpStep(_ w: F32PackedConvWeights, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                       _ tiles: Range<Int>) {
            let g = geometry
            let cin = g.inChannels, cout = g.outChannels, iw = g.inWidth, ow = g.outWidth
            let pixels = g.inHeight * iw, nr = w.blockColumns
            var zero = 0
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: igemmTileRows) { aRows in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: igemmTileRows) { cRows in
                    for tile in tiles {
                        let first = tile * igemmTileRows
                        let rows = min(igemmTileRows, pixels - first)
                        for r in 0..<igemmTileRows { aRows[r] = input + (first + min(r, rows - 1)) * cin }
                        for t in 0..<4 {
                            let i = t >> 1, j = t & 1
                            for r in 0..<igemmTileRows {
                                let p = first + min(r, rows - 1)
                                let y = p / iw, x = p - y * iw
                                cRows[r] = output + ((2 * y + i) * ow + 2 * x + j) * cout
                            }
                            for block in 0..<w.columnBlocks {
                                f32IgemmTileNative(a: UnsafePointer(aRows.baseAddress!), tapOffsets: &zero, tapCount: 1, depth: cin,
                                                   b: w.data.constPointer + block * w.blockStride + t * cin * nr, blockColumns: nr,
                                                   c: UnsafePointer(cRows.baseAddress!), columnOffset: block * nr, rows: rows,
                                                   columns: min(nr, cout - block * nr),
                                                   bias: w.bias.constPointer + block * nr, activation: activation)
                            }
                        }
                    }
                }
            }
        }

        /// Any kernel, stride, dilation and padding: each output pixel gathers the input pixels whose
        /// scatter lands on it, vectorized across output channels.
        @inline(__always)
        func runGeneral<V: SIMD>(_: V.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                                 _ rows: Range<Int>) where V.Scalar == Float {
            let g = geometry
            let cin = g.inChannels, cout = g.outChannels, vw = V.scalarCount
            let weights = general!.constPointer, bias = self.bias.constPointer
            for oy in rows {
                for ox in 0..<g.outWidth {
                    let dst = output + (oy * g.outWidth + ox) * cout
                    var co = 0
                    while co < cout {
                        var acc: V = (bias + co).loadVector(V.self)
                        for ky in 0..<g.kernelHeight {
                            let ny = oy + g.padTop - ky * g.dilationY
                            if ny < 0 || ny % g.strideY != 0 { continue }
                            let iy = ny / g.strideY
                            if iy >= g.inHeight { continue }
                            for kx in 0..<g.kernelWidth {
                                let nx = ox + g.padLeft - kx * g.dilationX
                                if nx < 0 || nx % g.strideX != 0 { continue }
                                let ix = nx / g.strideX
                                if ix >= g.inWidth { continue }
                                let src = input + (iy * g.inWidth + ix) * cin
                                let wRow: UnsafePointer<Float> = weights + ((ky * g.kernelWidth + kx) * cin) * paddedOut + co
                                for i in 0..<cin {
                                    let wv: V = (wRow + i * paddedOut).loadVector(V.self)
                                    acc = acc.addingProduct(V(repeating: src[i]), wv)
                                }
                            }
                        }
                        (dst + co).storeVector(activation.apply(acc), count: cout - co)
                        co += vw
                    }
                }
            }
        }
    }
}
