import Engine

/// The mapping of each supported ONNX operator onto segrun's operators (docs/ONNX.md lists them with their
/// limits). An attribute value segrun cannot honour exactly is refused with the reason, never approximated.
extension ONNXImporter {
    mutating func importNode(_ node: ONNXNode) throws(ONNXError) {
        guard let output = node.outputs.first, !output.isEmpty else {
            throw .unsupported(node: node.label, opType: node.opType, reason: "has no output")
        }
        for extra in node.outputs.dropFirst() where !extra.isEmpty && consumers[extra, default: 0] > 0 {
            throw .unsupported(node: node.label, opType: node.opType, reason: "its output '\(extra)' is used, which segrun does not compute")
        }
        if node.opType == "Identity" || node.opType == "Dropout" {
            values[output] = values[node.inputs[0]]
            return
        }
        if Self.foldableOps.contains(node.opType), let c = try fold(node) {
            values[output] = .constant(c)
            return
        }
        values[output] = try network(node)
    }

    private func fail(_ node: ONNXNode, _ reason: String) -> ONNXError {
        .unsupported(node: node.label, opType: node.opType, reason: reason)
    }

    /// The segrun node behind operand `i`, which must be an image tensor.
    private func tensor(_ node: ONNXNode, _ i: Int) throws(ONNXError) -> Int {
        guard i < node.inputs.count, case .node(let index)? = values[node.inputs[i]] else {
            throw fail(node, "operand \(i) ('\(i < node.inputs.count ? node.inputs[i] : "missing")') must be a tensor computed from the input")
        }
        return index
    }

    private func required(_ node: ONNXNode, _ i: Int, _ what: String) throws(ONNXError) -> ConstantTensor {
        guard i < node.inputs.count, !node.inputs[i].isEmpty, let c = constant(node.inputs[i]) else {
            throw fail(node, "its \(what) must be a constant (an initializer)")
        }
        return c
    }

    private func optionalConstant(_ node: ONNXNode, _ i: Int) -> ConstantTensor? {
        guard i < node.inputs.count, !node.inputs[i].isEmpty else { return nil }
        return constant(node.inputs[i])
    }

    private func ints(_ node: ONNXNode, _ name: String) -> [Int]? { node.attribute(name).map { $0.ints.map(Int.init) } }

    private mutating func network(_ node: ONNXNode) throws(ONNXError) -> Value {
        let name = node.label, out = node.outputs[0]
        switch node.opType {
        case "Conv": return .node(try conv(node))
        case "ConvTranspose": return .node(try convTranspose(node))
        case "BatchNormalization":
            let x = try tensor(node, 0)
            if node.attribute("training_mode")?.int == 1 { throw fail(node, "training_mode=1 (export the model in eval mode)") }
            let c = shapes[x].channels
            var p: [Int] = []
            for (i, what) in ["scale", "B", "mean", "var"].enumerated() {
                let t = try required(node, i + 1, what)
                guard t.count == c else { throw fail(node, "\(what) has \(t.count) values for \(c) channels") }
                p.append(addParameter("\(name).\(what)", shape: [c], t.floats))
            }
            let epsilon = node.attribute("epsilon")?.float ?? 1e-5
            return .node(try emit(name: name, op: .batchNorm(BatchNormAttributes(gamma: p[0], beta: p[1], mean: p[2], variance: p[3], epsilon: epsilon)), inputs: [x], produces: out))
        case "InstanceNormalization":
            let epsilon = node.attribute("epsilon")?.float ?? 1e-5
            let scale = try required(node, 1, "scale"), bias = try required(node, 2, "B")
            if case .grouped(let x, let groups)? = values[node.inputs[0]] {
                guard scale.values.allSatisfy({ $0 == 1 }), bias.values.allSatisfy({ $0 == 0 }) else {
                    throw fail(node, "a group normalization with per-group scale or bias is not a GroupNorm")
                }
                return .groupNormalized(node: x, groups: groups, epsilon: epsilon)
            }
            let x = try tensor(node, 0)
            let c = shapes[x].channels
            guard scale.count == c, bias.count == c else { throw fail(node, "scale and B need \(c) values") }
            let gamma = addParameter("\(name).scale", shape: [c], scale.floats), beta = addParameter("\(name).B", shape: [c], bias.floats)
            return .node(try emit(name: name, op: .groupNorm(GroupNorm(groups: c, gamma: gamma, beta: beta, epsilon: epsilon)), inputs: [x], produces: out))
        case "GroupNormalization":
            let x = try tensor(node, 0)
            let c = shapes[x].channels
            guard let groups = node.attribute("num_groups")?.int.map(Int.init), groups > 0, c % groups == 0 else {
                throw fail(node, "num_groups must divide the \(c) channels")
            }
            let epsilon = node.attribute("epsilon")?.float ?? 1e-5
            var scale = try required(node, 1, "scale").floats, bias = try required(node, 2, "bias").floats
            if scale.count == groups && groups != c {
                // Opset 18 gives one scale and bias per group; opset 21 one per channel.
                scale = (0..<c).map { scale[$0 / (c / groups)] }
                bias = (0..<c).map { bias[$0 / (c / groups)] }
            }
            guard scale.count == c, bias.count == c else { throw fail(node, "scale and bias need \(c) or \(groups) values") }
            let gamma = addParameter("\(name).scale", shape: [c], scale), beta = addParameter("\(name).bias", shape: [c], bias)
            return .node(try emit(name: name, op: .groupNorm(GroupNorm(groups: groups, gamma: gamma, beta: beta, epsilon: epsilon)), inputs: [x], produces: out))
        case "Relu":
            return .node(try emit(name: name, op: .activation(.relu), inputs: [try tensor(node, 0)], produces: out))
        case "LeakyRelu":
            let slope = node.attribute("alpha")?.float ?? 0.01
            return .node(try emit(name: name, op: .activation(.leakyRelu(slope: slope)), inputs: [try tensor(node, 0)], produces: out))
        case "Sigmoid":
            return .node(try emit(name: name, op: .activation(.sigmoid), inputs: [try tensor(node, 0)], produces: out))
        case "PRelu":
            let x = try tensor(node, 0)
            let slope = try required(node, 1, "slope")
            let c = shapes[x].channels
            guard let v = slope.perChannel(rank: shapeDims(x).count, channels: c) ?? (slope.count == c ? slope.floats : nil) else {
                throw fail(node, "slope of shape \(slope.dims) is not one value or one per channel")
            }
            let p = addParameter("\(name).slope", shape: [v.count], v)
            return .node(try emit(name: name, op: .prelu(PReLU(slope: p)), inputs: [x], produces: out))
        case "Clip":
            let x = try tensor(node, 0)
            var low = -Float.greatestFiniteMagnitude, high = Float.greatestFiniteMagnitude
            if opset >= 11 {
                if node.inputs.count > 1 && !node.inputs[1].isEmpty { low = try required(node, 1, "min").floats.first ?? low }
                if node.inputs.count > 2 && !node.inputs[2].isEmpty { high = try required(node, 2, "max").floats.first ?? high }
            } else {
                low = node.attribute("min")?.float ?? low
                high = node.attribute("max")?.float ?? high
            }
            if low == 0 && high == .greatestFiniteMagnitude {
                return .node(try emit(name: name, op: .activation(.relu), inputs: [x], produces: out))
            }
            return .node(try emit(name: name, op: .clip(Clip(low: low, high: high)), inputs: [x], produces: out))
        case "Softmax":
            let x = try tensor(node, 0)
            let rank = shapeDims(x).count
            var axis = Int(node.attribute("axis")?.int ?? (opset >= 13 ? -1 : 1))
            if axis < 0 { axis += rank }
            let pixels = shapes[x].pixelsPerImage
            if axis != 1 || (opset < 13 && pixels != 1) {
                throw fail(node, "softmax over axis \(axis)\(opset < 13 ? " (opset \(opset) flattens from the axis)" : ""); segrun's softmax runs over channels (axis 1, opset 13+)")
            }
            return .node(try emit(name: name, op: .softmax, inputs: [x], produces: out))
        case "Add", "Sub", "Mul", "Div":
            return .node(try arithmetic(node))
        case "MaxPool", "AveragePool":
            return .node(try pool(node))
        case "GlobalAveragePool":
            let x = try tensor(node, 0)
            return .node(try emit(name: name, op: .adaptiveAveragePool2d(bins: 1), inputs: [x], produces: out))
        case "GlobalMaxPool":
            return .node(try emit(name: name, op: .globalMaxPool(GlobalMaxPool()), inputs: [try tensor(node, 0)], produces: out))
        case "Concat":
            if node.inputs.contains(where: { if case .stacked? = values[$0] { return true } else { return false } }) {
                return try concatStacked(node)
            }
            return .node(try concat(node))
        case "Unsqueeze":
            return try stack(node)
        case "ReduceSum":
            return .node(try sumStacked(node))
        case "Resize", "Upsample":
            return .node(try resize(node))
        case "Pad":
            if let padded = try presencePadding(node) { return padded }
            return .node(try pad(node))
        case "Greater":
            return try presenceOpen(node)
        case "Where":
            return .node(try presenceGate(node))
        case "Reshape", "Flatten":
            return try reshape(node)
        default:
            throw fail(node, "segrun has no such operator (docs/ONNX.md lists the supported ones)")
        }
    }

    // MARK: torch.stack(xs).sum(0)

    /// `Unsqueeze(x, axes=[0])` of an image tensor: the start of a stack. Other axes would change what a
    /// pixel is, and are refused.
    private func stack(_ node: ONNXNode) throws(ONNXError) -> Value {
        let x = try tensor(node, 0)
        let axes = opset >= 13 ? optionalConstant(node, 1)?.ints : ints(node, "axes")
        guard axes == [0] else {
            throw fail(node, "unsqueezes an image tensor on axes \(axes.map { "\($0)" } ?? "that are not constant"); segrun follows only axis 0 of a stack that is summed again")
        }
        return .stacked([x])
    }

    /// `Concat(axis 0)` of stacks: a longer stack.
    private func concatStacked(_ node: ONNXNode) throws(ONNXError) -> Value {
        var parts: [Int] = []
        for (i, name) in node.inputs.enumerated() {
            guard case .stacked(let xs)? = values[name] else { throw fail(node, "operand \(i) ('\(name)') is not a stacked tensor like the others") }
            parts += xs
        }
        let dims = shapeDims(parts[0])
        var axis = Int(node.attribute("axis")?.int ?? 0)
        if axis < 0 { axis += dims.count + 1 }  // the stack has one axis more than its tensors
        guard axis == 0 else { throw fail(node, "concatenates stacked tensors along axis \(axis); only the stacking axis 0 is followed") }
        for x in parts.dropFirst() where shapeDims(x) != dims {
            throw fail(node, "stacks tensors of shapes \(dims) and \(shapeDims(x))")
        }
        return .stacked(parts)
    }

    /// `ReduceSum(stack, axes=[0], keepdims=0)`: the stacked tensors added, left to right.
    private mutating func sumStacked(_ node: ONNXNode) throws(ONNXError) -> Int {
        guard case .stacked(let xs)? = values[node.inputs[0]] else {
            throw fail(node, "sums an image tensor; segrun sums only over the stacking axis of torch.stack")
        }
        let axes = opset >= 13 ? optionalConstant(node, 1)?.ints : ints(node, "axes")
        guard axes == [0], node.attribute("keepdims")?.int == 0 else {
            throw fail(node, "reduces a stack over axes \(axes.map { "\($0)" } ?? "(all)") with keepdims \(node.attribute("keepdims")?.int ?? 1); only the sum over axis 0 without keepdims is supported")
        }
        var sum = xs[0]
        for (k, x) in xs.dropFirst().enumerated() {
            let last = k == xs.count - 2
            sum = try emit(name: last ? node.label : "\(node.label)_\(k + 1)", op: .add(.none), inputs: [sum, x],
                           produces: last ? node.outputs[0] : "\(node.outputs[0])#partial\(k + 1)")
        }
        return sum
    }

    // MARK: convolutions

    /// Conv (any rank 1-3, groups 1 or depthwise, dilations, asymmetric pads, auto_pad).
    private mutating func conv(_ node: ONNXNode) throws(ONNXError) -> Int {
        let x = try tensor(node, 0)
        let w = try required(node, 1, "weight")
        let rank = w.rank - 2
        let inDims = shapeDims(x)
        guard rank >= 1, rank == inDims.count - 2 else { throw fail(node, "weight \(w.dims) does not match a \(inDims.count - 2)D input") }
        let groups = Int(node.attribute("group")?.int ?? 1)
        let kernel = Array(w.dims[2...])
        if let k = ints(node, "kernel_shape"), k != kernel { throw fail(node, "kernel_shape \(k) disagrees with the weight \(w.dims)") }
        let strides = ints(node, "strides") ?? Array(repeating: 1, count: rank)
        let dilations = ints(node, "dilations") ?? Array(repeating: 1, count: rank)
        guard strides.count == rank, dilations.count == rank else { throw fail(node, "strides or dilations have the wrong length") }
        let (begin, end) = try padding(node, rank: rank, kernel: kernel, strides: strides, dilations: dilations, input: Array(inDims[2...]))
        let outChannels = w.dims[0]
        let weight = addParameter("\(node.label).weight", shape: w.dims, w.floats)
        let bias = try biasParameter(node, outChannels: outChannels)
        let window = SpatialWindow(kernel: kernel, stride: strides, dilation: dilations, padBegin: begin, padEnd: end)
        let op = Op.conv2d(ConvAttributes(outChannels: outChannels, window: window, groups: groups, weight: weight, bias: bias))
        return try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
    }

    /// The optional bias (input 2) of Conv and ConvTranspose as a parameter: a constant with one value per
    /// output channel, or absent.
    private mutating func biasParameter(_ node: ONNXNode, outChannels: Int) throws(ONNXError) -> Int? {
        guard node.inputs.count > 2, !node.inputs[2].isEmpty else { return nil }
        guard let b = constant(node.inputs[2]) else { throw fail(node, "its bias must be a constant") }
        guard b.count == outChannels else { throw fail(node, "bias has \(b.count) values for \(outChannels) output channels") }
        return addParameter("\(node.label).bias", shape: [outChannels], b.floats)
    }

    /// Explicit pads, or `auto_pad` resolved at the import size (SAME_* with stride 1 does not depend on it).
    private mutating func padding(_ node: ONNXNode, rank: Int, kernel: [Int], strides: [Int], dilations: [Int], input: [Int]) throws(ONNXError) -> ([Int], [Int]) {
        let autoPad = node.attribute("auto_pad")?.string ?? "NOTSET"
        switch autoPad {
        case "NOTSET", "":
            let pads = ints(node, "pads") ?? Array(repeating: 0, count: 2 * rank)
            guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 }) else { throw fail(node, "pads \(pads) are not 2 x \(rank) non-negative values") }
            return (Array(pads[..<rank]), Array(pads[rank...]))
        case "VALID":
            return (Array(repeating: 0, count: rank), Array(repeating: 0, count: rank))
        case "SAME_UPPER", "SAME_LOWER":
            var begin: [Int] = [], end: [Int] = []
            for a in 0..<rank {
                let out = (input[a] + strides[a] - 1) / strides[a]
                let total = max(0, (out - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1 - input[a])
                let small = total / 2, large = total - small
                begin.append(autoPad == "SAME_UPPER" ? small : large)
                end.append(autoPad == "SAME_UPPER" ? large : small)
                if strides[a] > 1 { fixedSize = true }
            }
            if fixedSize { notes.append("'\(node.label)' pads with \(autoPad) at a stride above 1, which depends on the size: the model runs at the import size") }
            return (begin, end)
        default:
            throw fail(node, "auto_pad '\(autoPad)'")
        }
    }

    /// ConvTranspose (groups 1, dilation 1, pads and output_padding; output_shape when it matches them).
    private mutating func convTranspose(_ node: ONNXNode) throws(ONNXError) -> Int {
        let x = try tensor(node, 0)
        let w = try required(node, 1, "weight")
        let rank = w.rank - 2
        let inDims = shapeDims(x)
        guard rank >= 1, rank == inDims.count - 2 else { throw fail(node, "weight \(w.dims) does not match a \(inDims.count - 2)D input") }
        if (node.attribute("group")?.int ?? 1) != 1 { throw fail(node, "grouped transposed convolution") }
        if let d = ints(node, "dilations"), d.contains(where: { $0 != 1 }) { throw fail(node, "dilations \(d)") }
        if let a = node.attribute("auto_pad")?.string, a != "NOTSET", a != "" { throw fail(node, "auto_pad '\(a)' (give explicit pads)") }
        let kernel = Array(w.dims[2...])
        let strides = ints(node, "strides") ?? Array(repeating: 1, count: rank)
        let pads = ints(node, "pads") ?? Array(repeating: 0, count: 2 * rank)
        let outputPadding = ints(node, "output_padding") ?? Array(repeating: 0, count: rank)
        guard strides.count == rank, pads.count == 2 * rank, outputPadding.count == rank, pads.allSatisfy({ $0 >= 0 }) else {
            throw fail(node, "strides, pads or output_padding have the wrong length")
        }
        let outChannels = w.dims[1]
        if w.dims[0] != inDims[1] { throw fail(node, "weight \(w.dims) for \(inDims[1]) input channels") }
        let weight = addParameter("\(node.label).weight", shape: w.dims, w.floats)
        let bias = try biasParameter(node, outChannels: outChannels)
        let window = SpatialWindow(kernel: kernel, stride: strides, dilation: Array(repeating: 1, count: rank),
                                   padBegin: Array(pads[..<rank]), padEnd: Array(pads[rank...]))
        let op = Op.convTranspose2d(ConvTransposeAttributes(outChannels: outChannels, window: window, outputPadding: outputPadding, weight: weight, bias: bias))
        let index = try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
        if let wanted = ints(node, "output_shape") {
            let got = Array(shapeDims(index).suffix(rank))
            if Array(wanted.suffix(rank)) != got { throw fail(node, "output_shape \(wanted) differs from the \(got) its pads give") }
        }
        return index
    }

    // MARK: arithmetic

    /// Add, Mul of two tensors; Add, Sub, Mul, Div of a tensor and a per-channel (or scalar) constant,
    /// which becomes a per-channel affine map (folded into the producer where it can be).
    private mutating func arithmetic(_ node: ONNXNode) throws(ONNXError) -> Int {
        let op = node.opType
        guard node.inputs.count == 2 else { throw fail(node, "needs two operands") }
        let a = values[node.inputs[0]], b = values[node.inputs[1]]
        if case .node(let x)? = a, case .node(let y)? = b {
            switch op {
            case "Add": return try emit(name: node.label, op: .add(.none), inputs: [x, y], produces: node.outputs[0])
            case "Mul":
                // segrun's gate is the second operand; a gate given first is commutative.
                let gateFirst = shapes[x].elementCount < shapes[y].elementCount
                return try emit(name: node.label, op: .mul, inputs: gateFirst ? [y, x] : [x, y], produces: node.outputs[0])
            default: throw fail(node, "\(op) of two computed tensors")
            }
        }
        let x: Int, c: ConstantTensor, constantFirst: Bool
        if case .node(let n)? = a, case .constant(let k)? = b { x = n; c = k; constantFirst = false }
        else if case .constant(let k)? = a, case .node(let n)? = b { x = n; c = k; constantFirst = true }
        else { throw fail(node, "operands are not a tensor and a constant") }
        let channels = shapes[x].channels
        guard let v = c.perChannel(rank: shapeDims(x).count, channels: channels) else {
            throw fail(node, "constant of shape \(c.dims) is neither a scalar nor one value per channel")
        }
        var scale: [Float]? = nil, shift: [Float]? = nil
        switch (op, constantFirst) {
        case ("Add", _): shift = v
        case ("Sub", false): shift = v.map { -$0 }
        case ("Sub", true): scale = [Float](repeating: -1, count: channels); shift = v
        case ("Mul", _): scale = v
        case ("Div", false): scale = v.map { 1 / $0 }
        default: throw fail(node, "a constant divided by a tensor")
        }
        return try affine(node, x, scale: scale, shift: shift)
    }

    /// `x * scale + shift` per channel: folded into the bias of a producing convolution (shift only) or into
    /// a producing GroupNorm's gamma and beta when nothing else reads it, else a 1x1 depthwise convolution.
    private mutating func affine(_ node: ONNXNode, _ x: Int, scale: [Float]?, shift: [Float]?) throws(ONNXError) -> Int {
        let c = shapes[x].channels
        if hasSingleUse(x) {
            switch graph.nodes[x].op {
            case .conv2d(var a) where scale == nil && a.activation == .none:
                a.bias = foldShift(into: a.bias, shift!, name: graph.nodes[x].name)
                graph.nodes[x].op = .conv2d(a)
                producedBy[x] = node.outputs[0]
                return x
            case .convTranspose2d(var a) where scale == nil && a.activation == .none:
                a.bias = foldShift(into: a.bias, shift!, name: graph.nodes[x].name)
                graph.nodes[x].op = .convTranspose2d(a)
                producedBy[x] = node.outputs[0]
                return x
            case .groupNorm(let g):
                var gamma = graph.parameters[g.gamma].floats, beta = graph.parameters[g.beta].floats
                for k in 0..<c {
                    if let scale { gamma[k] *= scale[k]; beta[k] *= scale[k] }
                    if let shift { beta[k] += shift[k] }
                }
                graph.parameters[g.gamma].data = .f32(gamma)
                graph.parameters[g.beta].data = .f32(beta)
                producedBy[x] = node.outputs[0]
                return x
            default: break
            }
        }
        let rank = shapes[x].spatialRank
        let weight = addParameter("\(node.label).scale", shape: [c, 1] + Array(repeating: 1, count: rank), scale ?? [Float](repeating: 1, count: c))
        let bias = addParameter("\(node.label).shift", shape: [c], shift ?? [Float](repeating: 0, count: c))
        let op = Op.conv2d(ConvAttributes(outChannels: c, kernel: 1, padding: 0, rank: rank, groups: c, weight: weight, bias: bias))
        return try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
    }

    private mutating func foldShift(into bias: Int?, _ shift: [Float], name: String) -> Int {
        if let bias {
            var v = graph.parameters[bias].floats
            for k in 0..<v.count { v[k] += shift[k] }
            graph.parameters[bias].data = .f32(v)
            return bias
        }
        return addParameter("\(name).bias", shape: [shift.count], shift)
    }

    /// Channel concatenation of tensors, and of uniform constants the size of the image (MONAI's ResNet
    /// shortcut pads channels with zeros this way): those channels come from a 1x1 convolution whose weights
    /// copy the tensors' channels and whose bias holds the constants, which is exact.
    private mutating func concat(_ node: ONNXNode) throws(ONNXError) -> Int {
        var parts: [(node: Int?, channels: Int, fill: Double)] = []
        var reference: [Int]?
        for (i, name) in node.inputs.enumerated() {
            if case .node(let x)? = values[name] {
                parts.append((x, shapes[x].channels, 0))
                reference = reference ?? shapeDims(x)
            } else if let c = constant(name), let first = c.values.first, c.values.allSatisfy({ $0 == first }) {
                parts.append((nil, c.rank > 1 ? c.dims[1] : 0, first))
            } else {
                throw fail(node, "operand \(i) ('\(name)') is neither a computed tensor nor a uniform constant")
            }
        }
        guard let dims = reference else { throw fail(node, "concatenates constants only") }
        var axis = Int(node.attribute("axis")?.int ?? 1)
        if axis < 0 { axis += dims.count }
        guard axis == 1 else { throw fail(node, "concatenation along axis \(axis); segrun concatenates channels (axis 1)") }
        for (i, name) in node.inputs.enumerated() where parts[i].node == nil {
            let c = constant(name)!
            var expected = dims
            expected[1] = c.rank > 1 ? c.dims[1] : -1
            if c.dims != expected { throw fail(node, "constant operand '\(name)' of shape \(c.dims) does not match the image \(dims)") }
        }
        let tensors = parts.compactMap(\.node)
        var joined = tensors[0]
        if tensors.count > 1 { joined = try emit(name: node.label, op: .concat, inputs: tensors, produces: node.outputs[0]) }
        if tensors.count == parts.count { return joined }
        // Constant channels: a 1x1 convolution from the joined tensors' channels to all of the output's.
        let inChannels = shapes[joined].channels, outChannels = parts.reduce(0) { $0 + $1.channels }
        var weight = [Float](repeating: 0, count: outChannels * inChannels), bias = [Float](repeating: 0, count: outChannels)
        var row = 0, source = 0
        for part in parts {
            for _ in 0..<part.channels {
                if part.node != nil { weight[row * inChannels + source] = 1; source += 1 } else { bias[row] = Float(part.fill) }
                row += 1
            }
        }
        let rank = dims.count - 2
        let w = addParameter("\(node.label).channels", shape: [outChannels, inChannels] + Array(repeating: 1, count: rank), weight)
        let b = addParameter("\(node.label).constants", shape: [outChannels], bias)
        let op = Op.conv2d(ConvAttributes(outChannels: outChannels, kernel: 1, padding: 0, rank: rank, weight: w, bias: b))
        return try emit(name: "\(node.label).constant_channels", op: op, inputs: [joined], produces: node.outputs[0])
    }

    // MARK: pooling, resizing, padding, reshaping

    private mutating func pool(_ node: ONNXNode) throws(ONNXError) -> Int {
        let x = try tensor(node, 0)
        let inDims = shapeDims(x)
        let rank = inDims.count - 2
        guard let kernel = ints(node, "kernel_shape"), kernel.count == rank else { throw fail(node, "kernel_shape must have \(rank) values") }
        let strides = ints(node, "strides") ?? Array(repeating: 1, count: rank)
        if let d = ints(node, "dilations"), d.contains(where: { $0 != 1 }) { throw fail(node, "dilated pooling") }
        var (begin, end) = try padding(node, rank: rank, kernel: kernel, strides: strides, dilations: Array(repeating: 1, count: rank), input: Array(inDims[2...]))
        if node.opType == "AveragePool" && node.attribute("count_include_pad")?.int == 1 && (begin + end).contains(where: { $0 > 0 }) {
            throw fail(node, "count_include_pad=1 with padding (segrun's average pooling divides by the taps inside the input)")
        }
        if node.attribute("ceil_mode")?.int == 1 {
            // Ceil mode adds an output where a last window starts inside the input (with its begin padding);
            // segrun computes floor mode, so the importer accepts ceil mode only where the two agree.
            for a in 0..<rank {
                let span = inDims[a + 2] + begin[a] + end[a] - kernel[a]
                var ceilCount = (span + strides[a] - 1) / strides[a] + 1
                if (ceilCount - 1) * strides[a] >= inDims[a + 2] + begin[a] { ceilCount -= 1 }
                if ceilCount != span / strides[a] + 1 {
                    throw fail(node, "ceil_mode=1 gives \(ceilCount) outputs along axis \(a + 2) at this size, floor mode \(span / strides[a] + 1)")
                }
            }
            notes.append("'\(node.label)': ceil_mode=1 agrees with floor mode at the import size, which the model keeps")
            fixedSize = true
        }
        if begin != end { throw fail(node, "asymmetric pooling pads \(begin) / \(end)") }
        end = begin
        let window = SpatialWindow(kernel: kernel, stride: strides, dilation: Array(repeating: 1, count: rank), padBegin: begin, padEnd: end)
        let attributes = PoolAttributes(window: window)
        let op: Op = node.opType == "MaxPool" ? .maxPool2d(attributes) : .averagePool2d(attributes)
        return try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
    }

    /// Resize/Upsample onto segrun's upsample: nearest (asymmetric + floor, or half-pixel with an integer
    /// factor, which pick the same pixels) and linear (half_pixel, pytorch_half_pixel, align_corners).
    private mutating func resize(_ node: ONNXNode) throws(ONNXError) -> Int {
        let x = try tensor(node, 0)
        let inDims = shapeDims(x)
        let rank = inDims.count - 2
        let mode = node.attribute("mode")?.string ?? "nearest"
        let transform = node.attribute("coordinate_transformation_mode")?.string ?? (node.opType == "Upsample" ? "asymmetric" : "half_pixel")
        let nearestMode = node.attribute("nearest_mode")?.string ?? "round_prefer_floor"
        if node.attribute("antialias")?.int == 1 { throw fail(node, "antialias=1") }
        if let axes = ints(node, "axes"), axes.sorted() != Array(2..<(rank + 2)) && axes.sorted() != Array(0..<(rank + 2)) {
            throw fail(node, "axes \(axes)")
        }
        if let policy = node.attribute("keep_aspect_ratio_policy")?.string, policy != "stretch" { throw fail(node, "keep_aspect_ratio_policy '\(policy)'") }
        // Output size from scales or sizes (inputs 2 and 3; Upsample's input 1).
        var factors: [Double]
        var sizeSource: Int?
        let scalesIndex = node.opType == "Upsample" ? 1 : 2
        if let scales = optionalConstant(node, scalesIndex), scales.count > 0 {
            let s = scales.values
            guard s.count == rank + 2 || s.count == rank else { throw fail(node, "scales \(s)") }
            let spatial = Array(s.suffix(rank))
            if s.count == rank + 2 && (s[0] != 1 || s[1] != 1) { throw fail(node, "scales \(s) resize the batch or channel axis") }
            factors = spatial
        } else if let sizes = optionalConstant(node, 3) {
            let s = sizes.ints
            guard s.count == rank + 2 || s.count == rank else { throw fail(node, "sizes \(s)") }
            let spatial = Array(s.suffix(rank))
            if s.count == rank + 2 && (s[0] != inDims[0] || s[1] != inDims[1]) { throw fail(node, "sizes \(s) resize the batch or channel axis") }
            factors = (0..<rank).map { Double(spatial[$0]) / Double(inDims[$0 + 2]) }
            // `F.interpolate(x, size=skip.shape[2:])`: the size of another tensor, at any input size.
            if let source = sizes.shapeSources.last(where: { shapes[$0].spatial == spatial && $0 != x }) {
                sizeSource = source
            } else if sizes.fromShape {
                notes.append("'\(node.label)': output size computed from a tensor's shape, kept as the factor \(factors.map { formatFactor($0) }.joined(separator: "x")) it has at the import size")
            }
        } else {
            throw fail(node, "needs constant scales or sizes")
        }
        for a in 0..<rank {
            let exact = Double(inDims[a + 2]) * factors[a]
            if exact.rounded(.down) != exact { throw fail(node, "factor \(factors[a]) of \(inDims[a + 2]) pixels is not a whole number of pixels") }
        }
        let integerFactors = factors.allSatisfy { $0 >= 1 && $0.rounded() == $0 }
        let upsampleMode: UpsampleMode
        switch mode {
        case "nearest":
            let exact = (transform == "asymmetric" && nearestMode == "floor")
                || (integerFactors && ["half_pixel", "pytorch_half_pixel"].contains(transform) && nearestMode == "round_prefer_floor")
                || (integerFactors && transform == "asymmetric" && ["round_prefer_floor", "round_prefer_ceil", "ceil"].contains(nearestMode) && factors.allSatisfy { $0 == 1 })
            guard exact else { throw fail(node, "nearest with \(transform) and \(nearestMode) (segrun takes floor(x * in / out): asymmetric with floor)") }
            upsampleMode = .nearest
        case "linear", "bilinear", "trilinear":
            switch transform {
            case "half_pixel": upsampleMode = .bilinear(alignCorners: false)
            case "pytorch_half_pixel":
                for a in 0..<rank where (Double(inDims[a + 2]) * factors[a]) == 1 { throw fail(node, "pytorch_half_pixel to an output of length 1") }
                upsampleMode = .bilinear(alignCorners: false)
            case "align_corners": upsampleMode = .bilinear(alignCorners: true)
            default: throw fail(node, "linear with coordinate_transformation_mode '\(transform)' (segrun takes half_pixel, pytorch_half_pixel, align_corners)")
            }
        default:
            throw fail(node, "mode '\(mode)' (segrun resizes nearest or linear)")
        }
        if factors.allSatisfy({ $0 == 1 }) { return x }
        let op: Op
        if let sizeSource {
            return try emit(name: node.label, op: .upsample(UpsampleAttributes(mode: upsampleMode, scale: 0)), inputs: [x, sizeSource], produces: node.outputs[0])
        } else if integerFactors && Set(factors).count == 1 {
            op = .upsample(UpsampleAttributes(mode: upsampleMode, scale: Int(factors[0])))
        } else {
            op = .upsample(UpsampleAttributes(mode: upsampleMode, factors: factors.map { Float($0) }))
        }
        return try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
    }

    private func formatFactor(_ f: Double) -> String { f.rounded() == f ? "\(Int(f))" : "\(f)" }

    /// Pad: zero padding is the identity in any mode; otherwise constant mode on the spatial axes.
    private mutating func pad(_ node: ONNXNode) throws(ONNXError) -> Int {
        let x = try tensor(node, 0)
        let rank = shapeDims(x).count
        let pads: [Int]
        var value: Float = 0
        if opset >= 11 {
            pads = try required(node, 1, "pads").ints
            if let v = optionalConstant(node, 2) { value = v.floats.first ?? 0 }
            if node.inputs.count > 3 && !node.inputs[3].isEmpty { throw fail(node, "the axes input") }
        } else {
            pads = ints(node, "pads") ?? []
            value = node.attribute("value")?.float ?? 0
        }
        guard pads.count == 2 * rank else { throw fail(node, "pads \(pads) for a rank-\(rank) tensor") }
        if pads.allSatisfy({ $0 == 0 }) { return x }
        let mode = node.attribute("mode")?.string ?? "constant"
        guard mode == "constant" else { throw fail(node, "\(mode) padding by \(pads) (segrun pads with a constant)") }
        let begins = Array(pads[..<rank]), ends = Array(pads[rank...])
        guard begins[0] == 0, begins[1] == 0, ends[0] == 0, ends[1] == 0 else { throw fail(node, "padding the batch or channel axis") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw fail(node, "negative pads \(pads) (cropping)") }
        let op = Op.pad(ConstantPad(pads: Array(begins[2...]) + Array(ends[2...]), value: value))
        return try emit(name: node.label, op: op, inputs: [x], produces: node.outputs[0])
    }

    // MARK: UNet 3+'s presence gate: Where(Greater(Pad(presence), 0), logits, -10000)

    /// A Pad that puts always-open channels (a positive constant) in front of N x K x 1 presence logits.
    private mutating func presencePadding(_ node: ONNXNode) throws(ONNXError) -> Value? {
        guard opset >= 11, case .node(let x)? = values[node.inputs[0]], shapeDims(x)[2...].allSatisfy({ $0 == 1 }),
              let pads = optionalConstant(node, 1)?.ints, let value = optionalConstant(node, 2)?.floats.first, value > 0 else { return nil }
        let rank = shapeDims(x).count
        guard pads.count == 2 * rank, pads[1] > 0, pads.enumerated().allSatisfy({ $0.offset == 1 || $0.element == 0 }) else { return nil }
        return .presencePadded(node: x, firstGated: pads[1])
    }

    /// Greater(presence logits, 0): only as the condition of a presence gate.
    private mutating func presenceOpen(_ node: ONNXNode) throws(ONNXError) -> Value {
        guard let zero = optionalConstant(node, 1), zero.count == 1, zero.floats[0] == 0 else {
            throw fail(node, "segrun reads Greater only as x > 0 feeding a presence gate's Where")
        }
        switch values[node.inputs[0]] {
        case .node(let x)?: return .presenceOpen(node: x, firstGated: 0)
        case .presencePadded(let x, let first)?: return .presenceOpen(node: x, firstGated: first)
        default: throw fail(node, "segrun reads Greater only as x > 0 feeding a presence gate's Where")
        }
    }

    /// Where(open, logits, -10000): the classes an image lacks closed (`PresenceGate`).
    private mutating func presenceGate(_ node: ONNXNode) throws(ONNXError) -> Int {
        guard node.inputs.count == 3, case .presenceOpen(let presence, let first)? = values[node.inputs[0]] else {
            throw fail(node, "segrun reads Where only as a presence gate: Where(Greater(presence, 0), logits, -10000)")
        }
        let logits = try tensor(node, 1)
        guard let closed = optionalConstant(node, 2), closed.count == 1, closed.floats[0] == PresenceGate.closed else {
            throw fail(node, "a presence gate's closed value must be the constant \(PresenceGate.closed)")
        }
        return try emit(name: node.label, op: .presenceGate(PresenceGate(firstGated: first)), inputs: [logits, presence], produces: node.outputs[0])
    }

    /// Reshape of a computed tensor: the identity, the exporter's GroupNorm pattern (`[N, G, -1]`, then back
    /// to the input's shape), and nothing else.
    private mutating func reshape(_ node: ONNXNode) throws(ONNXError) -> Value {
        let source = values[node.inputs[0]]
        let target: [Int]
        if node.opType == "Flatten" {
            guard case .node(let x)? = source else { throw fail(node, "flattens something that is not a tensor") }
            let dims = shapeDims(x)
            var axis = Int(node.attribute("axis")?.int ?? 1)
            if axis < 0 { axis += dims.count }
            target = [dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)]
        } else {
            target = try required(node, 1, "shape").ints
        }
        switch source {
        case .node(let x)?:
            let dims = shapeDims(x)
            let out = try reshaped(dims, target, allowZero: node.attribute("allowzero")?.int == 1) { fail(node, $0) }
            if out == dims { return .node(x) }
            if out.count == 3 && out[0] == dims[0] && dims[1] % out[1] == 0 && out[2] == dims[2...].reduce(1, *) * (dims[1] / out[1]) {
                return .grouped(node: x, groups: out[1])
            }
            throw fail(node, "reshapes \(dims) to \(out); segrun keeps image tensors N x C x [D x] H x W")
        case .groupNormalized(let x, let groups, let epsilon)?:
            let dims = shapeDims(x)
            let out = try reshaped([dims[0], groups, dims[1...].reduce(1, *) / groups], target, allowZero: false) { fail(node, $0) }
            guard out == dims else { throw fail(node, "reshapes a group normalization to \(out), not back to \(dims)") }
            let c = dims[1]
            let gamma = addParameter("\(node.label).gamma", shape: [c], [Float](repeating: 1, count: c))
            let beta = addParameter("\(node.label).beta", shape: [c], [Float](repeating: 0, count: c))
            return .node(try emit(name: node.label, op: .groupNorm(GroupNorm(groups: groups, gamma: gamma, beta: beta, epsilon: epsilon)), inputs: [x], produces: node.outputs[0]))
        default:
            throw fail(node, "reshapes something that is not an image tensor")
        }
    }
}
