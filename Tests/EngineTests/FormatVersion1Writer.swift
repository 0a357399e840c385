@testable import Engine
import Kernels

/// Format 1's writer (op codes, positional attributes), kept in the tests only: segrun writes format 2 and
/// reads both; the tests write format 1 files with it to check the reader keeps reading them.
enum FormatVersion1Writer {
    /// Format 1's op codes (kept for its writer in the tests).
    static func code(_ op: Op) -> OpCode {
        switch op {
        case .input: return .input
        case .conv2d: return .conv2d
        case .convTranspose2d: return .convTranspose2d
        case .maxPool2d: return .maxPool2d
        case .averagePool2d: return .averagePool2d
        case .adaptiveAveragePool2d: return .adaptiveAveragePool2d
        case .upsample: return .upsample
        case .concat: return .concat
        case .add: return .add
        case .mul: return .mul
        case .batchNorm: return .batchNorm
        case .activation: return .activation
        case .softmax: return .softmax
        default: preconditionFailure("format 1 has no op \(op.kind)")  // format 1 is frozen: later ops have no code
        }
    }

    static func encodeActivation(_ a: FusedActivation, _ w: inout ByteWriter) {
        switch a {
        case .none: w.u8(0); w.f32(0)
        case .relu: w.u8(1); w.f32(0)
        case .leakyRelu(let s): w.u8(2); w.f32(s)
        }
    }

    /// A node's graph-section bytes as format 1 wrote them (the tests write format 1 files with it).
    static func encodeVersion1(_ graph: Graph, into w: inout ByteWriter) {
        w.u32(UInt32(graph.nodes.count))
        for node in graph.nodes {
            w.string(node.name)
            w.u8(code(node.op).rawValue)
            w.u32(UInt32(node.inputs.count))
            for i in node.inputs { w.u32(UInt32(i)) }
            encodeAttributes(node.op, &w)
        }
        w.u32(UInt32(graph.outputs.count))
        for o in graph.outputs {
            w.string(o.name)
            w.u32(UInt32(o.node))
        }
    }

    static func encodeAttributes(_ op: Op, _ w: inout ByteWriter) {
        switch op {
        case .input(let a): w.i32(a.channels)
        case .conv2d(let a):
            for v in [a.outChannels, a.kernelHeight, a.kernelWidth, a.strideY, a.strideX, a.dilationY, a.dilationX,
                      a.padTop, a.padLeft, a.padBottom, a.padRight, a.groups, a.weight, a.bias ?? -1] { w.i32(v) }
            encodeActivation(a.activation, &w)
        case .convTranspose2d(let a):
            for v in [a.outChannels, a.window.kernel[0], a.window.stride[0], a.window.padBegin[0], a.outputPadding[0], a.weight, a.bias ?? -1] { w.i32(v) }
            encodeActivation(a.activation, &w)
        case .maxPool2d(let p):
            for v in [p.window.window.kernel[0], p.window.window.stride[0], p.window.window.padBegin[0]] { w.i32(v) }
        case .averagePool2d(let p):
            for v in [p.window.window.kernel[0], p.window.window.stride[0], p.window.window.padBegin[0]] { w.i32(v) }
        case .adaptiveAveragePool2d(let a): w.i32(a.bins)
        case .upsample(let a):
            switch a.mode {
            case .nearest: w.u8(0)
            case .bilinear(let alignCorners): w.u8(alignCorners ? 2 : 1)
            }
            w.i32(a.scale)
        case .concat, .mul, .softmax: break
        case .add(let a): encodeActivation(a.activation, &w)
        case .batchNorm(let a):
            for v in [a.gamma, a.beta, a.mean, a.variance] { w.i32(v) }
            w.f32(a.epsilon)
            encodeActivation(a.activation, &w)
        case .activation(let kind):
            switch kind {
            case .relu: w.u8(1); w.f32(0)
            case .leakyRelu(let s): w.u8(2); w.f32(s)
            case .sigmoid: w.u8(3); w.f32(0)
            }
        default: preconditionFailure("format 1 has no op \(op.kind)")
        }
    }
}
