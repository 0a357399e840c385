import Kernels

/// Format 2's self-describing nodes: each op by name, its attributes as named, typed values (the metadata
/// section's encoding). Spatial attributes are lists, one entry per spatial axis (H, W today), so a kernel of
/// 1x3x3 is a plain attribute. A reader skips attributes it does not know, and names an op it does not know.
enum NodeAttributes {
    /// Every op name the reader knows, in FORMAT.md's order.
    static let opNames = ["input", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "upsample",
                          "concat", "add", "mul", "batch_norm", "activation", "softmax"]

    /// The op's name in the file: `Op.kind`, except that every activation is one op, "activation", whose
    /// attribute `kind` says which.
    static func name(_ op: Op) -> String {
        if case .activation = op { return "activation" }
        return op.kind
    }

    static func encode(_ op: Op) -> Metadata {
        var a = Metadata()
        func ints(_ key: String, _ v: [Int]) { a[key] = .ints(v.map { Int64($0) }) }
        func int(_ key: String, _ v: Int) { a[key] = .int(Int64(v)) }
        func activation(_ f: FusedActivation) {
            switch f {
            case .none: return
            case .relu: a["activation"] = .string("relu")
            case .leakyRelu(let s): a["activation"] = .string("leaky_relu"); a["slope"] = .float(Double(s))
            }
        }
        switch op {
        case .input(let c): int("channels", c)
        case .conv2d(let c):
            int("out_channels", c.outChannels)
            ints("kernel", [c.kernelHeight, c.kernelWidth])
            ints("stride", [c.strideY, c.strideX])
            ints("dilation", [c.dilationY, c.dilationX])
            ints("pads", [c.padTop, c.padLeft, c.padBottom, c.padRight])
            int("groups", c.groups)
            int("weight", c.weight)
            if let b = c.bias { int("bias", b) }
            activation(c.activation)
        case .convTranspose2d(let c):
            int("out_channels", c.outChannels)
            ints("kernel", [c.kernel, c.kernel])
            ints("stride", [c.stride, c.stride])
            ints("padding", [c.padding, c.padding])
            ints("output_padding", [c.outputPadding, c.outputPadding])
            int("weight", c.weight)
            if let b = c.bias { int("bias", b) }
            activation(c.activation)
        case .maxPool2d(let p), .averagePool2d(let p):
            ints("kernel", [p.kernel, p.kernel])
            ints("stride", [p.stride, p.stride])
            ints("padding", [p.padding, p.padding])
        case .adaptiveAveragePool2d(let bins): int("bins", bins)
        case .upsample(let u):
            switch u.mode {
            case .nearest: a["mode"] = .string("nearest")
            case .bilinear(let alignCorners): a["mode"] = .string("bilinear"); int("align_corners", alignCorners ? 1 : 0)
            }
            int("scale", u.scale)
        case .concat, .mul, .softmax: break
        case .add(let f): activation(f)
        case .batchNorm(let b):
            int("gamma", b.gamma); int("beta", b.beta); int("mean", b.mean); int("variance", b.variance)
            a["epsilon"] = .float(Double(b.epsilon))
            activation(b.activation)
        case .activation(let kind):
            switch kind {
            case .relu: a["kind"] = .string("relu")
            case .leakyRelu(let s): a["kind"] = .string("leaky_relu"); a["slope"] = .float(Double(s))
            case .sigmoid: a["kind"] = .string("sigmoid")
            }
        }
        return a
    }

    /// The op named `name` with attributes `a` (unknown keys ignored); errors name the node and the key.
    static func decode(_ name: String, _ a: Metadata, node: String) throws(ModelFileError) -> Op {
        func fail(_ message: String) -> ModelFileError { .invalid(section: "graph", "node '\(node)' (\(name)): \(message)") }
        func int(_ key: String, default value: Int? = nil) throws(ModelFileError) -> Int {
            if case .int(let v)? = a[key], v >= Int64(Int32.min), v <= Int64(Int32.max) { return Int(v) }
            if a[key] == nil, let value { return value }
            throw fail(a[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not a 32-bit integer")
        }
        func ints(_ key: String, count: Int) throws(ModelFileError) -> [Int] {
            guard case .ints(let v)? = a[key] else { throw fail(a[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not an integer list") }
            guard v.count == count, v.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else {
                throw fail("attribute '\(key)' has \(v.count) entries; this segrun reads \(count) (2D)")
            }
            return v.map { Int($0) }
        }
        /// One value per axis, equal on both axes (the ops that store one number).
        func square(_ key: String) throws(ModelFileError) -> Int {
            let v = try ints(key, count: 2)
            guard v[0] == v[1] else { throw fail("attribute '\(key)' is \(v[0])x\(v[1]); this segrun reads square ones") }
            return v[0]
        }
        func float(_ key: String) throws(ModelFileError) -> Float {
            guard case .float(let v)? = a[key], v.isFinite else { throw fail(a[key] == nil ? "attribute '\(key)' is missing" : "attribute '\(key)' is not a finite number") }
            return Float(v)
        }
        func optionalIndex(_ key: String) throws(ModelFileError) -> Int? { a[key] == nil ? nil : try int(key) }
        func activation() throws(ModelFileError) -> FusedActivation {
            switch a.string("activation") {
            case nil: if a["activation"] == nil { return .none }
            case "relu": return .relu
            case "leaky_relu": return .leakyRelu(slope: try float("slope"))
            default: break
            }
            throw fail("unknown fused activation '\(a["activation"]!.description)'")
        }
        switch name {
        case "input": return .input(channels: try int("channels"))
        case "conv2d":
            let k = try ints("kernel", count: 2), s = try ints("stride", count: 2), d = try ints("dilation", count: 2)
            let p = try ints("pads", count: 4)
            var c = ConvAttributes(outChannels: try int("out_channels"), kernel: k[0], stride: s[0], dilation: d[0], padding: p[0],
                                   groups: try int("groups", default: 1), weight: try int("weight"), bias: try optionalIndex("bias"))
            c.kernelWidth = k[1]
            c.strideX = s[1]
            c.dilationX = d[1]
            c.padLeft = p[1]
            c.padBottom = p[2]
            c.padRight = p[3]
            c.activation = try activation()
            return .conv2d(c)
        case "conv_transpose2d":
            return .convTranspose2d(ConvTransposeAttributes(outChannels: try int("out_channels"), kernel: try square("kernel"),
                                                            stride: try square("stride"), padding: try square("padding"),
                                                            outputPadding: try square("output_padding"), weight: try int("weight"),
                                                            bias: try optionalIndex("bias"), activation: try activation()))
        case "max_pool2d", "avg_pool2d":
            let p = PoolAttributes(kernel: try square("kernel"), stride: try square("stride"), padding: try square("padding"))
            return name == "max_pool2d" ? .maxPool2d(p) : .averagePool2d(p)
        case "adaptive_avg_pool2d": return .adaptiveAveragePool2d(bins: try int("bins"))
        case "upsample":
            let mode: UpsampleMode
            switch a.string("mode") {
            case "nearest": mode = .nearest
            case "bilinear": mode = .bilinear(alignCorners: try int("align_corners", default: 0) != 0)
            default: throw fail("unknown upsampling mode '\(a["mode"]?.description ?? "missing")'")
            }
            return .upsample(UpsampleAttributes(mode: mode, scale: try int("scale")))
        case "concat": return .concat
        case "add": return .add(try activation())
        case "mul": return .mul
        case "softmax": return .softmax
        case "batch_norm":
            return .batchNorm(BatchNormAttributes(gamma: try int("gamma"), beta: try int("beta"), mean: try int("mean"),
                                                  variance: try int("variance"), epsilon: try float("epsilon"), activation: try activation()))
        case "activation":
            switch a.string("kind") {
            case "relu": return .activation(.relu)
            case "leaky_relu": return .activation(.leakyRelu(slope: try float("slope")))
            case "sigmoid": return .activation(.sigmoid)
            default: throw fail("unknown activation '\(a["kind"]?.description ?? "missing")'")
            }
        default:
            var known = ""
            for n in opNames { known += (known.isEmpty ? "" : ", ") + n }
            throw .invalid(section: "graph", "node '\(node)' has op '\(name)', which this segrun does not know (it reads \(known))")
        }
    }
}
