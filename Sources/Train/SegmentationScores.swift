/// Overlap scores of a set of images, per foreground class, in forms that cannot hide a class the model
/// never finds.
///
/// - **Pooled Dice** (the headline): `2 sum |P n T| / sum (|P| + |T|)` over all images. A class that is
///   never predicted scores 0, however many images lack it.
/// - **Present Dice**: the mean of per-image Dice over the images where the class is in the truth or the
///   prediction (images where both are empty say nothing about the model and are left out).
/// - **Empty-as-one Dice** (secondary, the Medical Segmentation Decathlon's convention): the mean over all
///   images, an image where truth and prediction are both empty scoring 1. On small structures absent from
///   most images it rewards predicting nothing, so it is only reported, never used to choose a model.
///
/// Every mean over classes skips a class that is absent from both the truth and the predictions of the whole
/// set (nothing to score); such a class is listed in `absentClasses`.
public struct SegmentationScores: Equatable {
    public struct ClassScore: Equatable {
        public var pooled = Metrics.Overlap()
        /// Per-image Dice and IoU summed over the images where the class is in the truth or the prediction.
        public var presentDiceSum = 0.0
        public var presentIoUSum = 0.0
        public var presentImages = 0
        /// Images where the class is in neither.
        public var emptyImages = 0

        /// nil when the class is in no truth and no prediction of the set.
        public var pooledDice: Double? {
            pooled.predicted + pooled.truth == 0 ? nil : 2 * Double(pooled.intersection) / Double(pooled.predicted + pooled.truth)
        }
        public var pooledIoU: Double? {
            let union = pooled.predicted + pooled.truth - pooled.intersection
            return union == 0 ? nil : Double(pooled.intersection) / Double(union)
        }
        public var presentDice: Double? { presentImages == 0 ? nil : presentDiceSum / Double(presentImages) }
        public var presentIoU: Double? { presentImages == 0 ? nil : presentIoUSum / Double(presentImages) }
        public var emptyAsOneDice: Double? {
            let n = presentImages + emptyImages
            return n == 0 ? nil : (presentDiceSum + Double(emptyImages)) / Double(n)
        }
        /// In the truth somewhere, predicted nowhere.
        public var neverPredicted: Bool { pooled.truth > 0 && pooled.predicted == 0 }
    }

    /// The foreground class ids scored (1 for a binary model, else 1...K-1; for a multi-label model 1...C,
    /// id k being label k - 1, bit k - 1 of the label maps).
    public let classes: [UInt8]
    /// Label maps hold label bits (multi-label models: overlapping labels), not class ids.
    public let multilabel: Bool
    public private(set) var perClass: [ClassScore]
    public private(set) var images = 0

    /// Scores for a model with `modelClasses` outputs (1: binary), or `multilabel` with that many labels.
    public init(modelClasses: Int, multilabel: Bool = false) {
        precondition(!multilabel || modelClasses <= 8, "up to 8 labels")
        self.multilabel = multilabel
        classes = multilabel ? (1...max(1, modelClasses)).map { UInt8($0) } : Metrics.foregroundClasses(modelClasses)
        perClass = [ClassScore](repeating: ClassScore(), count: classes.count)
    }

    /// Adds one image: label maps of the same size (class ids; a binary model's foreground is 1; label bits for
    /// a multi-label model).
    public mutating func add(predicted: ArraySlice<UInt8>, truth: ArraySlice<UInt8>) {
        precondition(predicted.count == truth.count, "prediction and truth differ in size")
        if multilabel { return addBits(predicted: predicted, truth: truth) }
        var inter = [Int](repeating: 0, count: 256), pred = inter, tru = inter
        for (p, t) in zip(predicted, truth) {
            pred[Int(p)] &+= 1
            tru[Int(t)] &+= 1
            if p == t { inter[Int(p)] &+= 1 }
        }
        for (i, c) in classes.enumerated() {
            let o = Metrics.Overlap(intersection: inter[Int(c)], predicted: pred[Int(c)], truth: tru[Int(c)])
            record(o, class: i)
        }
        images += 1
    }

    /// One image's overlap of class index `i`.
    mutating func record(_ o: Metrics.Overlap, class i: Int) {
        perClass[i].pooled += o
        if o.predicted + o.truth == 0 {
            perClass[i].emptyImages += 1
        } else {
            perClass[i].presentImages += 1
            perClass[i].presentDiceSum += o.dice
            perClass[i].presentIoUSum += o.iou
        }
    }

    /// `add` for label bits: each label is scored as a binary mask of its own, overlaps and all.
    mutating func addBits(predicted: ArraySlice<UInt8>, truth: ArraySlice<UInt8>) {
        for (i, c) in classes.enumerated() {
            let bit = UInt8(1) << (c - 1)
            var o = Metrics.Overlap()
            for (p, t) in zip(predicted, truth) {
                let pb = p & bit != 0, tb = t & bit != 0
                if pb { o.predicted += 1 }
                if tb { o.truth += 1 }
                if pb && tb { o.intersection += 1 }
            }
            record(o, class: i)
        }
        images += 1
    }

    /// Adds another set's counts (for example, from another thread's share of the images).
    public mutating func merge(_ other: SegmentationScores) {
        precondition(classes == other.classes, "scores of different class sets")
        for i in perClass.indices {
            perClass[i].pooled += other.perClass[i].pooled
            perClass[i].presentDiceSum += other.perClass[i].presentDiceSum
            perClass[i].presentIoUSum += other.perClass[i].presentIoUSum
            perClass[i].presentImages += other.perClass[i].presentImages
            perClass[i].emptyImages += other.perClass[i].emptyImages
        }
        images += other.images
    }

    static func mean(_ values: [Double?]) -> Double {
        let defined = values.compactMap { $0 }
        return defined.isEmpty ? 0 : defined.reduce(0, +) / Double(defined.count)
    }

    /// The headline: pooled Dice, averaged over the classes present in the set's truth or predictions.
    public var pooledDice: Double { SegmentationScores.mean(perClass.map(\.pooledDice)) }
    public var pooledIoU: Double { SegmentationScores.mean(perClass.map(\.pooledIoU)) }
    public var presentDice: Double { SegmentationScores.mean(perClass.map(\.presentDice)) }
    public var presentIoU: Double { SegmentationScores.mean(perClass.map(\.presentIoU)) }
    public var emptyAsOneDice: Double { SegmentationScores.mean(perClass.map(\.emptyAsOneDice)) }
    /// Indices into `classes` of the classes in the truth that the model predicts nowhere.
    public var neverPredicted: [Int] { perClass.indices.filter { perClass[$0].neverPredicted } }
    /// Indices into `classes` of the classes in no truth and no prediction of the set.
    public var absentClasses: [Int] { perClass.indices.filter { perClass[$0].pooledDice == nil } }
}
