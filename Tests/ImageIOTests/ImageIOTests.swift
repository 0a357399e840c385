import XCTest
import Foundation
@testable import ImageIO

final class ImageIOTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/data/brain-mask").standardized.path
    var temporary: String!

    override func setUp() {
        temporary = NSTemporaryDirectory() + "segrun-imageio-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: temporary) }

    /// Output folders are made with their parents (`mkdir -p`), existing ones are kept, and a file in the way or a
    /// part that cannot be made is an error naming that part, not a crash or a silent success.
    func testMakeFoldersMakesParentsAndNamesWhatIsInTheWay() throws {
        let nested = temporary + "/a/b//c/"
        try BinaryFile.makeFolders(nested)
        var isFolder: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: temporary + "/a/b/c", isDirectory: &isFolder) && isFolder.boolValue)
        try BinaryFile.makeFolders(temporary + "/a/b")  // already there
        XCTAssertTrue(FileManager.default.createFile(atPath: temporary + "/a/file", contents: Data([1])))
        XCTAssertThrowsError(try BinaryFile.makeFolders(temporary + "/a/file/d")) { error in
            XCTAssertEqual((error as? ImageIOError)?.description, temporary + "/a/file: cannot write: a file, where a folder is needed")
        }
        XCTAssertThrowsError(try BinaryFile.makeFolders("/proc/segrun-no-such-process/d")) { error in
            XCTAssertEqual((error as? ImageIOError)?.description,
                           "/proc/segrun-no-such-process: cannot write: cannot make the folder (No such file or directory)")
        }
    }

    /// A valid CMYK JPEG (Adobe, inverted inks, as Photoshop and PIL write them) decodes to RGB: cyan on the
    /// left, red on the right, a black bar at the bottom (PIL's own conversion gives (55,255,255), (255,35,35),
    /// (0,0,0); 3/255 tolerance for JPEG rounding).
    func testCMYKJPEGDecodesToRGB() throws {
        let image = try ImageFile.read(fixtures + "/cmyk.jpg")
        XCTAssertEqual(image.channels, 3)
        XCTAssertEqual(image.width, 24)
        XCTAssertEqual(image.height, 16)
        func pixel(_ x: Int, _ y: Int) -> [Int] { (0..<3).map { Int((image.samples[(y * 24 + x) * 3 + $0] * 255).rounded()) } }
        for (got, want) in [(pixel(3, 2), [55, 255, 255]), (pixel(20, 2), [255, 35, 35]), (pixel(3, 14), [0, 0, 0])] {
            for c in 0..<3 { XCTAssertEqual(got[c], want[c], accuracy: 3, "\(got) vs \(want)") }
        }
        // Cut short, it is corrupt, not a colour problem.
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixtures + "/cmyk.jpg")))
        assertCorrupt(write(Array(bytes.prefix(bytes.count / 2)), "cut.jpg"))
    }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = temporary + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func assertCorrupt(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ImageFile.read(path), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path), "error names the file: \(text)", file: file, line: line)
            XCTAssertFalse(text.contains("\n"), file: file, line: line)
        }
    }

    /// File extensions and format keywords are case-folded on ASCII letters only; other characters are kept.
    func testASCIICaseFoldingKeepsOtherCharacters() {
        XCTAssertEqual("Scan_ÄÖ.NII.Gz".asciiLowercased, "scan_ÄÖ.nii.gz")
        XCTAssertEqual(Substring("lpi-été").asciiUppercased, "LPI-éTé")
        XCTAssertEqual("".asciiLowercased, "")
        XCTAssertEqual("[@`{".asciiLowercased, "[@`{")
    }

    func testReadsTheSharedDataSlices() throws {
        let path = shared + "/images/colin27_z080.png"
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("../shared/data not present") }
        let image = try ImageFile.read(path)
        XCTAssertEqual([image.width, image.height, image.channels, image.bitDepth], [181, 217, 1, 8])
        XCTAssertGreaterThan(image.samples.max()!, 0.5)
        let mask = try ImageFile.read(shared + "/masks/colin27_z080.png")
        XCTAssertEqual(Set(mask.samples), [0, 1])
    }

    func testPNGRoundTripsGreyAndRGB() throws {
        let grey: [UInt8] = (0..<(13 * 7)).map { UInt8($0 * 2 % 256) }
        try ImageFile.writePNG(grey, width: 13, height: 7, channels: 1, to: temporary + "/g.png")
        let g = try ImageFile.read(temporary + "/g.png")
        XCTAssertEqual(g.samples.map { UInt8(($0 * 255).rounded()) }, grey)
        let rgb: [UInt8] = (0..<(5 * 3 * 3)).map { UInt8($0 * 5 % 256) }
        try ImageFile.writePNG(rgb, width: 5, height: 3, channels: 3, to: temporary + "/c.png")
        let c = try ImageFile.read(temporary + "/c.png")
        XCTAssertEqual(c.channels, 3)
        XCTAssertEqual(c.samples.map { UInt8(($0 * 255).rounded()) }, rgb)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temporary + "/c.png.tmp-\(getpid())"))
    }

    func testReads16BitGreyAndDropsAlpha() throws {
        let values: [UInt16] = [0, 1, 256, 1000, 65535, 40000]
        var raw: [UInt8] = []
        values.withUnsafeBytes { raw = Array($0) }
        let sixteen = try PNGCodec.encodeRaw(raw, width: 3, height: 2, format: PNGCodec.flagLinear)
        let image = try ImageFile.read(write(sixteen, "16.png"))
        XCTAssertEqual(image.bitDepth, 16)
        XCTAssertEqual(image.samples.map { UInt16(($0 * 65535).rounded()) }, values)
        let rgba: [UInt8] = [10, 20, 30, 255, 40, 50, 60, 0]
        let png = try PNGCodec.encodeRaw(rgba, width: 2, height: 1, format: PNGCodec.flagColor | PNGCodec.flagAlpha)
        let rgb = try ImageFile.read(write(png, "rgba.png"))
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(rgb.samples.map { UInt8(($0 * 255).rounded()) }, [10, 20, 30, 40, 50, 60])
        let ga = try PNGCodec.encodeRaw([7, 255, 9, 128], width: 2, height: 1, format: PNGCodec.flagAlpha)
        XCTAssertEqual(try ImageFile.read(write(ga, "ga.png")).samples.map { UInt8(($0 * 255).rounded()) }, [7, 9])
    }

    func testReadsJPEG() throws {
        let grey = try ImageFile.read(fixtures + "/grey-61x47.jpg")
        XCTAssertEqual([grey.width, grey.height, grey.channels], [61, 47, 1])
        let rgb = try ImageFile.read(fixtures + "/rgb-61x47.jpg")
        XCTAssertEqual([rgb.width, rgb.height, rgb.channels], [61, 47, 3])
        XCTAssertGreaterThan(rgb.samples.max()! - rgb.samples.min()!, 0.5)
    }

    func testBrokenFilesGiveErrorsNotCrashes() throws {
        let png = try PNGCodec.encode((0..<(40 * 30)).map { UInt8($0 % 251) }, width: 40, height: 30, channels: 1)
        let jpeg = Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/rgb-61x47.jpg")))
        for (name, good) in [("png", png), ("jpg", jpeg)] {
            for cut in [good.count / 2, good.count - 20, 12, 4] {
                assertCorrupt(write(Array(good.prefix(cut)), "cut\(cut).\(name)"))
            }
            var flipped = good
            for i in stride(from: 40, to: good.count - 8, by: 7) { flipped[i] ^= 0x5A }
            assertCorrupt(write(flipped, "flipped.\(name)"))
        }
        assertCorrupt(write([], "empty.png"))
        assertCorrupt(write(Array("just some text, not an image".utf8), "text.png"))
        assertCorrupt(temporary + "/missing.png")
        assertCorrupt(temporary)
    }

    /// A decompression bomb: a small PNG or JPEG whose header claims more samples than `ImageLimits.maxValues`
    /// is refused from its header, with one line naming the file and the claimed size, before any pixel buffer
    /// is allocated (a 30000x30000 grey PNG would need 3.6 GB of floats).
    func testDecompressionBombsAreRefusedFromTheHeader() throws {
        var png = try PNGCodec.encode((0..<(40 * 30)).map { UInt8($0 % 251) }, width: 40, height: 30, channels: 1)
        func bigEndian(_ v: UInt32, at i: Int, in bytes: inout [UInt8]) { for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) } }
        bigEndian(30000, at: 16, in: &png)  // IHDR width and height (30000 passes the 32768-per-side check)
        bigEndian(30000, at: 20, in: &png)
        bigEndian(crc32(png[12..<29]), at: 29, in: &png)  // the chunk's CRC over its type and data, so libpng reads it
        var jpeg = Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/rgb-61x47.jpg")))
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        for offset in [5, 7] { jpeg[sof + offset] = 0xEA; jpeg[sof + offset + 1] = 0x60 }  // height and width 60000
        for (bytes, name, claim) in [(png, "bomb.png", "30000x30000x1"), (jpeg, "bomb.jpg", "60000x60000x3")] {
            let path = write(bytes, name)
            XCTAssertThrowsError(try ImageFile.read(path)) { error in
                XCTAssertEqual("\(error)", "\(path): unsupported image: the header claims \(claim) values, more than the limit of 536870912")
            }
        }
    }

    func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    func testOverlayDrawsOutlinesAndTints() {
        let image = Image(width: 4, height: 4, channels: 1, samples: [Float](repeating: 0.5, count: 16))
        var labels = [UInt8](repeating: 0, count: 16)
        for y in 0..<4 { for x in 0..<4 where x < 3 && y < 3 { labels[y * 4 + x] = 1 } }
        let outline = Overlay.render(image, labels: labels, style: .outline)
        let tint = Overlay.render(image, labels: labels, style: .tint)
        XCTAssertEqual(Array(outline[0..<3]), [255, 48, 48], "a region touching the image border is outlined there")
        XCTAssertEqual(Array(outline[(5 * 3)..<(5 * 3 + 3)]), [128, 128, 128], "interior untouched in outline mode")
        XCTAssertNotEqual(Array(tint[(5 * 3)..<(5 * 3 + 3)]), [128, 128, 128], "interior tinted")
        XCTAssertEqual(Array(outline[(15 * 3)..<(15 * 3 + 3)]), [128, 128, 128], "background untouched")
    }
}
