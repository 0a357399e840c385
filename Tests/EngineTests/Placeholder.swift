import XCTest
final class EnginePlaceholderTests: XCTestCase { func testBuilds() {} }
