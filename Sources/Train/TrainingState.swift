import Foundation
import Engine

/// One epoch of the training log (`log.jsonl`).
public struct EpochRecord: Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    public var validationDice: Double
    public var validationIoU: Double
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    enum CodingKeys: String, CodingKey {
        case epoch
        case trainLoss = "train_loss"
        case validationLoss = "val_loss"
        case validationDice = "val_dice"
        case validationIoU = "val_iou"
        case learningRate = "lr"
        case seconds
        case imagesPerSecond = "images_per_s"
    }
}

/// Everything besides the model that a resumed run needs to continue as if never interrupted:
/// the optimizer's moments and step, the epoch, the best score and the log. Stored as `state.bin`:
/// "SEGRUNST", a JSON header length (u32) and header, the moment arrays as little-endian f32, and a CRC-32.
public struct TrainingState: Codable {
    public var epochsDone: Int
    public var optimizerStep: Int
    public var bestDice: Double
    public var epochsWithoutImprovement: Int
    public var records: [EpochRecord]
    public var momentCounts: [Int]

    static let magic = Array("SEGRUNST".utf8)

    public func encode(first: [[Float]], second: [[Float]]) throws -> [UInt8] {
        var bytes = TrainingState.magic
        let header = try JSONEncoder().encode(self)
        withUnsafeBytes(of: UInt32(header.count).littleEndian) { bytes += $0 }
        bytes += header
        for array in first + second { for v in array { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } } }
        let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes += $0 }
        return bytes
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> (TrainingState, [[Float]], [[Float]]) {
        func bad(_ why: String) -> DatasetError { .invalid("\(path): \(why)") }
        guard bytes.count >= 16, Array(bytes[0..<8]) == magic else { throw bad("not a segrun training state") }
        let stored = bytes.suffix(4).enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
        let crc = bytes.dropLast(4).withUnsafeBytes { CRC32.checksum($0) }
        guard crc == stored else { throw bad("checksum mismatch (corrupt file)") }
        let length = Int(bytes[8..<12].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
        guard 12 + length <= bytes.count - 4 else { throw bad("truncated header") }
        let state = try JSONDecoder().decode(TrainingState.self, from: Data(bytes[12..<(12 + length)]))
        var position = 12 + length
        func read(_ count: Int) throws -> [Float] {
            guard position + 4 * count <= bytes.count - 4 else { throw bad("truncated optimizer state") }
            var out = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let p = position + 4 * i
                out[i] = Float(bitPattern: UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24)
            }
            position += 4 * count
            return out
        }
        var first: [[Float]] = [], second: [[Float]] = []
        for c in state.momentCounts { first.append(try read(c)) }
        for c in state.momentCounts { second.append(try read(c)) }
        return (state, first, second)
    }
}
