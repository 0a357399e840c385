import Kernels

/// Checks of the narrow Winograd kernel's volume run (`F32Conv2dPlan.runVolume`), which reads a one-channel volume's
/// depth taps from the volume instead of stacking them per output slice.
public enum NarrowVolumeChecks {
    /// Random volumes, windows and splits: 2-4 depth taps with every dilation the run takes, depth stride 1 and 2,
    /// depth padding up to output slices that read only padding, odd heights and widths (tile rows whose last group of
    /// four tiles is short), output channels off the vector width, each activation. Every output slice must have the
    /// bits of the stacked run of that slice (`runSingleThreaded` on the taps stacked as channels, itself checked
    /// against the Float64 reference by `ConvChecks`), with scratch and output poisoned with NaN and the tile rows run
    /// one call each, in reverse order, and the same bits whether the output is streamed past the caches or stored.
    /// Also within `Tolerances.winogradF4` of the Float64 reference.
    public static func randomized(count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        var failures: [String] = []
        var checked = 0
        while checked < count {
            let taps = rng.int(2...4), dilation = rng.int(1...(4 / (taps - 1))), span = (taps - 1) * dilation
            let stride = rng.int(1...2), padBegin = rng.int(0...(span + 1)), padEnd = rng.int(0...span)
            let inDepth = rng.int(1...9), pad = rng.int(0...2)
            let outChannels = rng.pick([rng.int(1...40), 16, 32])  // whole vectors of output channels are streamed
            let g = Conv2dGeometry(inChannels: taps, inHeight: rng.int(1...13), inWidth: rng.int(1...37), outChannels: outChannels,
                                   kernel: 3, padding: pad)
            let reach = inDepth + padBegin + padEnd - span
            guard g.validate() == nil, reach >= 1, F32ConvWinogradNarrow.supports(g) else { continue }
            checked += 1
            let depth = DepthTaps(inDepth: inDepth, outDepth: (reach - 1) / stride + 1, stride: stride, padBegin: padBegin, dilation: dilation)
            let activation = rng.pick([FusedActivation.none, .relu, .leakyRelu(slope: 0.1)])
            let label = "narrow volume \(g) taps \(taps) \(depth) \(activation) seed \(seed)"
            let weights = rng.floats(g.weightCount), bias = rng.floats(g.outChannels)
            let slice = g.inHeight * g.inWidth, outSlice = g.outputShape.elementCount
            let volume = rng.floats(inDepth * slice)
            guard let plan = try? F32Conv2dPlan(g, weights: weights, bias: bias, activation: activation, algorithm: .winogradNarrow) else {
                failures.append("\(label): plan failed"); continue
            }
            guard plan.runsVolume(depthDilation: dilation) else { failures.append("\(label): the plan does not take the volume"); continue }
            // Streamed (into 64-byte aligned memory, as the executor's arena is) and stored: the same bits.
            let streamed = AlignedBuffer(count: depth.outDepth * outSlice), stored = AlignedBuffer(count: depth.outDepth * outSlice)
            let scratch = AlignedBuffer(count: plan.volumeScratchFloats)
            for (buffer, streaming) in [(streamed, true), (stored, false)] {
                for i in 0..<buffer.count { buffer.pointer[i] = .nan }
                for i in 0..<scratch.count { scratch.pointer[i] = .nan }
                volume.withUnsafeBufferPointer { v in
                    for item in (0..<plan.volumeWorkItems).reversed() {
                        plan.runVolume(v.baseAddress!, depth: depth, output: buffer.pointer, items: item..<(item + 1), scratch: scratch.pointer,
                                       streaming: streaming)
                    }
                }
            }
            if (0..<streamed.count).contains(where: { streamed.pointer[$0].bitPattern != stored.pointer[$0].bitPattern }) {
                failures.append("\(label): streamed output differs from stored")
            }
            let output = Array(UnsafeBufferPointer(start: streamed.constPointer, count: streamed.count))
            for oz in 0..<depth.outDepth {
                // The stacked image of output slice `oz`: channel k is tap k's input slice, zeros in the depth padding.
                var stacked = [Float](repeating: 0, count: slice * taps)
                for k in 0..<taps {
                    let z = oz * stride - padBegin + k * dilation
                    guard z >= 0 && z < inDepth else { continue }
                    for p in 0..<slice { stacked[p * taps + k] = volume[z * slice + p] }
                }
                var expected = poisoned(outSlice)
                expected.withUnsafeMutableBufferPointer { plan.runSingleThreaded(input: stacked, output: $0.baseAddress!) }
                let got = output[(oz * outSlice)..<((oz + 1) * outSlice)]
                if zip(got, expected).contains(where: { $0.bitPattern != $1.bitPattern }) {
                    failures.append("\(label): output slice \(oz) differs from its stacked run")
                    break
                }
                if let f = Array(got).withUnsafeBufferPointer({
                    compare($0, ConvReference.conv2d(g, input: stacked, weights: weights, bias: bias, activation: activation),
                            rtol: Tolerances.winogradF4, label: "\(label) slice \(oz)")
                }) {
                    failures.append(f)
                    break
                }
            }
        }
        return failures
    }
}
