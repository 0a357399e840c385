import ArgumentParser
import Foundation
import Engine
import ImageIO
import Train

struct CamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cam",
        abstract: "Explain a prediction: a CAM or Grad-CAM heatmap over the image.",
        discussion: HelpText.discussion("""
            CAM weights the activations that the 1x1 output convolution reads by its weights for the class.
            Grad-CAM uses any layer (segrun info --layers lists the names; default: the layer the output
            convolution reads) and weights its channels by the mean gradient of the target: one pixel
            (--pixel Y,X), a rectangle (--region Y,X,H,W) or the predicted mask (default). The model must be
            fp32 (explanations differentiate the float graph). Writes an RGB PNG: the heatmap blended over the
            image at the image's size.

            Examples:
              segrun cam runs/lesions/best.segrun lesions/images/lesion_00003.png --out cam.png
              segrun cam model.segrun scan.png --method gradcam --layer dec2.1.conv --target pixel --pixel 40,52 --out px.png
              segrun cam model.segrun scan.png --method cam --out cam.png --json
            """))

    @Argument(help: "fp32 model file.")
    var model: String

    @Argument(help: "Image (PNG or JPEG).")
    var image: String

    @Option(help: "Output PNG.")
    var out: String

    @Option(help: "cam or gradcam.")
    var method: String = "gradcam"

    @Option(help: "Grad-CAM layer name (default: the layer the output convolution reads).")
    var layer: String?

    @Option(help: "What to explain: mask (the predicted mask), pixel (--pixel) or region (--region).")
    var target: String = "mask"

    @Option(help: "Pixel for --target pixel, as Y,X in image coordinates.")
    var pixel: String?

    @Option(help: "Rectangle for --target region, as Y,X,H,W in image coordinates.")
    var region: String?

    @Option(help: "Class to explain (multi-class models; default 1, or 0 for binary models).")
    var classIndex: Int?

    @Option(help: "A ground-truth mask PNG: also report the mean heat inside it over the mean heat outside it.")
    var mask: String?

    @Flag(help: "Print one JSON object (the output path and the heat statistics).")
    var json = false

    func validate() throws {
        if !["cam", "gradcam"].contains(method) { throw ValidationError("--method takes cam or gradcam") }
        if !["mask", "pixel", "region"].contains(target) { throw ValidationError("--target takes mask, pixel or region") }
        if target == "pixel" && pixel == nil { throw ValidationError("--target pixel needs --pixel Y,X") }
        if target == "region" && region == nil { throw ValidationError("--target region needs --region Y,X,H,W") }
    }

    func numbers(_ text: String, _ count: Int, _ name: String) throws -> [Int] {
        let v = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if v.count != count { throw CLIError("--\(name) takes \(count) comma-separated integers, got '\(text)'") }
        return v
    }

    func run() throws {
        let model = try loadModelFile(self.model)
        if model.precision == "int8" { throw CLIError("\(self.model) is an int8 model: explanations need the fp32 model it came from") }
        try prepareOutputFile(out)
        let picture: Image
        do { picture = try ImageFile.read(image).converted(toChannels: model.inputChannels) } catch { throw CLIError("\(error)") }
        var x = Tensor(shape: TensorShape(batch: 1, channels: model.inputChannels, height: picture.height, width: picture.width), data: picture.planar)
        // The network's frame: the training size if the model has one, padded to its multiple.
        let frame = model.inputSize ?? (picture.height, picture.width)
        if frame.height != picture.height || frame.width != picture.width { x = TensorOps.resize(x, height: frame.height, width: frame.width) }
        let segmenter: Segmenter
        do { segmenter = try Segmenter(model, threads: 1) } catch { throw CLIError("\(error)") }
        let padded = TensorOps.padToMultiple(segmenter.normalize(x), model.inputMultiple)
        let sy = Double(frame.height) / Double(picture.height), sx = Double(frame.width) / Double(picture.width)
        let goal: ClassActivationMaps.Target
        switch target {
        case "pixel":
            let p = try numbers(pixel!, 2, "pixel")
            goal = .pixel(y: Int(Double(p[0]) * sy), x: Int(Double(p[1]) * sx))
        case "region":
            let r = try numbers(region!, 4, "region")
            goal = .region(y: Int(Double(r[0]) * sy), x: Int(Double(r[1]) * sx), height: max(1, Int(Double(r[2]) * sy)), width: max(1, Int(Double(r[3]) * sx)))
        default:
            goal = .mask
        }
        let classIndex = self.classIndex ?? (model.classes == 1 ? 0 : 1)
        if classIndex < 0 || classIndex >= model.classes { throw CLIError("--class-index must be below \(model.classes)") }
        var heat: [Float]
        do {
            heat = method == "cam"
                ? try ClassActivationMaps.cam(model.graph.optimizedForInference(), input: padded, classIndex: classIndex)
                : try ClassActivationMaps.gradCAM(model.graph, input: padded, layer: layer, target: goal, classIndex: classIndex,
                                                  threshold: model.threshold)
        } catch { throw CLIError("\(error)") }
        // Back to the image's frame: crop the padding, resize to the image.
        var t = Tensor(shape: TensorShape(batch: 1, channels: 1, height: padded.shape.height, width: padded.shape.width), data: heat)
        t = TensorOps.crop(t, height: frame.height, width: frame.width)
        if frame.height != picture.height || frame.width != picture.width { t = TensorOps.resize(t, height: picture.height, width: picture.width) }
        heat = t.data
        do {
            try ImageFile.writePNG(Overlay.heatmap(picture, heat: heat), width: picture.width, height: picture.height, channels: 3, to: out)
        } catch { throw CLIError("\(error)") }
        let mean = heat.reduce(0, +) / Float(max(1, heat.count))
        var ratio: Double? = nil
        if let mask {
            let truth: Image
            do { truth = try ImageFile.read(mask).converted(toChannels: 1) } catch { throw CLIError("\(error)") }
            if truth.width != picture.width || truth.height != picture.height { throw CLIError("\(mask): size differs from the image") }
            ratio = ClassActivationMaps.insideOutsideRatio(heat, mask: truth.samples.map { $0 > 0 ? 1 : 0 })
        }
        if json {
            print(String(format: "{\"out\": \"%@\", \"method\": \"%@\", \"mean_heat\": %.5f", out, method, mean)
                  + (ratio.map { String(format: ", \"inside_outside_ratio\": %.4f", $0) } ?? "") + "}")
        } else {
            print("wrote \(out): \(method == "cam" ? "CAM" : "Grad-CAM") of class \(classIndex) (\(target)), mean heat \(String(format: "%.3f", mean))"
                  + (ratio.map { String(format: "; heat inside the mask / outside: %.2f", $0) } ?? ""))
        }
    }
}
