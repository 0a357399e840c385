import Kernels

/// Volumes in int8 programs: the 3D windows run through the 2D int8 kernels as fp32 does (`DepthStacking`): a
/// 3D convolution stacks its input's depth taps as channels (taps in the padding read the zero point, the
/// value 0) and runs one 2D int8 convolution over the `batch * outDepth` stacked slices; a transposed
/// convolution whose depth kernel equals its stride (2x2x2 stride 2) runs one 2D int8 transposed convolution
/// with a block of outputs per depth tap, and each block is moved to the output slice it reaches (no two
/// taps meet, so no sum crosses the requantization); max pooling pools each slice in-plane, then takes the
/// largest byte over the depth taps (max commutes with the affine map). Values between steps are plain
/// images (N*D slices), so the 2D kernels' plans run unchanged.
extension Int8Program {
    /// A step writing `stacking.stack` of the q8 value `input` (bytes): `[images][H][W][taps * C]`.
    func depthStackStep(_ input: Int, _ stacking: DepthStacking, parameters: Q8TensorParameters, height: Int, width: Int, node: Int) -> Int {
        let c = stacking.channels, kd = stacking.taps, pixels = height * width, zero = UInt8(parameters.zeroPoint)
        let shape = TensorShape(batch: stacking.images, channels: kd * c, height: height, width: width)
        return addStep(Kernel { r in
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: stacking.images, threads: r.threads) { items, _ in
                for item in items {
                    let n = item / stacking.shortDepth, z = item % stacking.shortDepth, out = dst + item * pixels * kd * c
                    for k in 0..<kd {
                        guard let iz = stacking.longSlice(z, tap: k) else {
                            for p in 0..<pixels { (out + p * kd * c + k * c).update(repeating: zero, count: c) }
                            continue
                        }
                        let slice = src + (n * stacking.longDepth + iz) * pixels * c
                        for p in 0..<pixels { (out + p * kd * c + k * c).update(from: slice + p * c, count: c) }
                    }
                }
            }
        }, [input], node, shape, .q8(parameters))
    }

    /// A step moving block k of stacked slice iz (`[images][H][W][taps * C]`, elements of `bytes` bytes) to long
    /// slice `iz * stride + k`: the output of a transposed convolution whose depth kernel equals its stride.
    func depthScatterStep(_ input: Int, _ stacking: DepthStacking, output shape: TensorShape, bytes: Int, domain: Domain, node: Int) -> Int {
        let c = stacking.channels * bytes, kd = stacking.taps, pixels = shape.height * shape.width
        return addStep(Kernel { r in
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: stacking.images, threads: r.threads) { items, _ in
                for item in items {
                    let n = item / stacking.shortDepth, iz = item % stacking.shortDepth, block = src + item * pixels * kd * c
                    for k in 0..<kd {
                        let out = dst + (n * stacking.longDepth + iz * stacking.axis.stride + k) * pixels * c
                        for p in 0..<pixels { (out + p * c).update(from: block + p * kd * c + k * c, count: c) }
                    }
                }
            }
        }, [input], node, shape, domain)
    }

    /// A step taking, per output slice, the largest byte over the in-plane-pooled input slices its depth taps
    /// reach (`pooled`: `[batch * inDepth][H][W][C]`).
    func depthMaxStep(_ pooled: Int, axis: SpatialWindow.Axis, inDepth: Int, output shape: TensorShape, parameters: Q8TensorParameters, node: Int) -> Int {
        let plane = shape.height * shape.width * shape.channels, outDepth = shape.depth ?? 1
        return addStep(Kernel { r in
            let src = r.x.assumingMemoryBound(to: UInt8.self), dst = r.output.assumingMemoryBound(to: UInt8.self)
            ParallelFor.run(count: shape.batch * outDepth, threads: r.threads) { items, _ in
                for item in items {
                    let n = item / outDepth, out = dst + item * plane
                    for (k, t) in VolumeSlices.taps(item % outDepth, axis, inDepth: inDepth).enumerated() {
                        let slice = src + (n * inDepth + t.slice) * plane
                        if k == 0 { out.update(from: slice, count: plane) } else { for e in 0..<plane where slice[e] > out[e] { out[e] = slice[e] } }
                    }
                }
            }
        }, [pooled], node, shape, .q8(parameters))
    }
}

extension Int8StepOperands {
    /// The same storage seen as images of these shapes (a volume's slices as a batch of images).
    func viewed(input: TensorShape, output: TensorShape) -> Int8StepOperands {
        Int8StepOperands(operands: operands, operandShapes: [input] + operandShapes.dropFirst(), output: self.output, shape: output,
                         workspace: workspace, threads: threads)
    }
}
