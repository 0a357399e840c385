import Foundation
import Engine
import ImageIO

/// A picture of validation progress: one row per validation image, columns image, truth and prediction
/// (each drawn over the image with `Overlay`), written as a PNG in the run folder.
public enum ValidationGrid {
    static func write(_ trainer: Trainer, rows: Int = 4, to path: String) throws {
        guard let grid = try render(trainer, rows: rows) else { return }
        try ImageFile.writePNG(grid.rgb, width: grid.width, height: grid.height, channels: 3, to: path)
    }

    /// The grid as PNG bytes (nil without validation images): what TensorBoard shows each epoch.
    public static func png(_ trainer: Trainer, rows: Int = 4) throws -> (bytes: [UInt8], width: Int, height: Int)? {
        guard let grid = try render(trainer, rows: rows) else { return nil }
        return (try PNGCodec.encode(grid.rgb, width: grid.width, height: grid.height, channels: 3), grid.width, grid.height)
    }

    static func render(_ trainer: Trainer, rows: Int) throws -> (rgb: [UInt8], width: Int, height: Int)? {
        let data = trainer.data
        let picks = Array(trainer.validationIndices.prefix(rows))
        if picks.isEmpty { return nil }
        let h = data.height, w = data.width, hw = h * w, gap = 4
        let (x, _) = trainer.batch(picks, epoch: nil)
        let logits = try trainer.autograd.forward([x], training: false)
        let model = trainer.model
        let probabilities = TensorOps.probabilities(fromLogits: logits[logits.count - 1], multilabel: model.isMultilabel)
        let labels = TensorOps.labels(probabilities, of: model)
        let width = 3 * w + 2 * gap, height = picks.count * h + (picks.count - 1) * gap
        var canvas = [UInt8](repeating: 255, count: width * height * 3)
        for (row, index) in picks.enumerated() {
            let s = data.samples[index]
            var hwc = [Float](repeating: 0, count: hw * data.channels)
            for c in 0..<data.channels { for p in 0..<hw { hwc[p * data.channels + c] = s.image[c * hw + p] } }
            let image = Image(width: w, height: h, channels: data.channels, samples: hwc)
            let panels = [image.displayRGB, Overlay.render(image, labels: s.mask, style: .tint),
                          Overlay.render(image, labels: Array(labels[(row * hw)..<((row + 1) * hw)]), style: .tint)]
            for (column, panel) in panels.enumerated() {
                for y in 0..<h {
                    for xx in 0..<w {
                        let dst = ((row * (h + gap) + y) * width + column * (w + gap) + xx) * 3
                        for c in 0..<3 { canvas[dst + c] = panel[(y * w + xx) * 3 + c] }
                    }
                }
            }
        }
        return (canvas, width, height)
    }
}
