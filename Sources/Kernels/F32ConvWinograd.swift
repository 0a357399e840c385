/// Winograd convolution for 3x3, stride 1, dilation 1, groups 1 (`f32-conv3x3-winograd-fM`).
///
/// A work item is one block of tiles and one group of output channels, fused so the transformed
/// block stays in cache:
/// 1. input transform `V[xi][tile][c] = (B^T d B)[xi]`, vectorized across channels (skipped when the
///    previous item on the same thread had the same tile block);
/// 2. alpha^2 GEMMs `M[xi] = V[xi] x U[xi]` on the `f32-igemm-6x(2W)` tile, for the group's columns;
/// 3. output transform `Y = A^T M A`, plus bias and the fused activation, cropped at the edges.
/// The weight transform `U = G g G^T` runs once, in `Plan.init` (`F32PackedConvWeights(winograd:)`).
///
/// Blocking: when the transformed input of the image is larger than the transformed weights (early,
/// wide layers), blocks hold as many tiles as keep V and M within 256 KiB, so they stay in L2, and
/// one group holds every output channel. When the weights are larger (deep layers on small images),
/// one block holds up to 96 tiles, so each weight panel is read once per block, and the output
/// channels are split into groups, so there are still enough work items for the threads. In that regime the
/// tiles of several images form one block (`images`, as many as fit 96 tiles), so each weight panel serves
/// all of them: a 512->512 layer at 16x16 holds 37 MB of transformed weights, streamed once per image before.
public enum F32ConvWinograd {
    public static func supports(_ g: Conv2dGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideY == 1 && g.strideX == 1
            && g.dilationY == 1 && g.dilationX == 1 && g.groups == 1
    }

    public struct Plan {
        public let geometry: Conv2dGeometry
        public let variant: WinogradVariant
        let tilesY: Int
        let tilesX: Int
        /// Images whose tiles one run covers: the whole batch when the weights outweigh one image's
        /// transformed input, else 1. Their prepared inputs lie `paddedInputFloats` apart.
        public let images: Int
        /// Input channels padded to the vector width.
        let paddedChannels: Int
        /// Output channels padded to the tile's column block.
        let paddedOutChannels: Int
        let tilesPerBlock: Int
        /// Output-channel groups per tile block; work items are `blockCount * columnGroups`.
        let columnGroups: Int
        /// Weight column blocks (`weights.blockColumns` channels each) per group.
        let columnBlocksPerGroup: Int
        let weights: F32PackedConvWeights
        let bias: AlignedBuffer
        let inputRows: SparseRows
        let outputRows: SparseRows

        public init(_ g: Conv2dGeometry, variant: WinogradVariant, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                    spread: WorkSpreader = runOnCallingThread) {
            precondition(F32ConvWinograd.supports(g), "Winograd needs 3x3, stride 1, dilation 1, groups 1: \(g)")
            geometry = g
            self.variant = variant
            let m = variant.m, alpha = variant.alpha
            tilesY = (g.outHeight + m - 1) / m
            tilesX = (g.outWidth + m - 1) / m
            paddedChannels = roundUp(g.inChannels, toMultipleOf: CompiledISA.tileWidth)
            let blockColumns = CompiledISA.blockColumns(outputChannels: g.outChannels)
            paddedOutChannels = roundUp(g.outChannels, toMultipleOf: blockColumns)
            let a2 = alpha * alpha
            let columnBlocks = paddedOutChannels / blockColumns
            // The transformed weights (a2 x Cin x Cout) outweigh the transformed input (a2 x tiles x Cin).
            let weightHeavy = paddedOutChannels > tilesY * tilesX
            // As many images as fit one block of at most 96 tiles (and divide the batch): bigger blocks
            // overflow the caches with V and M (measured slower for 256->256 at 32x32, 64 tiles an image).
            var images = 1
            if weightHeavy {
                for k in stride(from: max(1, g.batch), through: 1, by: -1) where g.batch % k == 0 && k * tilesY * tilesX <= 16 * igemmTileRows {
                    images = k
                    break
                }
            }
            self.images = images
            let tiles = images * tilesY * tilesX
            if weightHeavy {
                tilesPerBlock = min(roundUp(tiles, toMultipleOf: igemmTileRows), 16 * igemmTileRows)
                let tileBlocks = (tiles + tilesPerBlock - 1) / tilesPerBlock
                let wantedGroups = max(1, min(columnBlocks, 8 / tileBlocks))
                columnBlocksPerGroup = (columnBlocks + wantedGroups - 1) / wantedGroups
            } else {
                // Keep V and M of one block within 256 KiB, in whole microkernel tiles.
                let floatsPerTile = a2 * (paddedChannels + paddedOutChannels)
                tilesPerBlock = max(igemmTileRows, min(16 * igemmTileRows, (1 << 16) / floatsPerTile / igemmTileRows * igemmTileRows))
                columnBlocksPerGroup = columnBlocks
            }
            columnGroups = (columnBlocks + columnBlocksPerGroup - 1) / columnBlocksPerGroup
            self.weights = F32PackedConvWeights(winograd: variant, oihw: weights, outChannels: g.outChannels,
                                                inChannels: g.inChannels, paddedInChannels: paddedChannels, spread: spread)
            self.bias = AlignedBuffer(count: paddedOutChannels)
            if let bias { for o in 0..<g.outChannels { self.bias.pointer[o] = bias[o] } }
            inputRows = SparseRows(variant.bt, rows: alpha, columns: alpha)
            outputRows = SparseRows(variant.at, rows: m, columns: alpha)
        }

        var paddedHeight: Int { tilesY * variant.m + 2 }
        var paddedWidth: Int { tilesX * variant.m + 2 }
        /// Floats of one prepared image.
        var paddedInputFloats: Int { paddedHeight * paddedWidth * paddedChannels }
        var tilesPerImage: Int { tilesY * tilesX }
        /// Tiles of one run (all `images`).
        var tileCount: Int { images * tilesY * tilesX }
        var blockCount: Int { (tileCount + tilesPerBlock - 1) / tilesPerBlock }
        /// Independent work items of one run (`images` images).
        public var workItems: Int { blockCount * columnGroups }
        var scratchFloats: Int {
            let a2 = variant.alpha * variant.alpha
            return a2 * tilesPerBlock * (paddedChannels + paddedOutChannels) + 2 * a2 * 16
        }

        /// Zero-pads one NHWC image to whole tiles and to `paddedChannels` channels.
        /// Rows of the prepared input of one run: `paddedHeight` per image.
        var preparedRows: Int { images * paddedHeight }

        /// Pads prepared rows `rows` of the run's images (NHWC, consecutive from `images`): row r is row
        /// r % paddedHeight of image r / paddedHeight.
        func prepareInput(_ images: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            let g = geometry
            var r = rows.lowerBound
            while r < rows.upperBound {
                let image = r / paddedHeight, y = r - image * paddedHeight
                let end = min(rows.upperBound, (image + 1) * paddedHeight)
                F32Pad.image(images + image * g.inputShape.elementsPerImage, height: g.inHeight, width: g.inWidth, channels: g.inChannels,
                             top: g.padTop, left: g.padLeft,
                             bottom: paddedHeight - g.padTop - g.inHeight, right: paddedWidth - g.padLeft - g.inWidth,
                             into: dst + image * paddedInputFloats, dstChannels: paddedChannels, rows: y..<(y + end - r))
                r = end
            }
        }

        /// `prepareInput` of a run of one image (`images == 1`) given as stacked channel blocks.
        func prepareInput(_ blocks: ChannelBlocks, into dst: UnsafeMutablePointer<Float>, rows: Range<Int>) {
            precondition(images == 1, "stacked channel blocks are one image")
            let g = geometry
            F32Pad.image(blocks, height: g.inHeight, width: g.inWidth, top: g.padTop, left: g.padLeft,
                         bottom: paddedHeight - g.padTop - g.inHeight, right: paddedWidth - g.padLeft - g.inWidth,
                         into: dst, dstChannels: paddedChannels, rows: rows)
        }

        func run(paddedInput: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, items: Range<Int>,
                 scratch: UnsafeMutablePointer<Float>, activation: FusedActivation) {
            if CompiledISA.tileWidth == 16 {
                run(SIMD16<Float>.self, paddedInput, output, items, scratch, activation)
            } else {
                run(SIMD8<Float>.self, paddedInput, output, items, scratch, activation)
            }
        }

        @inline(__always)
        func run<V: SIMD>(_: V.Type, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                          _ items: Range<Int>, _ scratch: UnsafeMutablePointer<Float>,
                          _ activation: FusedActivation) where V.Scalar == Float {
            let alpha = variant.alpha, a2 = alpha * alpha
            let cp = paddedChannels, cop = paddedOutChannels
            let vBuffer = scratch
            let mBuffer = scratch + a2 * tilesPerBlock * cp
            withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * a2) { temp in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: igemmTileRows) { aRows in
                    withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: igemmTileRows) { cRows in
                        let temp = temp.baseAddress!
                        let nr = weights.blockColumns
                        var transformedBlock = -1
                        for item in items {
                            let block = item / columnGroups, group = item - block * columnGroups
                            let first = block * tilesPerBlock
                            let count = min(tilesPerBlock, tileCount - first)
                            if block != transformedBlock {
                                for i in 0..<count {
                                    transformInputTile(V.self, input, tile: first + i, into: vBuffer + i * cp,
                                                       xiStride: tilesPerBlock * cp, temp: temp)
                                }
                                transformedBlock = block
                            }
                            let firstColumnBlock = group * columnBlocksPerGroup
                            let columnBlocks = firstColumnBlock..<min(weights.columnBlocks, firstColumnBlock + columnBlocksPerGroup)
                            multiply(vBuffer, mBuffer, count: count, columnBlocks: columnBlocks,
                                     aRows: aRows.baseAddress!, cRows: cRows.baseAddress!)
                            let channels = (columnBlocks.lowerBound * nr)..<min(geometry.outChannels, columnBlocks.upperBound * nr)
                            for i in 0..<count {
                                transformOutputTile(V.self, mBuffer + i * cop, xiStride: tilesPerBlock * cop, tile: first + i,
                                                    channels: channels, output: output, temp: temp, activation: activation)
                            }
                        }
                    }
                }
            }
        }

        /// `M[xi] = V[xi] x U[xi]` for every xi, over `count` tiles and the columns of `columnBlocks`.
        @inline(__always)
        func multiply(_ vBuffer: UnsafeMutablePointer<Float>, _ mBuffer: UnsafeMutablePointer<Float>, count: Int,
                      columnBlocks: Range<Int>, aRows: UnsafeMutablePointer<UnsafePointer<Float>>, cRows: UnsafeMutablePointer<UnsafeMutablePointer<Float>>) {
            let a2 = variant.alpha * variant.alpha, cp = paddedChannels, cop = paddedOutChannels
            let nr = weights.blockColumns
            // 16-column blocks on AVX-512 builds: 12 rows a call (`f32GemmTile12x16`), the last few 6 at a time.
            let tall = CompiledISA.tileWidth == 16 && nr == 16
            var zero = 0
            for xi in 0..<a2 {
                let vRows = vBuffer + xi * tilesPerBlock * cp
                let mRows = mBuffer + xi * tilesPerBlock * cop
                for block in columnBlocks {
                    let b = weights.data.constPointer + block * weights.blockStride + xi * cp * nr
                    var row = 0
                    if tall {
                        while row + tallTileRows <= count {
                            f32GemmTile12x16(a: vRows + row * cp, aStride: cp, depth: cp, b: b, c: mRows + row * cop + block * nr, cStride: cop)
                            row += tallTileRows
                        }
                    }
                    while row < count {
                        let rows = min(igemmTileRows, count - row)
                        for r in 0..<igemmTileRows {
                            let i = row + min(r, rows - 1)
                            aRows[r] = UnsafePointer(vRows + i * cp)
                            cRows[r] = mRows + i * cop
                        }
                        f32IgemmTileNative(a: UnsafePointer(aRows), tapOffsets: &zero, tapCount: 1, depth: cp, b: b, blockColumns: nr,
                                           c: UnsafePointer(cRows), columnOffset: block * nr, rows: rows, columns: nr,
                                           bias: nil, activation: .none)
                        row += igemmTileRows
                    }
                }
            }
        }

        /// `B^T d B` for one tile, all channels; writes `V[xi][tile]` rows at `dst + xi * xiStride`.
        @inline(__always)
        func transformInputTile<V: SIMD>(_: V.Type, _ input: UnsafePointer<Float>, tile: Int,
                                         into dst: UnsafeMutablePointer<Float>, xiStride: Int,
                                         temp: UnsafeMutablePointer<V>) where V.Scalar == Float {
            let alpha = variant.alpha, m = variant.m, cp = paddedChannels, w = V.scalarCount
            let image = tile / tilesPerImage, t = tile - image * tilesPerImage
            let ty = t / tilesX, tx = t - ty * tilesX
            let pw = paddedWidth
            let corner = input + image * paddedInputFloats + ((ty * m) * pw + tx * m) * cp
            if m == 4 || m == 2 {
                // The hand-written transforms.
                var c = 0
                while c < cp {
                    if m == 4 {
                        WinogradF4.inputTile(V.self, corner: corner + c, rowStride: pw * cp, pixelStride: cp,
                                             dst: dst + c, xiStride: xiStride, temp: temp)
                    } else {
                        WinogradF2.inputTile(V.self, corner: corner + c, rowStride: pw * cp, pixelStride: cp,
                                             dst: dst + c, xiStride: xiStride, temp: temp)
                    }
                    c += w
                }
                return
            }
            let rowsT = temp          // alpha x alpha: B^T d
            let rows = inputRows
            rows.starts.withUnsafeBufferPointer { starts in
            rows.columns.withUnsafeBufferPointer { cols in
            rows.coefficients.withUnsafeBufferPointer { coefs in
                var c = 0
                while c < cp {
                    // rowsT[r][x] = sum_k B^T[r][k] d[k][x]
                    for r in 0..<alpha {
                        for x in 0..<alpha {
                            var s = V()
                            for t in starts[r]..<starts[r + 1] {
                                let d = (corner + (cols[t] * pw + x) * cp + c).loadVector(V.self)
                                s = s.addingProduct(V(repeating: coefs[t]), d)
                            }
                            rowsT[r * alpha + x] = s
                        }
                    }
                    // V[r][s] = sum_k rowsT[r][k] B^T[s][k]
                    for r in 0..<alpha {
                        for s in 0..<alpha {
                            var v = V()
                            for t in starts[s]..<starts[s + 1] {
                                v = v.addingProduct(V(repeating: coefs[t]), rowsT[r * alpha + cols[t]])
                            }
                            (dst + (r * alpha + s) * xiStride + c).storeVector(v)
                        }
                    }
                    c += w
                }
            }}}
        }

        /// `A^T M A` for one tile and the output `channels` (a range starting at a multiple of the vector
        /// width), plus bias and activation, stored cropped.
        @inline(__always)
        func transformOutputTile<V: SIMD>(_: V.Type, _ mTile: UnsafeMutablePointer<Float>, xiStride: Int, tile: Int,
                                          channels: Range<Int>, output: UnsafeMutablePointer<Float>, temp: UnsafeMutablePointer<V>,
                                          activation: FusedActivation) where V.Scalar == Float {
            let g = geometry
            let alpha = variant.alpha, m = variant.m, w = V.scalarCount
            let image = tile / tilesPerImage, t = tile - image * tilesPerImage
            let ty = t / tilesX, tx = t - ty * tilesX
            let output = output + image * g.outputShape.elementsPerImage
            let validRows = min(m, g.outHeight - ty * m), validCols = min(m, g.outWidth - tx * m)
            let cout = g.outChannels
            if m == 4 || m == 2 {
                // The hand-written transforms; `temp` holds their scratch (24 vectors at most), then the m x m result.
                let result = temp + 24
                var c = channels.lowerBound
                while c < channels.upperBound {
                    let lanes = min(w, channels.upperBound - c)
                    let b = (bias.constPointer + c).loadVector(V.self)
                    if m == 4 {
                        WinogradF4.outputTile(V.self, mTile: mTile + c, xiStride: xiStride, bias: b, result: result, temp: temp)
                    } else {
                        WinogradF2.outputTile(V.self, mTile: mTile + c, xiStride: xiStride, bias: b, result: result, temp: temp)
                    }
                    for r in 0..<validRows {
                        for s in 0..<validCols {
                            let dst = output + (((ty * m + r) * g.outWidth) + tx * m + s) * cout + c
                            dst.storeVector(activation.apply(result[r * m + s]), count: lanes)
                        }
                    }
                    c += w
                }
                return
            }
            let rowsT = temp  // m x alpha: A^T M
            let rows = outputRows
            rows.starts.withUnsafeBufferPointer { starts in
            rows.columns.withUnsafeBufferPointer { cols in
            rows.coefficients.withUnsafeBufferPointer { coefs in
                var c = channels.lowerBound
                while c < channels.upperBound {
                    let lanes = min(w, channels.upperBound - c)
                    for r in 0..<m {
                        for x in 0..<alpha {
                            var s = V()
                            for t in starts[r]..<starts[r + 1] {
                                let v = (mTile + (cols[t] * alpha + x) * xiStride + c).loadVector(V.self)
                                s = s.addingProduct(V(repeating: coefs[t]), v)
                            }
                            rowsT[r * alpha + x] = s
                        }
                    }
                    let b = (bias.constPointer + c).loadVector(V.self)
                    for r in 0..<validRows {
                        for s in 0..<validCols {
                            var y = b
                            for t in starts[s]..<starts[s + 1] {
                                y = y.addingProduct(V(repeating: coefs[t]), rowsT[r * alpha + cols[t]])
                            }
                            let dst = output + (((ty * m + r) * g.outWidth) + tx * m + s) * cout + c
                            dst.storeVector(activation.apply(y), count: lanes)
                        }
                    }
                    c += w
                }
            }}}
        }
    }
}
