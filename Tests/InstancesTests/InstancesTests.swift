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
