import XCTest
import Foundation
@testable import ImageIO

/// The NIfTI and NRRD readers and writers against values an independent reader gave for the same files
/// (nibabel and pynrrd, once, through Benchmarks/volumes/make_fixtures.py: Fixtures/volumes/expected.json).
final class VolumeTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/volumes").path
    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/data/nifti").standardized.path
    var temporary: String!

    override func setUp() {
        temporary = NSTemporaryDirectory() + "segrun-volume-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: temporary) }

    struct Expected: Decodable {
        let size: [Int]
        let channels: Int
        let spacing: [Double]
        let affine: [[Double]]
        let indices: [Int]
        let values: [Double]
        let sum: Double
    }

    func expected() throws -> [String: Expected] {
        try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: URL(fileURLWithPath: fixtures + "/expected.json")))
    }

    /// Every fixture: size, channels, spacing (1e-6), affine (1e-5 mm), sampled voxels and the sum (float32
    /// rounding: 1e-6 relative per voxel, 1e-5 for the sum).
    func testFixturesMatchAnIndependentReader() throws {
        let all = try expected()
        XCTAssertGreaterThanOrEqual(all.count, 20)
        for (name, e) in all.sorted(by: { $0.key < $1.key }) {
            let v = try VolumeFile.read(fixtures + "/" + name)
            XCTAssertEqual(v.size, e.size, name)
            XCTAssertEqual(v.channels, e.channels, name)
            for i in 0..<3 { XCTAssertEqual(v.spacing[i], e.spacing[i], accuracy: 1e-6, "\(name) spacing") }
            for r in 0..<4 { for c in 0..<4 { XCTAssertEqual(v.affine[r][c], e.affine[r][c], accuracy: 1e-5, "\(name) affine[\(r)][\(c)]") } }
            for (i, value) in zip(e.indices, e.values) {
                XCTAssertEqual(Double(v.voxels[i]), value, accuracy: 1e-6 * max(1, abs(value)), "\(name)[\(i)]")
            }
            let sum = v.voxels.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(sum, e.sum, accuracy: 1e-5 * max(1, abs(e.sum)), "\(name) sum")
        }
    }

    /// A write that stops before its commit leaves the target as it was and no temporary file behind.
    func testAnInterruptedWriteLeavesTheTargetUntouched() throws {
        let target = temporary + "/mask.nii.gz"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: target))
        do {
            let sink = try VolumeSink(path: target, gzip: true)
            try sink.append([UInt8](repeating: 7, count: 100_000))
        }  // dropped here, as a failing write would drop it
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target)), Data([1, 2, 3]))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporary), ["mask.nii.gz"])
    }

    /// Read slice by slice (`VolumeFile.open`), every fixture gives the bits of the whole read, channel by
    /// channel (4D NIfTI, NRRD vectors, a detached NRRD, a .hdr/.img pair, gzip and raw); `rewind` starts over.
    func testSliceBySliceReadingMatchesTheWholeRead() throws {
        for name in try expected().keys.sorted() {
            let whole = try VolumeFile.read(fixtures + "/" + name)
            let reader = try VolumeFile.open(fixtures + "/" + name)
            XCTAssertEqual(reader.grid.size, whole.size, name)
            XCTAssertEqual(reader.grid.affine, whole.affine, name)
            let n = whole.size[0] * whole.size[1]
            for pass in 0..<2 {
                for z in 0..<whole.size[2] {
                    let slice = try XCTUnwrap(try reader.nextSlice(), name)
                    for c in 0..<whole.channels {
                        let expected = Array(whole.voxels[(c * whole.voxelCount + z * n)..<(c * whole.voxelCount + (z + 1) * n)])
                        XCTAssertEqual(slice[(c * n)..<((c + 1) * n)].map(\.bitPattern), expected.map(\.bitPattern), "\(name) z\(z) c\(c) pass \(pass)")
                    }
                }
                XCTAssertNil(try reader.nextSlice(), name)
                try reader.rewind()
            }
        }
    }

    /// NaN and infinite voxels of float volumes (processing pipelines write NaN outside a mask) are read as 0,
    /// whole and slice by slice, in NIfTI and NRRD; the finite ones keep their bits.
    func testNonFiniteVoxelsAreReadAsZero() throws {
        for (fixture, name) in [("nii-float32-le-sform.nii", "nan.nii.gz"), ("nrrd-float32-gzip-big.nrrd", "nan.nrrd")] {
            let grid = try VolumeFile.read(fixtures + "/" + fixture).grid
            let count = grid.voxelCount * grid.channels
            var voxels = (0..<count).map { Float($0 % 97) * 0.37 - 11 }
            voxels[0] = .nan; voxels[3] = .infinity; voxels[count - 1] = -.infinity
            let expected = voxels.map { $0.isFinite ? $0 : 0 }
            let path = temporary + "/" + name
            try VolumeFile.write(.float32(voxels), like: grid, to: path)
            XCTAssertEqual(try VolumeFile.read(path).voxels.map(\.bitPattern), expected.map(\.bitPattern), name)
            let reader = try VolumeFile.open(path)
            var sliced: [Float] = []
            while let slice = try reader.nextSlice() { sliced += slice }
            XCTAssertEqual(sliced.map(\.bitPattern), expected.map(\.bitPattern), name)
        }
    }

    /// The real T1 MRI of ../shared/data/nifti against nibabel's figures for it.
    func testRealMRI() throws {
        let v = try NIfTI.read(shared + "/ch2.nii.gz")
        XCTAssertEqual(v.size, [181, 217, 181])
        XCTAssertEqual(v.affine, [[1, 0, 0, -90], [0, 1, 0, -125], [0, 0, 1, -71], [0, 0, 0, 1]])
        XCTAssertEqual(v.units, "")  // xyzt_units 0: the file does not say (nibabel: "unknown")
        XCTAssertEqual(v.voxels.reduce(0.0) { $0 + Double($1) }, 317_151_210)
        XCTAssertEqual(v.voxels[90 + 181 * (108 + 217 * 90)], 33)
        XCTAssertEqual(v.voxels[1_000_000], 61)
    }

    /// Voxel decoding of every type in both byte orders against the bytes assembled one by one (most significant
    /// first for big-endian files), at an odd offset into the buffer and an offset into the output.
    func testVoxelDecodingOfEveryTypeAndByteOrder() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0..<203).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let types: [VoxelType] = [.uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64, .float32, .float64]
        for type in types { for swap in [false, true] {
            let n = type.bytes, count = (bytes.count - 3) / n
            var out = [Float](repeating: -7, count: count + 2)
            bytes.withUnsafeBytes { type.decode($0, offset: 3, count: count, swap: swap, into: &out, at: 2) }
            XCTAssertEqual(out[0], -7)
            XCTAssertEqual(out[1], -7)
            for i in 0..<count {
                var v: UInt64 = 0
                let order = swap ? Array(0..<n) : Array((0..<n).reversed())
                for b in order { v = v << 8 | UInt64(bytes[3 + i * n + b]) }
                let expected: Float
                switch type {
                case .uint8: expected = Float(UInt8(truncatingIfNeeded: v))
                case .int8: expected = Float(Int8(truncatingIfNeeded: v))
                case .uint16: expected = Float(UInt16(truncatingIfNeeded: v))
                case .int16: expected = Float(Int16(truncatingIfNeeded: v))
                case .uint32: expected = Float(UInt32(truncatingIfNeeded: v))
                case .int32: expected = Float(Int32(truncatingIfNeeded: v))
                case .uint64: expected = Float(v)
                case .int64: expected = Float(Int64(bitPattern: v))
                case .float32: expected = Float(bitPattern: UInt32(truncatingIfNeeded: v))
                case .float64: expected = Float(Double(bitPattern: v))
                }
                XCTAssertEqual(out[2 + i].bitPattern, expected.bitPattern, "\(type) swap \(swap) value \(i)")
            }
        } }
    }

    /// A mask written for a volume carries its geometry: every header byte equal except the fields that
    /// describe the new voxels; the affine, byte order and values come back.
    func testNIfTIMaskKeepsTheGeometry() throws {
        for name in ["nii-int16-be-qform-scaled.nii", "nii2-float64-sform.nii", "nii-4d-2channels.nii.gz", "pair-uint16.hdr"] {
            let source = try NIfTI.read(fixtures + "/" + name)
            guard case .nifti(let h) = source.source else { return XCTFail(name) }
            let labels = (0..<source.voxelCount).map { UInt8($0 % 7) }
            for suffix in [".nii", ".nii.gz"] {
                let path = temporary + "/mask" + suffix
                try VolumeFile.write(.uint8(labels), like: source, to: path)
                let back = try NIfTI.read(path)
                XCTAssertEqual(back.size, source.size, name)
                XCTAssertEqual(back.channels, 1, name)
                XCTAssertEqual(back.affine, source.affine, name)
                XCTAssertEqual(back.voxels, labels.map(Float.init), name)
                guard case .nifti(let b) = back.source else { return XCTFail(name) }
                XCTAssertEqual(b.bigEndian, h.bigEndian, name)
                XCTAssertEqual(b.version, h.version, name)
                // Offsets of the fields a mask changes: dim, datatype, bitpix, vox_offset, scl_*, cal_*, magic.
                let changed: [Range<Int>] = h.version == 1
                    ? [40..<56, 70..<74, 108..<120, 124..<132, 344..<348]
                    : [4..<12, 12..<16, 16..<80, 168..<200]
                for i in 0..<h.bytes.count where !changed.contains(where: { $0.contains(i) }) {
                    XCTAssertEqual(b.bytes[i], h.bytes[i], "\(name): header byte \(i)")
                }
            }
            let probabilities = (0..<source.voxelCount).map { Float($0) / Float(source.voxelCount) }
            try VolumeFile.write(.float32(probabilities), like: source, to: temporary + "/p.nii.gz")
            XCTAssertEqual(try NIfTI.read(temporary + "/p.nii.gz").voxels, probabilities, name)
            let many = (0..<source.voxelCount).map { UInt16($0 * 7 % 300) }
            try VolumeFile.write(.uint16(many), like: source, to: temporary + "/l.nii")
            XCTAssertEqual(try NIfTI.read(temporary + "/l.nii").voxels, many.map(Float.init), name)
        }
    }

    func testNRRDMaskKeepsTheGeometry() throws {
        for name in ["nrrd-int16-raw-little.nrrd", "nrrd-float32-gzip-big.nrrd", "nrrd-detached.nhdr", "nrrd-vector-first.nrrd"] {
            let source = try NRRD.read(fixtures + "/" + name)
            let labels = (0..<source.voxelCount).map { UInt8($0 % 5) }
            let path = temporary + "/mask.nrrd"
            try VolumeFile.write(.uint8(labels), like: source, to: path)
            let back = try NRRD.read(path)
            XCTAssertEqual(back.size, source.size, name)
            XCTAssertEqual(back.channels, 1, name)
            for r in 0..<4 { for c in 0..<4 { XCTAssertEqual(back.affine[r][c], source.affine[r][c], accuracy: 1e-12, name) } }
            XCTAssertEqual(back.voxels, labels.map(Float.init), name)
            guard case .nrrd(let h) = back.source else { return XCTFail(name) }
            XCTAssertEqual(h["space"], { if case .nrrd(let s) = source.source { return s["space"] } else { return nil } }())
        }
        XCTAssertThrowsError(try VolumeFile.write(.uint8([0]), like: try NRRD.read(fixtures + "/nrrd-detached.nhdr"), to: temporary + "/m.nii"))
    }

    // MARK: bad input: one line naming the file and the field, never a crash

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = temporary + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func assertFails(_ path: String, containing words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try VolumeFile.read(path), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path), "names the file: \(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), file: file, line: line)
            for w in words { XCTAssertTrue(text.contains(w), "'\(w)' in: \(text)", file: file, line: line) }
        }
    }

    func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name))) }

    /// Patches a little-endian NIfTI-1 field.
    func patched(_ b: [UInt8], _ offset: Int, _ value: UInt64, _ count: Int) -> [UInt8] {
        var b = b
        for i in 0..<count { b[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return b
    }

    func testBadNIfTIGivesOneLineErrors() throws {
        let good = try bytes("nii-int16-le-sform.nii")
        assertFails(write(Array(good.prefix(good.count - 10)), "short.nii"), containing: ["corrupt", "need"])
        assertFails(write(Array(good.prefix(200)), "header.nii"), containing: ["corrupt"])
        assertFails(write([UInt8](repeating: 7, count: 400), "noise.nii"), containing: ["sizeof_hdr"])
        // Dimensions of 30000 each (NIfTI-1's are int16): refused at the header, before allocating.
        var bomb = good
        for axis in 1...3 { bomb = patched(bomb, 40 + 2 * axis, 30_000, 2) }
        let start = Date()
        assertFails(write(bomb, "bomb.nii"), containing: ["limit"])
        XCTAssertThrowsError(try NIfTI.read(write(good, "ok.nii"), limits: VolumeLimits(maxValues: 10))) { XCTAssertTrue("\($0)".contains("limit")) }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        assertFails(write(patched(good, 42, 0xFFFE, 2), "negative.nii"), containing: ["dim[1]"])
        assertFails(write(patched(good, 40, 9, 2), "dims.nii"), containing: ["dim[0]"])
        assertFails(write(patched(good, 80, UInt64(Float.nan.bitPattern), 4), "nan.nii"), containing: ["pixdim[1]"])
        assertFails(write(patched(good, 70, 999, 2), "type.nii"), containing: ["datatype", "999"])
        assertFails(write(patched(good, 72, 8, 2), "bitpix.nii"), containing: ["bitpix"])
        assertFails(write(patched(good, 108, UInt64(Float(100).bitPattern), 4), "offset.nii"), containing: ["vox_offset"])
        assertFails(fixtures + "/nii-rgb24.nii", containing: ["RGB24"])
        // A gzipped file cut short, and one with a damaged stream.
        let gz = try bytes("nii-float32-nocodes.nii.gz")
        assertFails(write(Array(gz.prefix(gz.count / 2)), "cut.nii.gz"), containing: ["corrupt"])
        var damaged = gz
        for i in 40..<60 { damaged[i] ^= 0x5A }
        assertFails(write(damaged, "damaged.nii.gz"), containing: ["corrupt"])
        assertFails(temporary + "/missing.nii", containing: ["cannot read"])
    }

    func testBadNRRDGivesOneLineErrors() throws {
        let good = try bytes("nrrd-int16-raw-little.nrrd")
        func variant(_ from: String, _ to: String, _ name: String) -> String {
            let changed = good.replacing(Array(from.utf8), with: Array(to.utf8))
            XCTAssertNotEqual(changed, good, "the fixture has '\(from)'")
            return write(changed, name)
        }
        assertFails(write(Array(good.prefix(good.count - 10)), "short.nrrd"), containing: ["corrupt", "need"])
        assertFails(variant("sizes: 5 4 3", "sizes: 100000 100000 100000", "bomb.nrrd"), containing: ["limit"])
        assertFails(variant("sizes: 5 4 3", "sizes: 5 -4 3", "negative.nrrd"), containing: ["sizes"])
        assertFails(variant("type: int16", "type: complex", "type.nrrd"), containing: ["type", "complex"])
        assertFails(variant("encoding: raw", "encoding: bzip2", "encoding.nrrd"), containing: ["encoding"])
        assertFails(variant("dimension: 3", "dimension: 9", "dimension.nrrd"), containing: ["dimension"])
        assertFails(variant("(0,0,2.5)", "(0,0,nan)", "nan.nrrd"), containing: ["space directions"])
        assertFails(write(Array("PNG not a nrrd".utf8), "noise.nrrd"), containing: ["magic"])
        let gz = try bytes("nrrd-float32-gzip-big.nrrd")
        assertFails(write(Array(gz.prefix(gz.count - 30)), "cut.nrrd"), containing: ["corrupt"])
    }

    /// Random corruption of every fixture: each read throws or returns a volume whose voxel count matches its
    /// size, never traps. (scripts/fuzz-volumes runs libFuzzer on the same entry points.)
    func testFuzzedVolumesNeverCrash() throws {
        var state: UInt64 = 0xF0221
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { $0.hasSuffix(".nii") || $0.hasSuffix(".nii.gz") || $0.hasSuffix(".nrrd") }
        var rejected = 0, accepted = 0
        for name in names {
            let good = try bytes(name)
            for _ in 0..<150 {
                var b = good
                for _ in 0..<Int(next() % 4 + 1) {
                    // Mostly the header, where the parsing is.
                    let span = next() % 3 == 0 ? b.count : min(b.count, 560)
                    b[Int(next() % UInt64(span))] = UInt8(truncatingIfNeeded: next())
                }
                if next() % 4 == 0 { b = Array(b.prefix(Int(next() % UInt64(b.count)) + 1)) }
                let limits = VolumeLimits(maxValues: 1 << 22)
                do {
                    let v = name.hasSuffix(".nrrd") ? try NRRD.decode(b, limits: limits) : try NIfTI.decode(b, limits: limits)
                    XCTAssertEqual(v.voxels.count, v.voxelCount * v.channels)
                    accepted += 1
                } catch {
                    XCTAssertFalse("\(error)".contains("\n"))
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(rejected, 300)
        XCTAssertGreaterThan(accepted, 100)
    }
}

extension Array where Element == UInt8 {
    /// The bytes with the first occurrence of `pattern` replaced.
    func replacing(_ pattern: [UInt8], with replacement: [UInt8]) -> [UInt8] {
        guard pattern.count <= count else { return self }
        for i in 0...(count - pattern.count) where Array(self[i..<(i + pattern.count)]) == pattern {
            return Array(self[..<i]) + replacement + Array(self[(i + pattern.count)...])
        }
        return self
    }
}
