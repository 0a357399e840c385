// The Embedded model runner of `scripts/arm-check`: loads a model file written by the x86 build,
// runs it with the Embedded Engine (pthreads), and compares its output with the x86 output.
//
//   model-runner MODEL INPUT.sgtn EXPECTED.sgtn
import Engine
import Kernels
import SegrunLibc

@_cdecl("main")
func main(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    if argc != 4 {
        print("usage: model-runner MODEL INPUT.sgtn EXPECTED.sgtn")
        return 2
    }
    let modelPath = String(cString: argv[1]!), inputPath = String(cString: argv[2]!), expectedPath = String(cString: argv[3]!)
    do throws(ModelFileError) {
        let model = try FileIO.readModel(modelPath)
        let input = try TensorFile.read(inputPath)
        let expected = try TensorFile.read(expectedPath)
        var outputs: [Tensor] = []
        do throws(GraphError) {
            let executor = try Executor(model: model, threads: 2, policy: .forced(.igemm))
            outputs = try executor.run(input)
            // Bitwise identical with one thread.
            let single = try Executor(model: model, threads: 1, policy: .forced(.igemm)).run(input)
            if single[0].data != outputs[0].data {
                print("FAIL  1 and 2 threads differ")
                return 1
            }
        } catch {
            print("FAIL  \(error.description)")
            return 1
        }
        let got = outputs[0]
        if got.shape != expected.shape {
            print("FAIL  output shape \(got.shape.description), expected \(expected.shape.description)")
            return 1
        }
        var worst: Float = 0, scale: Float = 0
        for i in 0..<got.data.count {
            let d = got.data[i] - expected.data[i]
            worst = max(worst, d < 0 ? -d : d)
            scale = max(scale, expected.data[i] < 0 ? -expected.data[i] : expected.data[i])
        }
        // Normalized max error in units of 1e-9, printed as an integer (no float formatting in Embedded).
        let nano = Int(worst / max(scale, 1e-30) * 1e9)
        // fp32: tolerance 1e-4, as the x86 executor against the Float64 reference. int8: integer
        // arithmetic and one IEEE float formula per requantization, so the outputs must be equal bit for bit.
        let int8 = model.precision == "int8"
        let tolerance = int8 ? 0 : 100_000
        let ok = nano <= tolerance
        print((ok ? "ok    " : "FAIL  ") + "model \(modelPath) (\(model.precision)): \(got.shape.description), \(model.graph.nodes.count) nodes, "
              + "max error vs x86 = \(nano)e-9 of the output scale (tolerance \(tolerance)e-9)")
        return ok ? 0 : 1
    } catch {
        print("FAIL  \(error.description)")
        return 1
    }
}
