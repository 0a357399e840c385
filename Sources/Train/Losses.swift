import Foundation
import Kernels
import Engine

/// What a loss compares the logits with: a binary mask (N x 1 x H x W, values 0 or 1) or class ids
/// (N x H x W, values below the number of classes).
public enum Target {
    case binary(Tensor)
    case classes([Int32], batch: Int, height: Int, width: Int)
}

/// Sums a vector of Float64 statistics over every process of a data-parallel run, in place, in rank order
/// (the same result on every rank). A loss given one evaluates the loss of the global batch: its means,
/// counts and batch Dice sums are over every process's images, so the gradients the processes then sum are
/// those of one process holding the whole batch.
public typealias ProcessSum = (inout [Double]) -> Void

/// The sum over processes of `values` (themselves without `sum`).
@inline(__always)
func summed(_ values: [Double], _ sum: ProcessSum?) -> [Double] {
    guard let sum else { return values }
    var v = values
    sum(&v)
    return v
}

/// How a soft Dice sums its terms.
///
/// The default, `batchForeground`, sums intersections and volumes over the whole batch, scores only the
/// foreground classes (nnU-Net's `batch_dice` and `do_bg=False`), and averages over the classes present in
/// the batch's truth. The per-image form with the
/// background (`perImage`, segrun's form before issue 24) gives an image that lacks a class the term
/// `1 - 1/(sum p + 1)`, which is lowest when that class is predicted nowhere: on small structures absent
/// from most images it taught the model to predict nothing (docs/TRAINING.md has the runs).
public struct DiceForm: Equatable, CustomStringConvertible {
    /// Sum over the batch (true) or score each image separately and average (false).
    public var batch: Bool
    /// Score the background class too (multi-class losses only; a binary loss scores its one channel).
    public var background: Bool
    /// Leave out of the mean a class that is absent from the truth of the summed images (multi-class only):
    /// its term `1 - 1/(sum p + 1)` only pulls its probabilities to zero, which the cross-entropy already
    /// does for its false positives.
    public var skipAbsent: Bool

    public init(batch: Bool, background: Bool, skipAbsent: Bool = false) {
        self.batch = batch
        self.background = background
        self.skipAbsent = skipAbsent
    }

    public static let batchForeground = DiceForm(batch: true, background: false, skipAbsent: true)
    public static let perImage = DiceForm(batch: false, background: true)

    public var description: String {
        (batch ? "batch" : "per image") + (background ? ", with background" : "") + (skipAbsent ? ", absent classes skipped" : "")
    }
}

/// The segmentation losses. Each returns the mean loss and its gradient with respect to the logits
/// (NCHW). All work from logits with log-sum-exp forms, so extreme logits give finite values, and
/// Dice-type losses add a smoothing term of 1, so empty masks give finite values and gradients.
public enum Loss: Equatable {
    /// Binary cross-entropy on logits, mean over pixels. `positiveWeight` scales the foreground term
    /// (BCE weighted by the foreground ratio uses `(1 - r) / r`; `foregroundWeighted` does this per batch).
    case bce(positiveWeight: Float)
    /// BCE with the positive weight set from the batch's foreground ratio r: `(1 - r) / r`.
    case foregroundWeightedBCE
    /// Soft Dice `1 - (2 sum(p t) + 1) / (sum p + sum t + 1)`, summed as `form` says; `squared` uses
    /// `sum p^2 + sum t^2` in the denominator (the V-Net form).
    case dice(squared: Bool, form: DiceForm = .batchForeground)
    /// `bceWeight * BCE + diceWeight * Dice` (the binary default: 1 / 1, batch Dice).
    case bceDice(bceWeight: Float, diceWeight: Float, form: DiceForm = .batchForeground)
    /// Multi-class cross-entropy over the softmax of the logits, mean over pixels.
    case crossEntropy
    /// Cross-entropy plus soft Dice (`ceWeight`, `diceWeight`; the multi-class default: 1 / 1, batch Dice
    /// over the foreground classes).
    case crossEntropyDice(ceWeight: Float, diceWeight: Float, form: DiceForm = .batchForeground)
    /// Binary focal loss (Lin et al.): `-alpha t (1-p)^gamma log p - (1-alpha)(1-t) p^gamma log(1-p)`.
    case focal(alpha: Float, gamma: Float)
    /// Tversky `1 - (TP + 1) / (TP + alpha FP + beta FN + 1)` on soft predictions, per image, averaged.
    case tversky(alpha: Float, beta: Float)

    /// The defaults (docs/TRAINING.md): BCE + batch soft Dice, and cross-entropy + batch soft Dice over the
    /// foreground classes, each 1:1.
    public static let defaultBinary = Loss.bceDice(bceWeight: 1, diceWeight: 1)
    public static let defaultMultiClass = Loss.crossEntropyDice(ceWeight: 1, diceWeight: 1)

    /// Whether the loss scores one sigmoid output per channel against 0/1 masks (binary and multi-label
    /// models), rather than a softmax over classes.
    public var isBinary: Bool {
        switch self {
        case .crossEntropy, .crossEntropyDice: return false
        case .bce, .foregroundWeightedBCE, .dice, .bceDice, .focal, .tversky: return true
        }
    }

    /// Why this loss cannot train a model of `classes` outputs (`multilabel`: independent sigmoids), or nil.
    public func problem(classes: Int, multilabel: Bool) -> String? {
        if isBinary && classes > 1 && !multilabel {
            return "\(self) scores sigmoid outputs against 0/1 masks; a \(classes)-class softmax model trains with ce or ce-dice (the default)"
        }
        if !isBinary && (classes == 1 || multilabel) {
            return "\(self) is a softmax cross-entropy over classes; a binary or multi-label model trains with bce, bce-dice (the default), wbce, dice, dice-squared, focal or tversky"
        }
        return nil
    }

    /// The default loss of a model with `classes` outputs (1: binary).
    public static func defaultLoss(classes: Int) -> Loss { classes == 1 ? defaultBinary : defaultMultiClass }

    /// The loss and its gradient with respect to `logits`. With `sum` (data-parallel training) they are the
    /// global batch's: every mean, count and batch sum is taken over all processes' images.
    public func evaluate(_ logits: Tensor, _ target: Target, across sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        switch self {
        case .bce(let w): return BinaryLosses.bce(logits, target.mask, positiveWeight: w, sum)
        case .foregroundWeightedBCE:
            let m = target.mask
            let counts = summed([Double(m.data.reduce(0, +)), Double(m.data.count)], sum)
            let r = max(1e-6, counts[0] / max(1, counts[1]))
            return BinaryLosses.bce(logits, m, positiveWeight: Float(min(1e4, (1 - r) / r)), sum)
        case .dice(let squared, let form): return BinaryLosses.dice(logits, target.mask, squared: squared, batch: form.batch, sum)
        case .bceDice(let wb, let wd, let form):
            let a = BinaryLosses.bce(logits, target.mask, positiveWeight: 1, sum)
            let b = BinaryLosses.dice(logits, target.mask, squared: false, batch: form.batch, sum)
            return Loss.combine(a, Double(wb), b, Double(wd))
        case .crossEntropy:
            return ClassLosses.crossEntropy(logits, ClassLosses.probabilities(logits), ClassLosses.labels(target), sum)
        case .crossEntropyDice(let wc, let wd, let form):
            let p = ClassLosses.probabilities(logits), ids = ClassLosses.labels(target)
            return Loss.combine(ClassLosses.crossEntropy(logits, p, ids, sum), Double(wc), ClassLosses.dice(logits, p, ids, form: form, sum), Double(wd))
        case .focal(let alpha, let gamma): return BinaryLosses.focal(logits, target.mask, alpha: alpha, gamma: gamma, sum)
        case .tversky(let alpha, let beta): return BinaryLosses.tversky(logits, target.mask, alpha: alpha, beta: beta, sum)
        }
    }

    static func combine(_ a: (loss: Double, gradient: Tensor), _ wa: Double, _ b: (loss: Double, gradient: Tensor), _ wb: Double)
        -> (loss: Double, gradient: Tensor) {
        var g = a.gradient
        for i in 0..<g.data.count { g.data[i] = Float(wa) * a.gradient.data[i] + Float(wb) * b.gradient.data[i] }
        return (wa * a.loss + wb * b.loss, g)
    }
}

extension Target {
    /// The binary mask (class ids are turned into foreground = id > 0).
    var mask: Tensor {
        switch self {
        case .binary(let t): return t
        case .classes(let ids, let n, let h, let w):
            return Tensor(shape: TensorShape(batch: n, channels: 1, height: h, width: w), data: ids.map { $0 > 0 ? 1 : 0 })
        }
    }
}

/// `log(1 + exp(x))` without overflow.
@inline(__always)
func softplus(_ x: Double) -> Double { x > 0 ? x + log1pExp(-x) : log1pExp(x) }

@inline(__always)
func log1pExp(_ x: Double) -> Double {
    // x <= 0 here: exp(x) in (0, 1].
    let e = LayerReference.exp64(x)
    return e < 1e-8 ? e : Foundation.log(1 + e)
}

enum BinaryLosses {
    static func sigmoid(_ x: Double) -> Double { LayerReference.sigmoid(x) }

    static func bce(_ logits: Tensor, _ t: Tensor, positiveWeight w: Float, _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        precondition(logits.shape == t.shape, "BCE needs logits and mask of the same shape: \(logits.shape) vs \(t.shape)")
        let n = summed([Double(logits.data.count)], sum)[0], pw = Double(w)
        var g = logits, loss = 0.0
        for i in 0..<logits.data.count {
            let x = Double(logits.data[i]), y = Double(t.data[i])
            // -(pw y log s(x) + (1 - y) log(1 - s(x))) = pw y softplus(-x) + (1 - y) softplus(x)
            loss += pw * y * softplus(-x) + (1 - y) * softplus(x)
            let s = sigmoid(x)
            g.data[i] = Float((s * (pw * y + 1 - y) - pw * y) / n)
        }
        return (summed([loss], sum)[0] / n, g)
    }

    /// `1 - (2 I + 1) / (P + T + 1)` per channel, with I, P and T summed over the whole batch (`batch`) or
    /// over each image (then averaged over images too).
    static func dice(_ logits: Tensor, _ t: Tensor, squared: Bool, batch: Bool, _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        let s = logits.shape, hw = s.height * s.width, channels = s.channels
        let p = logits.data.map { sigmoid(Double($0)) }
        var g = logits, loss = 0.0
        // Each group is a set of (image, channel) planes summed together.
        let groups: [[Int]] = batch ? (0..<channels).map { c in (0..<s.batch).map { n in n * channels + c } }
                                    : (0..<(s.batch * channels)).map { [$0] }
        var sums = [Double](repeating: 0, count: 3 * groups.count)
        for (k, planes) in groups.enumerated() {
            var inter = 0.0, sp = 0.0, st = 0.0
            for plane in planes {
                for j in (plane * hw)..<((plane + 1) * hw) {
                    let y = Double(t.data[j])
                    inter += p[j] * y
                    sp += squared ? p[j] * p[j] : p[j]
                    st += squared ? y * y : y
                }
            }
            sums[3 * k] = inter; sums[3 * k + 1] = sp; sums[3 * k + 2] = st
        }
        // Batch Dice sums over every process's images; per-image terms stay local, their count is global.
        if batch { sums = summed(sums, sum) }
        let terms = batch ? Double(groups.count) : summed([Double(groups.count)], sum)[0]
        for (k, planes) in groups.enumerated() {
            let inter = sums[3 * k], sp = sums[3 * k + 1], st = sums[3 * k + 2]
            let num = 2 * inter + 1, den = sp + st + 1
            loss += 1 - num / den
            for plane in planes {
                for j in (plane * hw)..<((plane + 1) * hw) {
                    let y = Double(t.data[j])
                    let dDen = squared ? 2 * p[j] : 1
                    let dLdp = -(2 * y * den - num * dDen) / (den * den)
                    g.data[j] = Float(dLdp * p[j] * (1 - p[j]) / terms)
                }
            }
        }
        // A batch term is the same on every process: counted once.
        return ((batch || sum == nil ? loss : summed([loss], sum)[0]) / terms, g)
    }

    static func focal(_ logits: Tensor, _ t: Tensor, alpha: Float, gamma: Float, _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        let n = summed([Double(logits.data.count)], sum)[0], a = Double(alpha), gm = Double(gamma)
        var g = logits, loss = 0.0
        for i in 0..<logits.data.count {
            let x = Double(logits.data[i]), y = Double(t.data[i])
            // For the true class q: p_t = s(+-x); loss = -a_t (1 - p_t)^gamma log p_t, with log p_t = -softplus(-z).
            let z = y > 0.5 ? x : -x, at = y > 0.5 ? a : 1 - a
            let pt = sigmoid(z), logpt = -softplus(-z)
            let mod = pow(1 - pt, gm)
            loss += -at * mod * logpt
            // d/dz [-(1-pt)^g log pt] = g (1-pt)^g pt log pt - (1-pt)^(g+1), with dpt/dz = pt (1 - pt)
            let dz = at * (gm * mod * pt * logpt - mod * (1 - pt))
            g.data[i] = Float((y > 0.5 ? dz : -dz) / n)
        }
        return (summed([loss], sum)[0] / n, g)
    }

    static func pow(_ x: Double, _ e: Double) -> Double {
        if e == 0 { return 1 }
        if x <= 0 { return 0 }
        if e == e.rounded() && e > 0 && e < 16 { var r = 1.0; for _ in 0..<Int(e) { r *= x }; return r }
        return LayerReference.exp64(e * Foundation.log(x))
    }

    static func tversky(_ logits: Tensor, _ t: Tensor, alpha: Float, beta: Float, _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        let s = logits.shape, hw = s.height * s.width, localGroups = s.batch * s.channels
        let groups = summed([Double(localGroups)], sum)[0]
        let a = Double(alpha), b = Double(beta)
        var g = logits, loss = 0.0
        for k in 0..<localGroups {
            let base = k * hw
            var tp = 0.0, fp = 0.0, fn = 0.0
            for j in 0..<hw {
                let p = sigmoid(Double(logits.data[base + j])), y = Double(t.data[base + j])
                tp += p * y; fp += p * (1 - y); fn += (1 - p) * y
            }
            let num = tp + 1, den = tp + a * fp + b * fn + 1
            loss += 1 - num / den
            for j in 0..<hw {
                let p = sigmoid(Double(logits.data[base + j])), y = Double(t.data[base + j])
                let dNum = y, dDen = y + a * (1 - y) - b * y
                let dLdp = -(dNum * den - num * dDen) / (den * den)
                g.data[base + j] = Float(dLdp * p * (1 - p) / groups)
            }
        }
        return (summed([loss], sum)[0] / groups, g)
    }
}

enum ClassLosses {
    /// The softmax over channels of every pixel, NCHW, in Float64.
    static func probabilities(_ logits: Tensor) -> [Double] {
        let s = logits.shape, hw = s.height * s.width, k = s.channels
        var p = [Double](repeating: 0, count: logits.data.count)
        for n in 0..<s.batch {
            let base = n * k * hw
            for j in 0..<hw {
                var m = -Double.infinity
                for c in 0..<k { m = max(m, Double(logits.data[base + c * hw + j])) }
                var sum = 0.0
                for c in 0..<k {
                    let e = Foundation.exp(Double(logits.data[base + c * hw + j]) - m)
                    p[base + c * hw + j] = e
                    sum += e
                }
                for c in 0..<k { p[base + c * hw + j] /= sum }
            }
        }
        return p
    }

    static func labels(_ target: Target) -> [Int32] {
        switch target {
        case .classes(let ids, _, _, _): return ids
        case .binary(let t): return t.data.map { $0 > 0.5 ? 1 : 0 }
        }
    }

    /// Mean over pixels of `-log p[label]`, from the probabilities `p` of `logits`.
    static func crossEntropy(_ logits: Tensor, _ p: [Double], _ ids: [Int32], _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        let s = logits.shape, hw = s.height * s.width, k = s.channels
        precondition(ids.count == s.batch * hw, "cross-entropy needs one class id per pixel")
        let count = summed([Double(s.batch * hw)], sum)[0]
        var g = logits, loss = 0.0
        for n in 0..<s.batch {
            let base = n * k * hw
            for j in 0..<hw {
                let label = Int(ids[n * hw + j])
                loss -= Foundation.log(max(p[base + label * hw + j], 1e-300))
                for c in 0..<k {
                    g.data[base + c * hw + j] = Float((p[base + c * hw + j] - (c == label ? 1 : 0)) / count)
                }
            }
        }
        return (summed([loss], sum)[0] / count, g)
    }

    /// Soft Dice over the softmax probabilities: `1 - (2 I + 1) / (P + T + 1)` per class, over the classes and
    /// sums `form` says (the whole batch or each image; foreground only or all classes), averaged.
    static func dice(_ logits: Tensor, _ p: [Double], _ ids: [Int32], form: DiceForm, _ sum: ProcessSum? = nil) -> (loss: Double, gradient: Tensor) {
        let s = logits.shape, hw = s.height * s.width, k = s.channels
        let scored = Array((form.background ? 0 : 1)..<k)
        let imageGroups: [[Int]] = form.batch ? [Array(0..<s.batch)] : (0..<s.batch).map { [$0] }
        // The (images, class) terms: every scored class, or with `skipAbsent` those in the images' truth (all of
        // them when none is, so the loss stays defined).
        var groups: [([Int], [Int])] = []
        for images in imageGroups {
            var classes = scored
            if form.skipAbsent {
                // One pass over the images' labels marks the classes their truth holds.
                var holds = [Bool](repeating: false, count: k)
                for n in images { for j in 0..<hw { let c = Int(ids[n * hw + j]); if c >= 0 && c < k { holds[c] = true } } }
                // A batch term's classes are those of every process's images.
                if form.batch, sum != nil { holds = summed(holds.map { $0 ? 1 : 0 }, sum).map { $0 > 0 } }
                let present = classes.filter { holds[$0] }
                if !present.isEmpty { classes = present }
            }
            groups.append((images, classes))
        }
        let localTerms = Double(groups.reduce(0) { $0 + $1.1.count })
        let terms = form.batch ? localTerms : summed([localTerms], sum)[0]
        // The intersection and volumes of every term; a batch term's summed over every process's images.
        var sums: [Double] = []
        for (images, classes) in groups {
            for c in classes {
                var inter = 0.0, sp = 0.0, st = 0.0
                for n in images {
                    let plane = (n * k + c) * hw
                    for j in 0..<hw {
                        let y = ids[n * hw + j] == c ? 1.0 : 0.0
                        inter += p[plane + j] * y
                        sp += p[plane + j]
                        st += y
                    }
                }
                sums += [inter, sp, st]
            }
        }
        if form.batch { sums = summed(sums, sum) }
        // dL/dp for every probability (0 for the classes not scored), then through the softmax.
        var dLdp = [Double](repeating: 0, count: p.count)
        var loss = 0.0
        var term = 0
        for (images, classes) in groups {
            for c in classes {
                let inter = sums[3 * term], sp = sums[3 * term + 1], st = sums[3 * term + 2]
                term += 1
                let num = 2 * inter + 1, den = sp + st + 1
                loss += 1 - num / den
                for n in images {
                    let plane = (n * k + c) * hw
                    for j in 0..<hw {
                        let y = ids[n * hw + j] == c ? 1.0 : 0.0
                        dLdp[plane + j] = -(2 * y * den - num) / (den * den) / terms
                    }
                }
            }
        }
        // Through the softmax: dL/dz_c = p_c (dL/dp_c - sum_j p_j dL/dp_j).
        var g = logits
        for n in 0..<s.batch {
            let base = n * k * hw
            for j in 0..<hw {
                var dot = 0.0
                for c in 0..<k { dot += p[base + c * hw + j] * dLdp[base + c * hw + j] }
                for c in 0..<k { g.data[base + c * hw + j] = Float(p[base + c * hw + j] * (dLdp[base + c * hw + j] - dot)) }
            }
        }
        return ((form.batch || sum == nil ? loss : summed([loss], sum)[0]) / terms, g)
    }
}
