import XCTest
import Kernels
import KernelChecks
@testable import Engine
@testable import Quant

/// int8 models: the fast int8 executor against the integer reference executor (bit for bit), at odd
/// sizes and for 1 and 2 threads, for every preset; calibration robustness; the file round trip.
final class QuantizationTests: XCTestCase {
    static func smallModel(_ preset: ArchitecturePreset, seed: UInt64) throws -> Model {
        var c = preset.config
        c.baseWidth = 4
        c.depth = min(c.depth, 3)
        c.seed = seed
        var model = try Model(config: c)
        var rng = SplitMix64(seed: seed)
        for node in model.graph.nodes {
            guard case .batchNorm(let a) = node.op else { continue }
            let n = model.graph.parameters[a.gamma].elementCount
            model.graph.parameters[a.gamma].data = .f32((0..<n).map { _ in Float.random(in: 0.5..<1.5, using: &rng) })
            model.graph.parameters[a.beta].data = .f32((0..<n).map { _ in Float.random(in: -0.2..<0.2, using: &rng) })
        }
        return model
    }

    static func images(_ count: Int, channels: Int = 1, height: Int, width: Int, seed: UInt64) -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            Tensor(shape: TensorShape(batch: 1, channels: channels, height: height, width: width), data: rng.floats(channels * height * width))
        }
    }

    static func volumes(_ count: Int, depth: Int, height: Int, width: Int, seed: UInt64) -> [Tensor] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            Tensor(shape: TensorShape(batch: 1, channels: 1, depth: depth, height: height, width: width), data: rng.floats(depth * height * width))
        }
    }

    /// Every preset, images and volumes (3D convolutions through the stacked 2D int8 kernels, 2x2x2 transposed
    /// convolutions through one 2D one per depth tap, max pooling per slice then over depth; the anisotropic
    /// Res-UNet planned for 3 x 1 x 1 voxels).
    func testEveryPresetRunsInt8FastEqualToReferenceBitForBit() throws {
        var seen: [ArchitectureConfig] = []
        for (k, preset) in ArchitecturePreset.all.enumerated() {
            // Presets that differ only in width and depth (unet-s and unet-m, unet3d-xs and unet3d-s) shrink to
            // the same small network: each runs once.
            var small = preset.config
            (small.baseWidth, small.depth, small.seed, small.maxWidth) = (4, min(small.depth, 3), 0, nil)
            if seen.contains(small) && !preset.followsSpacing { continue }
            seen.append(small)
            var model = try Self.smallModel(preset, seed: UInt64(k + 1))
            let m = model.inputMultiple, volume = preset.config.spatialRank == 3
            if preset.followsSpacing {
                var c = preset.config
                (c.baseWidth, c.depth, c.seed) = (4, 3, UInt64(k + 1))
                let plan = NetworkPlan(spacing: [3, 1, 1], depth: 3)
                (c.levelKernels, c.levelPools) = (plan.levelKernels, plan.levelPools)
                model = try Model(config: c)
            }
            let calibration = volume ? Self.volumes(3, depth: m, height: m, width: 2 * m, seed: UInt64(50 + k))
                                     : Self.images(3, height: 2 * m, width: 3 * m, seed: UInt64(50 + k))
            let (int8, report) = try Quantizer.quantize(model, calibration: calibration)
            XCTAssertEqual(int8.precision, "int8")
            XCTAssertGreaterThan(report.outputSQNR, 15, "\(preset.name): int8 logits SQNR \(report.outputSQNR) dB")
            var batch: Tensor
            if volume {
                let x = Self.volumes(1, depth: m, height: 2 * m, width: m, seed: UInt64(90 + k))[0]
                batch = Tensor(zeros: TensorShape(batch: 2, channels: 1, depth: m, height: 2 * m, width: m))
                batch.data = x.data + x.data.map { -$0 }
            } else {
                let x = TensorOps.padToMultiple(Self.images(1, height: 67, width: 45, seed: UInt64(90 + k))[0], m)
                batch = Tensor(zeros: TensorShape(batch: 2, channels: 1, height: x.shape.height, width: x.shape.width))
                batch.data = x.data + x.data.map { -$0 }
            }
            let reference = try Executor(model: int8, threads: 1, int8Reference: true).run(batch)
            if volume {
                // The 3D convolutions and the 2x2x2 max pools run int8 (float islands are only the ops that have no int8 kernel).
                let floats = Set(try Executor(model: int8, threads: 1).plan([batch.shape]).floatNodes)
                for node in int8.graph.nodes where floats.contains(node.name) {
                    XCTAssertFalse(["conv3d", "max_pool3d"].contains(node.op.kind), "\(preset.name): \(node.name) (\(node.op.kind)) ran in fp32")
                }
            }
            for threads in [1, 2] {
                let fast = try Executor(model: int8, threads: threads).run(batch)
                XCTAssertEqual(fast.count, reference.count)
                for (f, r) in zip(fast, reference) {
                    XCTAssertTrue(f.data == r.data, "\(preset.name), \(threads) thread(s): int8 fast and reference differ")
                }
            }
            // And int8 stays near fp32 (a loose bound: these are random 4-wide networks; trained models are
            // measured in BENCHMARKS.md).
            let fp32 = try Executor(model: model, threads: 1).run(batch)
            XCTAssertLessThan(normalizedError(reference[0], fp32[0]), 0.3, "\(preset.name): int8 far from fp32")
        }
    }

    func normalizedError(_ a: Tensor, _ b: Tensor) -> Double {
        var worst = 0.0, scale = 0.0
        for i in 0..<a.data.count {
            worst = max(worst, Double(abs(a.data[i] - b.data[i])))
            scale = max(scale, Double(abs(b.data[i])))
        }
        return worst / max(scale, 1e-12)
    }

    func testCalibrationMethodsGiveSensibleRanges() throws {
        var h = ActivationHistogram()
        var values = (0..<10_000).map { Float($0 % 1000) / 1000 }   // uniform on [0, 1)
        values[17] = 50                                              // one outlier
        h.observeRange(Array(values.prefix(5000)))
        h.fixRange()
        h.observe(values)
        let mm = CalibrationMethod.minmax.range(h)
        XCTAssertEqual(mm.high, 50)
        let p = CalibrationMethod.percentile(99.9).range(h)
        XCTAssertLessThan(p.high, 2, "the percentile must clip the outlier")
        XCTAssertGreaterThan(p.high, 0.9)
        let e = CalibrationMethod.entropy.range(h)
        XCTAssertLessThan(e.high, 50)
        XCTAssertGreaterThan(e.high, 0.5)
        XCTAssertEqual(mm.low, 0)
    }

    func testEmptyCalibrationSetAndWrongShapesAreClearErrors() throws {
        let model = try Self.smallModel(ArchitecturePreset.named("unet-xs"), seed: 3)
        XCTAssertThrowsError(try Quantizer.quantize(model, calibration: [])) { XCTAssertTrue("\($0)".contains("empty")) }
        let wrong = Self.images(1, channels: 3, height: 32, width: 32, seed: 1)
        XCTAssertThrowsError(try Quantizer.quantize(model, calibration: wrong)) { XCTAssertTrue("\($0)".contains("shape")) }
        var options = QuantizationOptions()
        options.keepFloat = ["no-such-layer"]
        XCTAssertThrowsError(try Quantizer.quantize(model, calibration: Self.images(1, height: 32, width: 32, seed: 1), options: options)) {
            XCTAssertTrue("\($0)".contains("no-such-layer"))
        }
    }

    func testCollapsedRangeGetsADefinedScaleAndAWarning() throws {
        let p = Q8TensorParameters(low: 0.3, high: 0.3)
        XCTAssertTrue(p.scale.isFinite && p.scale > 0)
        XCTAssertEqual(Q8Requantization.quantize(0.3, inverseScale: p.inverseScale, zeroPoint: p.zeroPoint), 255)
        let zero = Q8TensorParameters(low: 0, high: 0)
        XCTAssertTrue(zero.scale.isFinite && zero.scale > 0)
        // A model whose first convolution has zero weights: its activations are constant.
        var model = try Self.smallModel(ArchitecturePreset.named("unet-xs"), seed: 4)
        if case .conv2d(let a) = model.graph.nodes[1].op {
            model.graph.parameters[a.weight].data = .f32([Float](repeating: 0, count: model.graph.parameters[a.weight].elementCount))
        }
        let (int8, report) = try Quantizer.quantize(model, calibration: Self.images(2, height: 32, width: 32, seed: 2))
        XCTAssertFalse(report.warnings.isEmpty, "a constant activation must be reported")
        let out = try Executor(model: int8, threads: 1).run(Self.images(1, height: 32, width: 32, seed: 3)[0])
        XCTAssertTrue(out[0].data.allSatisfy { $0.isFinite })
    }

    func testMixedPrecisionKeepsNamedLayersInFloat() throws {
        let model = try Self.smallModel(ArchitecturePreset.named("unet-xs"), seed: 5)
        let graph = model.graph.optimizedForInference()
        let firstConv = graph.nodes.first { if case .conv2d = $0.op { return true }; return false }!.name
        var options = QuantizationOptions()
        options.keepFloat = [firstConv]
        let (int8, report) = try Quantizer.quantize(model, calibration: Self.images(2, height: 32, width: 32, seed: 6), options: options)
        XCTAssertEqual(report.layers.first { $0.name == firstConv }?.precision, "fp32")
        XCTAssertEqual(int8.metadata.strings(MetadataKey.quantKeptFloat), [firstConv])
        let x = Self.images(1, height: 32, width: 32, seed: 7)[0]
        XCTAssertTrue(try Executor(model: int8, threads: 2).run(x)[0].data == Executor(model: int8, threads: 1, int8Reference: true).run(x)[0].data)
    }

    func testInt8ModelFileRoundTripAndBadTables() throws {
        let model = try Self.smallModel(ArchitecturePreset.named("res-unet-s"), seed: 8)
        let (int8, _) = try Quantizer.quantize(model, calibration: Self.images(2, height: 32, width: 32, seed: 9))
        let bytes = ModelFileWriter.encode(int8)
        let decoded = try bytes.withUnsafeBytes { raw throws(ModelFileError) in try ModelFileReader.decode(raw) }
        XCTAssertTrue(decoded == int8)
        XCTAssertLessThan(Double(bytes.count), 0.4 * Double(ModelFileWriter.encode(model).count))
        var broken = int8
        broken.metadata[MetadataKey.quantScales] = .floats([1, 2])
        XCTAssertThrowsError(try Executor(model: broken)) { XCTAssertTrue("\($0)".contains("mismatched")) }
        broken = int8
        let n = int8.metadata.strings(MetadataKey.quantTensors)!.count
        broken.metadata[MetadataKey.quantScales] = .floats([Float](repeating: -1, count: n))
        XCTAssertThrowsError(try Executor(model: broken)) { XCTAssertTrue("\($0)".contains("invalid quantization")) }
    }
}
