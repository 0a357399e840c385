import XCTest
@testable import Instances

final class ConnectedComponentsTests: XCTestCase {
    /// The plainest flood fill (a stack, every neighbour of the connectivity), the reference twin.
    func floodFill(_ mask: [UInt8], size: [Int], connectivity: Connectivity, minimumSize: Int) -> InstanceLabels {
        let (d, h, w) = size.count == 3 ? (size[0], size[1], size[2]) : (1, size[0], size[1])
        var labels = [Int32](repeating: 0, count: mask.count), seen = [Bool](repeating: false, count: mask.count)
        var count: Int32 = 0
        for start in 0..<mask.count where mask[start] != 0 && !seen[start] {
            var stack = [start], members: [Int] = []
            seen[start] = true
            while let i = stack.popLast() {
                members.append(i)
                let z = i / (h * w), y = (i / w) % h, x = i % w
                for dz in -1...1 { for dy in -1...1 { for dx in -1...1 {
                    let steps = abs(dz) + abs(dy) + abs(dx)
                    if steps == 0 || (connectivity == .face && steps > 1) { continue }
                    let zz = z + dz, yy = y + dy, xx = x + dx
                    if zz < 0 || zz >= d || yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                    let j = (zz * h + yy) * w + xx
                    if mask[j] != 0 && !seen[j] { seen[j] = true; stack.append(j) }
                } } }
            }
            if members.count >= minimumSize {
                count += 1
                for i in members { labels[i] = count }
            }
        }
        return InstanceLabels(labels: labels, count: Int(count), size: size)
    }

    /// Per class, only the largest 26-connected component stays; other classes keep theirs.
    func testKeepingTheLargestComponentPerClass() {
        // 2 x 3 x 4: class 1 has a 3-voxel part and a 1-voxel part; class 2 one 2-voxel part (kept whole).
        let labels: [UInt8] = [1, 1, 0, 2,
                               0, 0, 0, 2,
                               0, 0, 0, 1,
                               1, 0, 0, 0,
                               0, 0, 0, 0,
                               0, 0, 0, 0]
        let kept = ConnectedComponents.keepingLargest(labels, size: [2, 3, 4])
        XCTAssertEqual(kept, [1, 1, 0, 2,  0, 0, 0, 2,  0, 0, 0, 0,  1, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0])
    }

    func testDiagonalsJoinOnlyWithFullConnectivity() {
        let mask: [UInt8] = [1, 0, 0,
                             0, 1, 0,
                             0, 0, 1]
        XCTAssertEqual(ConnectedComponents.label(mask, size: [3, 3], connectivity: .face).count, 3)
        XCTAssertEqual(ConnectedComponents.label(mask, size: [3, 3], connectivity: .full).count, 1)
        // In 3D: two voxels touching at a corner only.
        var volume = [UInt8](repeating: 0, count: 8)
        volume[0] = 1
        volume[7] = 1
        XCTAssertEqual(ConnectedComponents.label(volume, size: [2, 2, 2], connectivity: .face).count, 2)
        XCTAssertEqual(ConnectedComponents.label(volume, size: [2, 2, 2], connectivity: .full).count, 1)
    }

    /// A U shape: its two arms meet only at the bottom row, after both got provisional labels (the union).
    func testMergesAndNumbersInRasterOrder() {
        let mask: [UInt8] = [1, 0, 1, 0, 1,
                             1, 0, 1, 0, 0,
                             1, 1, 1, 0, 1]
        let l = ConnectedComponents.label(mask, size: [3, 5], connectivity: .face)
        XCTAssertEqual(l.count, 3)
        XCTAssertEqual(l.labels, [1, 0, 1, 0, 2,
                                  1, 0, 1, 0, 0,
                                  1, 1, 1, 0, 3])
        let big = ConnectedComponents.label(mask, size: [3, 5], connectivity: .face, minimumSize: 2)
        XCTAssertEqual(big.count, 1)
        XCTAssertEqual(big.areas, [0, 7])
    }

    /// Random masks of odd sizes, 2D and 3D, both connectivities, with a minimum size: equal to the flood fill.
    func testRandomMasksMatchTheFloodFill() {
        var state: UInt64 = 0x1CE
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for trial in 0..<60 {
            let size = trial % 2 == 0 ? [Int(next() % 23) + 1, Int(next() % 31) + 1] : [Int(next() % 7) + 1, Int(next() % 9) + 1, Int(next() % 11) + 1]
            let n = size.reduce(1, *), density = 30 + Int(next() % 40)
            let mask = (0..<n).map { _ in UInt8(next() % 100 < UInt64(density) ? 1 : 0) }
            for connectivity in [Connectivity.face, .full] {
                let minimum = Int(next() % 4) + 1
                XCTAssertEqual(ConnectedComponents.label(mask, size: size, connectivity: connectivity, minimumSize: minimum),
                               floodFill(mask, size: size, connectivity: connectivity, minimumSize: minimum), "size \(size) \(connectivity)")
            }
        }
    }
}

final class InstanceScoresTests: XCTestCase {
    /// Labels on a 10 x 10 grid from rectangles (label, top, left, height, width).
    func labels(_ boxes: [(Int32, Int, Int, Int, Int)]) -> InstanceLabels {
        var l = [Int32](repeating: 0, count: 100)
        for (id, y, x, h, w) in boxes { for yy in y..<(y + h) { for xx in x..<(x + w) { l[yy * 10 + xx] = id } } }
        return InstanceLabels(labels: l, count: boxes.count, size: [10, 10])
    }

    /// Two true squares of 16 pixels. Predicted: one exact (IoU 1), one shifted by one column (overlap 12:
    /// IoU 12 / 20 = 0.6, Dice 24 / 32 = 0.75), and a false positive. At 0.5: TP 2, FP 1, FN 0, AP 2/3; at
    /// 0.75: TP 1, FP 2, FN 1, AP 1/4. Mean AP: 2/3 at 0.50 and 0.55 and 0.60 (IoU 0.6 >= 0.6), 1/4 at the
    /// seven others. Per-instance Dice (1 + 0.75) / 2.
    func testHandComputedImage() {
        let truth = labels([(1, 0, 0, 4, 4), (2, 5, 5, 4, 4)])
        let predicted = labels([(1, 0, 0, 4, 4), (2, 5, 6, 4, 4), (3, 0, 7, 2, 2)])
        var s = InstanceScores()
        s.add(predicted: predicted, truth: truth)
        XCTAssertEqual(s.averagePrecision(at: 0.5), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s.averagePrecision(at: 0.75), 1.0 / 4, accuracy: 1e-12)
        XCTAssertEqual(s.meanAveragePrecision, (3 * 2.0 / 3 + 7 * 0.25) / 10, accuracy: 1e-12)
        XCTAssertEqual(s.perInstanceDice, (1 + 0.75) / 2, accuracy: 1e-12)
    }

    /// Two touching truths predicted as one merged instance: it matches the larger overlap only (IoU 16/24 with
    /// the 4x4, 8/24 with the 4x2), the other truth is missed. At 0.5: TP 1, FN 1, AP 1/2; at 0.75: 0.
    /// An image with nothing in either counts 1; one with a prediction and no truth counts 0.
    func testMergedInstancesAndEmptyImages() {
        let truth = labels([(1, 0, 0, 4, 4), (2, 0, 4, 4, 2)])
        let merged = labels([(1, 0, 0, 4, 6)])
        var s = InstanceScores()
        s.add(predicted: merged, truth: truth)
        XCTAssertEqual(s.averagePrecision(at: 0.5), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.averagePrecision(at: 0.75), 0, accuracy: 1e-12)
        XCTAssertEqual(s.perInstanceDice, (2.0 * 16 / 40) / 2, accuracy: 1e-12)
        s.add(predicted: labels([]), truth: labels([]))
        XCTAssertEqual(s.averagePrecision(at: 0.5), (0.5 + 1) / 2, accuracy: 1e-12)
        s.add(predicted: labels([(1, 2, 2, 2, 2)]), truth: labels([]))
        XCTAssertEqual(s.averagePrecision(at: 0.5), (0.5 + 1 + 0) / 3, accuracy: 1e-12)
        XCTAssertEqual(s.images, 3)
    }
}

final class WatershedTests: XCTestCase {
    /// The distance transform against the plainest twin: the distance to every zero element, the minimum.
    func testDistanceTransformMatchesBruteForce() {
        var state: UInt64 = 0xD157
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for trial in 0..<40 {
            let size = trial % 2 == 0 ? [Int(next() % 17) + 1, Int(next() % 19) + 1] : [Int(next() % 5) + 1, Int(next() % 7) + 1, Int(next() % 9) + 1]
            let spacing = size.map { _ in 0.5 + Double(next() % 8) / 4 }
            let n = size.reduce(1, *)
            let mask = (0..<n).map { _ in UInt8(next() % 100 < 75 ? 1 : 0) }
            let got = DistanceTransform.euclidean(mask, size: size, spacing: spacing)
            let (d, h, w) = size.count == 3 ? (size[0], size[1], size[2]) : (1, size[0], size[1])
            func coordinates(_ i: Int) -> [Double] {
                let c = [Double(i / (h * w)), Double((i / w) % h), Double(i % w)]
                let s = size.count == 3 ? spacing : [1] + spacing
                return zip(c, s).map { $0 * $1 }
            }
            _ = d
            for i in 0..<n {
                var best = Double.infinity
                if mask[i] == 0 { best = 0 } else {
                    for j in 0..<n where mask[j] == 0 {
                        let a = coordinates(i), b = coordinates(j)
                        best = min(best, zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot())
                    }
                }
                if best.isInfinite { XCTAssertTrue(got[i].isInfinite, "size \(size)") } else {
                    XCTAssertEqual(got[i], best, accuracy: 1e-9, "size \(size) spacing \(spacing) element \(i)")
                }
            }
        }
    }

    func disc(_ cy: Double, _ cx: Double, _ r: Double, size: Int) -> [UInt8] {
        (0..<(size * size)).map { i in
            let y = Double(i / size) - cy, x = Double(i % size) - cx
            return y * y + x * x <= r * r ? 1 : 0
        }
    }

    /// Two discs of radius 9 whose centres are 14 apart touch over a wide neck: one component, two instances
    /// after the split, each close to its disc (IoU >= 0.85); a lone disc stays whole; a small object beside a
    /// large one keeps its own seed.
    func testTouchingDiscsAreSplitAndSingleObjectsKept() {
        let a = disc(20, 16, 9, size: 48), b = disc(20, 30, 9, size: 48)
        let both = zip(a, b).map { max($0, $1) }
        XCTAssertEqual(ConnectedComponents.label(both, size: [48, 48]).count, 1)
        let split = Watershed.split(both, size: [48, 48])
        XCTAssertEqual(split.count, 2)
        var scores = InstanceScores()
        let truth = InstanceLabels(labels: zip(a, b).map { $0 != 0 && $1 == 0 ? 1 : $1 != 0 && $0 == 0 ? 2 : ($0 != 0 ? 1 : 0) }, count: 2, size: [48, 48])
        scores.add(predicted: split, truth: truth)
        XCTAssertGreaterThanOrEqual(scores.averagePrecision(at: 0.75), 1 - 1e-12, "both discs matched at IoU 0.75")
        XCTAssertEqual(Watershed.split(disc(24, 24, 10, size: 48), size: [48, 48]).count, 1)
        let pair = zip(disc(20, 14, 10, size: 48), disc(20, 30, 3, size: 48)).map { max($0, $1) }
        XCTAssertEqual(Watershed.split(pair, size: [48, 48], minimumDistance: 10).count, 2, "the small disc has its own seed")
    }

    /// A boundary model's classes: two 6x6 squares side by side, each with a 1-pixel boundary ring around a 4x4
    /// interior, touching along a column. Components of the foreground see one object; the boundary split sees
    /// two, each exactly its square (the shared column splits by the seed that reaches it first: the seam
    /// pixels are equidistant, so they go to the square they belong to only if the flood is fair; here each
    /// square's ring is reached from its own interior first).
    func testBoundarySplitSeparatesTouchingObjects() {
        var classes = [UInt8](repeating: 0, count: 8 * 14)
        for (left, id) in [(1, 0), (7, 1)] {
            _ = id
            for y in 1..<7 { for x in left..<(left + 6) {
                let ring = y == 1 || y == 6 || x == left || x == left + 5
                classes[y * 14 + x] = ring ? 2 : 1
            } }
        }
        XCTAssertEqual(ConnectedComponents.label(classes, size: [8, 14]).count, 1)
        let split = InstanceSplit.boundary.instances(classes, size: [8, 14], connectivity: .face, minimumSize: 1)
        XCTAssertEqual(split.count, 2)
        XCTAssertEqual(split.areas, [0, 36, 36])
        for y in 1..<7 { for x in 1..<7 { XCTAssertEqual(split.labels[y * 14 + x], 1) } }
    }
    /// Two touching balls of radius 9 mm on an anisotropic grid (3 mm slices, 1 mm pixels), centres 14 mm apart:
    /// one 26-connected component, two instances after the 3D split with the spacing (each matched at IoU 0.75),
    /// and a lone ball stays whole; as `segrun predict --instances` does on a volume.
    func testTouchingBallsSplitInAnisotropicVolume() {
        let d = 12, h = 40, w = 44, spacing = [3.0, 1.0, 1.0]
        func ball(_ cz: Double, _ cy: Double, _ cx: Double, _ r: Double) -> [UInt8] {
            (0..<(d * h * w)).map { i in
                let z = (Double(i / (h * w)) - cz) * spacing[0], y = Double((i / w) % h) - cy, x = Double(i % w) - cx
                return z * z + y * y + x * x <= r * r ? 1 : 0
            }
        }
        let a = ball(5.5, 20, 15, 9), b = ball(5.5, 20, 29, 9)
        let both = zip(a, b).map { max($0, $1) }
        XCTAssertEqual(ConnectedComponents.label(both, size: [d, h, w]).count, 1)
        let split = InstanceSplit.distance(minimumDistance: 3).instances(both, size: [d, h, w], connectivity: .full, minimumSize: 1,
                                                                         spacing: spacing)
        XCTAssertEqual(split.count, 2)
        let truth = InstanceLabels(labels: zip(a, b).map { $0 != 0 && $1 == 0 ? 1 : $1 != 0 && $0 == 0 ? 2 : ($0 != 0 ? 1 : 0) },
                                   count: 2, size: [d, h, w])
        var scores = InstanceScores()
        scores.add(predicted: split, truth: truth)
        XCTAssertGreaterThanOrEqual(scores.averagePrecision(at: 0.75), 1 - 1e-12, "both balls matched at IoU 0.75")
        XCTAssertEqual(InstanceSplit.distance(minimumDistance: 3).instances(ball(5.5, 20, 22, 10), size: [d, h, w], connectivity: .full,
                                                                            minimumSize: 1, spacing: spacing).count, 1)
    }
}

final class UWMadisonScoreTests: XCTestCase {
    /// Hand-computed: 2 slices of 4 x 5, two labels. Label 0: the truth's one voxel at (0, 1, 1), the prediction's
    /// at (1, 1, 4): Dice 0 on both slices, Hausdorff sqrt(1 + 9) over the diagonal sqrt(4 + 16 + 25). Label 1: in
    /// neither (Dice 1 per slice, Hausdorff term 1).
    func testHandComputedCase() {
        var t = [[UInt8]](repeating: [UInt8](repeating: 0, count: 20), count: 2), p = t
        t[0][1 * 5 + 1] = 1
        p[1][1 * 5 + 4] = 1
        var s = UWMadisonScore(labels: 2)
        s.addCase(predicted: p, truth: t, height: 4, width: 5)
        let term0 = 1 - (10.0 / 45).squareRoot()
        XCTAssertEqual(s.dice(label: 0), 0, accuracy: 1e-12)
        XCTAssertEqual(s.dice(label: 1), 1, accuracy: 1e-12)
        XCTAssertEqual(s.hausdorffTerm(label: 0), term0, accuracy: 1e-12)
        XCTAssertEqual(s.hausdorffTerm(label: 1), 1, accuracy: 1e-12)
        XCTAssertEqual(s.score, 0.4 * 0.5 + 0.6 * (term0 + 1) / 2, accuracy: 1e-12)
    }

    /// Overlapping labels are scored each on its own: a pixel carrying both labels (bits 0b11) predicted with
    /// both is right for both; a label only one side has scores Hausdorff term 0 for that case.
    func testOverlapsAndOneSidedLabels() {
        var t = [[UInt8]](repeating: [UInt8](repeating: 0, count: 9), count: 1), p = t
        t[0][4] = 0b11
        p[0][4] = 0b11
        var s = UWMadisonScore(labels: 3)
        s.addCase(predicted: p, truth: t, height: 3, width: 3)
        XCTAssertEqual(s.dice(label: 0), 1, accuracy: 1e-12)
        XCTAssertEqual(s.dice(label: 1), 1, accuracy: 1e-12)
        XCTAssertEqual(s.score, 1, accuracy: 1e-12)
        p[0][0] = 0b100
        var one = UWMadisonScore(labels: 3)
        one.addCase(predicted: p, truth: t, height: 3, width: 3)
        XCTAssertEqual(one.hausdorffTerm(label: 2), 0, accuracy: 1e-12)
        XCTAssertEqual(one.dice(label: 2), 0, accuracy: 1e-12)
        XCTAssertEqual(one.score, 0.4 * (2.0 / 3) + 0.6 * (2.0 / 3), accuracy: 1e-12)
    }

    /// The Hausdorff distance from the distance transforms equals the brute-force maximum of minimum distances
    /// on random 3D masks of odd sizes.
    func testHausdorffMatchesBruteForce() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let size = [Int.random(in: 1...4, using: &rng), Int.random(in: 2...7, using: &rng), Int.random(in: 2...9, using: &rng)]
            let n = size.reduce(1, *)
            var a = (0..<n).map { _ in UInt8(Int.random(in: 0..<7, using: &rng) == 0 ? 1 : 0) }
            var b = (0..<n).map { _ in UInt8(Int.random(in: 0..<5, using: &rng) == 0 ? 1 : 0) }
            a[Int.random(in: 0..<n, using: &rng)] = 1
            b[Int.random(in: 0..<n, using: &rng)] = 1
            func point(_ i: Int) -> [Double] { [Double(i / (size[1] * size[2])), Double((i / size[2]) % size[1]), Double(i % size[2])] }
            func directed(_ x: [UInt8], _ y: [UInt8]) -> Double {
                var worst = 0.0
                for i in 0..<n where x[i] != 0 {
                    var best = Double.infinity
                    for j in 0..<n where y[j] != 0 {
                        let d = zip(point(i), point(j)).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
                        best = min(best, d)
                    }
                    worst = max(worst, best)
                }
                return worst
            }
            XCTAssertEqual(UWMadisonScore.hausdorff(a, b, size: size), max(directed(a, b), directed(b, a)), accuracy: 1e-9)
        }
    }
}
