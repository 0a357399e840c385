import XCTest
@testable import Volumes

/// Surface distances against a Float64 brute-force reference (every surface voxel against every other) on
/// random anisotropic grids, and HD95 against values worked out by hand.
final class SurfaceDistanceTests: XCTestCase {
    func bruteForce(_ from: [Bool], _ to: [Bool], size: [Int], spacing: [Double]) -> [Double] {
        func coords(_ i: Int) -> [Double] {
            [Double(i % size[0]) * spacing[0], Double(i / size[0] % size[1]) * spacing[1], Double(i / (size[0] * size[1])) * spacing[2]]
        }
        let targets = to.indices.filter { to[$0] }.map(coords)
        return from.indices.filter { from[$0] }.map { i in
            let p = coords(i)
            return targets.map { t in ((p[0] - t[0]) * (p[0] - t[0]) + (p[1] - t[1]) * (p[1] - t[1]) + (p[2] - t[2]) * (p[2] - t[2])).squareRoot() }.min()!
        }
    }

    func testDistancesMatchBruteForceOnRandomAnisotropicGrids() {
        var state: UInt64 = 0x5D15
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for trial in 0..<12 {
            let size = [Int(next() % 9) + 3, Int(next() % 8) + 2, Int(next() % 6) + 1]
            let spacing = [0.5 + Double(next() % 10) / 7, 0.7 + Double(next() % 10) / 9, 1 + Double(next() % 10) / 3]
            let n = size.reduce(1, *)
            // Blobs: a random box each, plus noise, so the two sets overlap partly.
            func blob() -> [Bool] {
                let lo = (0..<3).map { Int(next() % UInt64(size[$0])) }, hi = (0..<3).map { lo[$0] + Int(next() % UInt64(size[$0] - lo[$0])) }
                return (0..<n).map { i in
                    let c = [i % size[0], i / size[0] % size[1], i / (size[0] * size[1])]
                    return (0..<3).allSatisfy { c[$0] >= lo[$0] && c[$0] <= hi[$0] } || next() % 13 == 0
                }
            }
            let a = blob(), b = blob()
            let result = SurfaceDistance.between(a, b, size: size, spacing: spacing)
            let sa = SurfaceDistance.surface(a, size: size), sb = SurfaceDistance.surface(b, size: size)
            let expectedAB = bruteForce(sa, sb, size: size, spacing: spacing), expectedBA = bruteForce(sb, sa, size: size, spacing: spacing)
            XCTAssertEqual(result.predictedToTruth.count, expectedAB.count, "trial \(trial)")
            for (got, want) in zip(result.predictedToTruth, expectedAB) { XCTAssertEqual(got, want, accuracy: 1e-9, "trial \(trial) \(size) \(spacing)") }
            for (got, want) in zip(result.truthToPredicted, expectedBA) { XCTAssertEqual(got, want, accuracy: 1e-9, "trial \(trial)") }
        }
    }

    /// Two single voxels 3 voxels apart along z at 2.5 mm: every distance is 7.5 mm, HD95 7.5, ASD 7.5, NSD 0 at
    /// 1 mm and 1 at 8 mm. One empty mask: HD95 and ASD undefined, NSD 0; both empty: NSD 1.
    func testHandComputedValues() {
        let size = [3, 3, 5], spacing = [0.8, 0.8, 2.5]
        var a = [Bool](repeating: false, count: 45), b = a
        a[(0 * 3 + 1) * 3 + 1] = true
        b[(3 * 3 + 1) * 3 + 1] = true
        let r = SurfaceDistance.between(a, b, size: size, spacing: spacing)
        XCTAssertEqual(r.hd95!, 7.5, accuracy: 1e-12)
        XCTAssertEqual(r.averageSurfaceDistance!, 7.5, accuracy: 1e-12)
        XCTAssertEqual(r.normalizedSurfaceDice(tolerance: 1), 0)
        XCTAssertEqual(r.normalizedSurfaceDice(tolerance: 8), 1)
        let empty = [Bool](repeating: false, count: 45)
        let one = SurfaceDistance.between(a, empty, size: size, spacing: spacing)
        XCTAssertNil(one.hd95)
        XCTAssertNil(one.averageSurfaceDistance)
        XCTAssertEqual(one.normalizedSurfaceDice(tolerance: 100), 0)
        XCTAssertEqual(SurfaceDistance.between(empty, empty, size: size, spacing: spacing).normalizedSurfaceDice(tolerance: 1), 1)
        // A 3x3x3 cube against the same cube shifted one voxel along x (0.8 mm): surface distances are 0 or 0.8.
        let cube = (0..<125).map { i in let c = [i % 5, i / 5 % 5, i / 25]; return c.allSatisfy { (1...3).contains($0) } }
        let shifted = (0..<125).map { i in let c = [i % 5, i / 5 % 5, i / 25]; return (2...4).contains(c[0]) && (1...3).contains(c[1]) && (1...3).contains(c[2]) }
        let s = SurfaceDistance.between(cube, shifted, size: [5, 5, 5], spacing: [0.8, 1, 1])
        XCTAssertEqual(s.hd95!, 0.8, accuracy: 1e-12)
    }
}
