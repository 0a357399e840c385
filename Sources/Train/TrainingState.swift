import Foundation
import Engine

/// One epoch of the training log (`log.jsonl`). `validationDice` and `validationIoU` are pooled over the
/// validation images and averaged over the classes (`SegmentationScores`): the figures that choose
/// `best.segrun`. Per class: pooled Dice, and the mean Dice over the images where the class is present.
public struct EpochRecord: Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double
    public var validationDice: Double
    public var validationIoU: Double
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double
    /// Mean over classes of the per-image Dice where the class is in the truth or the prediction.
    public var validationPresentDice: Double = 0
    /// The empty-vs-empty-scores-1 mean (secondary; never used to choose a model).
    public var validationEmptyAsOneDice: Double = 0
    /// Per foreground class: pooled Dice (-1 when the class is in no validation truth or prediction).
    public var validationClassDice: [Double] = []
    /// Per foreground class: mean Dice over the images where it is present (-1 when it is nowhere).
    public var validationClassPresentDice: [Double] = []
    /// Names of the classes in the validation truth that the model predicted nowhere.
    public var neverPredicted: [String] = []

    public init(epoch: Int, trainLoss: Double, validationLoss: Double, validationDice: Double, validationIoU: Double,
                learningRate: Double, seconds: Double, imagesPerSecond: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationDice = validationDice
        self.validationIoU = validationIoU
        self.learningRate = learningRate
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try c.decode(Double.self, forKey: .trainLoss)
        validationLoss = try c.decode(Double.self, forKey: .validationLoss)
        validationDice = try c.decode(Double.self, forKey: .validationDice)
        validationIoU = try c.decode(Double.self, forKey: .validationIoU)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        seconds = try c.decode(Double.self, forKey: .seconds)
        imagesPerSecond = try c.decode(Double.self, forKey: .imagesPerSecond)
        // Logs written before issue 24 lack these.
        validationPresentDice = try c.decodeIfPresent(Double.self, forKey: .validationPresentDice) ?? 0
        validationEmptyAsOneDice = try c.decodeIfPresent(Double.self, forKey: .validationEmptyAsOneDice) ?? 0
        validationClassDice = try c.decodeIfPresent([Double].self, forKey: .validationClassDice) ?? []
        validationClassPresentDice = try c.decodeIfPresent([Double].self, forKey: .validationClassPresentDice) ?? []
        neverPredicted = try c.decodeIfPresent([String].self, forKey: .neverPredicted) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case epoch
        case trainLoss = "train_loss"
        case validationLoss = "val_loss"
        case validationDice = "val_dice"
        case validationIoU = "val_iou"
        case learningRate = "lr"
        case seconds
        case imagesPerSecond = "images_per_s"
        case validationPresentDice = "val_dice_present"
        case validationEmptyAsOneDice = "val_dice_empty_as_one"
        case validationClassDice = "val_class_dice"
        case validationClassPresentDice = "val_class_dice_present"
        case neverPredicted = "never_predicted"
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
