/// Winograd over H x W for a 3D convolution whose depth taps are stacked as input channels (one output slice =
/// one 2D convolution of `kd` input slices stacked channel-wise, `kd * channels` inputs): each input slice is
/// transformed once, into a slot of its own, and every output slice that reads it multiplies that slot, its
/// taps found at fixed offsets between the slots. Stacking and transforming per output slice transforms each
/// input slice `kd` times. The products run the same microkernel over the same K in the same order (tap by
/// tap, channel by channel), so the output has the bits of the stacked plan's `run`.
///
/// Needs `channels` a multiple of the vector width, so the stacked K is `kd` whole runs of `channels`.
extension F32ConvWinograd.Plan {
    /// Floats of one input slice's transformed tiles (`[xi][tile][channel]`).
    func transformedSliceFloats(channels: Int) -> Int { variant.alpha * variant.alpha * tilesPerImage * channels }

    /// Floats of the padded copy of one input slice that `transformSlice` needs.
    func paddedSliceFloats(channels: Int) -> Int { paddedHeight * paddedWidth * channels }

    /// Pads one NHWC input slice of `channels` channels (nil: zeros, a tap in the depth padding) to whole tiles
    /// into `padded`, then transforms every tile into `dst` (`transformedSliceFloats`).
    func transformSlice(_ slice: UnsafePointer<Float>?, channels: Int, padded: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let g = geometry
        if let slice {
            F32Pad.image(slice, height: g.inHeight, width: g.inWidth, channels: channels, top: g.padTop, left: g.padLeft,
                         bottom: paddedHeight - g.padTop - g.inHeight, right: paddedWidth - g.padLeft - g.inWidth,
                         into: padded, dstChannels: channels)
        } else {
            padded.update(repeating: 0, count: paddedSliceFloats(channels: channels))
        }
        if CompiledISA.tileWidth == 16 {
            transformSlice(SIMD16<Float>.self, UnsafePointer(padded), channels: channels, into: dst)
        } else {
            transformSlice(SIMD8<Float>.self, UnsafePointer(padded), channels: channels, into: dst)
        }
    }

    @inline(__always)
    func transformSlice<V: SIMD>(_: V.Type, _ padded: UnsafePointer<Float>, channels: Int, into dst: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * variant.alpha * variant.alpha) { temp in
            for tile in 0..<tilesPerImage {
                transformInputTile(V.self, padded, tile: tile, channels: channels, into: dst + tile * channels,
                                   xiStride: tilesPerImage * channels, temp: temp.baseAddress!)
            }
        }
    }

    /// The whole output of one image (`images == 1`) from its taps' transformed slices: tap t's at
    /// `transformed + taps.offsets[t]`, each `taps.depth` channels (`taps.count * taps.depth == paddedChannels`).
    /// `scratch`: `scratchFloats`.
    func run(transformed: UnsafePointer<Float>, taps: ChannelTaps, output: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutablePointer<Float>, activation: FusedActivation) {
        precondition(images == 1 && taps.count * taps.depth == paddedChannels, "depth taps must make the stacked channels of one image")
        if CompiledISA.tileWidth == 16 {
            run(SIMD16<Float>.self, transformed, taps, output, scratch, activation)
        } else {
            run(SIMD8<Float>.self, transformed, taps, output, scratch, activation)
        }
    }

    @inline(__always)
    func run<V: SIMD>(_: V.Type, _ transformed: UnsafePointer<Float>, _ taps: ChannelTaps, _ output: UnsafeMutablePointer<Float>,
                      _ scratch: UnsafeMutablePointer<Float>, _ activation: FusedActivation) where V.Scalar == Float {
        let a2 = variant.alpha * variant.alpha, cop = paddedOutChannels, depth = taps.depth
        let mBuffer = scratch + a2 * tilesPerBlock * paddedChannels
        withUnsafeTemporaryAllocation(of: V.self, capacity: 2 * a2) { temp in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: igemmTileRows) { aRows in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: igemmTileRows) { cRows in
                    let temp = temp.baseAddress!, nr = weights.blockColumns
                    for item in 0..<workItems {
                        let block = item / columnGroups, group = item - block * columnGroups
                        let first = block * tilesPerBlock
                        let count = min(tilesPerBlock, tileCount - first)
                        let firstColumnBlock = group * columnBlocksPerGroup
                        let columnBlocks = firstColumnBlock..<min(weights.columnBlocks, firstColumnBlock + columnBlocksPerGroup)
                        multiply(transformed + first * depth, xiStride: tilesPerImage * depth, rowStride: depth, taps: taps,
                                 mBuffer, count: count, columnBlocks: columnBlocks, aRows: aRows.baseAddress!, cRows: cRows.baseAddress!)
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
}

extension F32Conv2dPlan {
    /// Whether a 3D convolution's output slices can run from separately transformed input slices of `channels`
    /// channels each (`runDepthTaps`): Winograd, one image, and `channels` whole vectors.
    public func takesTransformedSlices(channels: Int) -> Bool {
        guard let w = winograd else { return false }
        return w.images == 1 && channels % CompiledISA.tileWidth == 0 && w.paddedChannels % channels == 0
            && w.paddedChannels == geometry.inChannels
    }

    /// Floats of one input slice's transform (`transformSlice`).
    public func transformedSliceFloats(channels: Int) -> Int { winograd!.transformedSliceFloats(channels: channels) }

    /// Floats of the padded slice `transformSlice` works in.
    public func paddedSliceFloats(channels: Int) -> Int { winograd!.paddedSliceFloats(channels: channels) }

    /// Transforms one NHWC input slice (`channels` channels; nil: zeros) into `dst`, padding it in `padded` first.
    @export(interface)
    public func transformSlice(_ slice: UnsafePointer<Float>?, channels: Int, padded: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        winograd!.transformSlice(slice, channels: channels, padded: padded, into: dst)
    }

    /// One output image whose stacked input channels are `tapCount` transformed slices, tap t's at
    /// `transformed + tapOffsets[t]` floats (offsets between slots of one buffer), each `channels` channels;
    /// `scratch`: `scratchFloats`. The same bits as `run` on the stacked image.
    @export(interface)
    public func runDepthTaps(transformed: UnsafePointer<Float>, tapOffsets: UnsafePointer<Int>, tapCount: Int, channels: Int,
                             output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        winograd!.run(transformed: transformed, taps: ChannelTaps(offsets: tapOffsets, count: tapCount, depth: channels),
                      output: output, scratch: scratch, activation: activation)
    }
}
