/// The ONNX operators the importer evaluates on constants: what PyTorch's exporters emit around shapes
/// and padding amounts (`Shape`, `Gather`, `Unsqueeze`, `Concat`, `Cast`, `Slice`, `Reshape`, ...) and
/// arithmetic on weights. Each returns nil when an operand is not a constant, and the node is then a
/// network node (`ONNXOperators.swift`).
extension ONNXImporter {
    static let foldableOps: Set<String> = ["Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Slice",
                                           "Reshape", "Transpose", "ConstantOfShape", "Range", "Add", "Sub", "Mul", "Div",
                                           "Floor", "Ceil", "Sqrt", "Neg", "Equal", "Where", "Expand", "Identity", "Flatten"]

    func constant(_ name: String) -> ConstantTensor? {
        if case .constant(let c)? = values[name] { return c }
        return nil
    }

    /// The node's result when it can be computed now, else nil.
    func fold(_ node: ONNXNode) throws(ONNXError) -> ConstantTensor? {
        let fail = { (reason: String) -> ONNXError in .unsupported(node: node.label, opType: node.opType, reason: reason) }
        if node.opType == "Constant" { return try constantNodeValue(node) }
        if node.opType == "Shape" {
            guard case .node(let index)? = values[node.inputs[0]] else { return nil }
            var dims = shapeDims(index)
            let rank = dims.count
            var start = node.attribute("start")?.int.map(Int.init) ?? 0
            var end = node.attribute("end")?.int.map(Int.init) ?? rank
            if start < 0 { start += rank }
            if end < 0 { end += rank }
            start = min(max(start, 0), rank)
            end = min(max(end, start), rank)
            dims = Array(dims[start..<end])
            return .vector(dims, shapeSources: [index])
        }
        // Every other foldable op needs all its (present) operands constant.
        var operands: [ConstantTensor?] = []
        for name in node.inputs {
            if name.isEmpty { operands.append(nil); continue }
            guard let c = constant(name) else { return nil }
            operands.append(c)
        }
        guard let x = operands.first ?? nil else { return nil }
        func operand(_ i: Int) -> ConstantTensor? { i < operands.count ? operands[i] : nil }
        switch node.opType {
        case "Identity":
            return x
        case "Cast":
            guard let to = node.attribute("to")?.int else { throw fail("has no 'to'") }
            let integer = Self.isIntegerType(to)
            var c = x
            c.isInteger = integer
            if integer { c.values = c.values.map { $0.rounded(.towardZero) } } else if to == ONNXTensor.DataType.float.rawValue { c.values = c.values.map { Double(Float($0)) } }
            return c
        case "Gather":
            guard let indices = operand(1) else { throw fail("has no indices") }
            var axis = Int(node.attribute("axis")?.int ?? 0)
            if axis < 0 { axis += x.rank }
            guard axis >= 0 && axis < x.rank else { throw fail("axis out of range for rank \(x.rank)") }
            let outer = x.dims[..<axis].reduce(1, *), inner = x.dims[(axis + 1)...].reduce(1, *), n = x.dims[axis]
            var values: [Double] = []
            for o in 0..<outer {
                for var k in indices.ints {
                    if k < 0 { k += n }
                    guard k >= 0 && k < n else { throw fail("index \(k) out of range \(n)") }
                    values.append(contentsOf: x.values[((o * n + k) * inner)..<((o * n + k) * inner + inner)])
                }
            }
            let dims = Array(x.dims[..<axis]) + indices.dims + Array(x.dims[(axis + 1)...])
            return ConstantTensor(dims: dims, values: values, isInteger: x.isInteger, shapeSources: x.shapeSources)
        case "Unsqueeze":
            let axes = opset >= 13 ? (operand(1)?.ints ?? []) : (node.attribute("axes")?.ints.map(Int.init) ?? [])
            let rank = x.rank + axes.count
            var dims = x.dims
            for a in axes.map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
                guard a >= 0 && a <= dims.count else { throw fail("axis \(a) out of range") }
                dims.insert(1, at: a)
            }
            var c = x
            c.dims = dims
            return c
        case "Squeeze":
            let axes = opset >= 13 ? operand(1)?.ints : node.attribute("axes")?.ints.map(Int.init)
            var c = x
            if let axes {
                let normalized = Set(axes.map { $0 < 0 ? $0 + x.rank : $0 })
                c.dims = x.dims.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
            } else {
                c.dims = x.dims.filter { $0 != 1 }
            }
            return c
        case "Flatten":
            var axis = Int(node.attribute("axis")?.int ?? 1)
            if axis < 0 { axis += x.rank }
            var c = x
            c.dims = [x.dims[..<axis].reduce(1, *), x.dims[axis...].reduce(1, *)]
            return c
        case "Concat":
            let parts = operands.compactMap { $0 }
            var axis = Int(node.attribute("axis")?.int ?? 0)
            if axis < 0 { axis += x.rank }
            guard axis >= 0 && axis < max(x.rank, 1) else { throw fail("axis out of range") }
            if x.rank == 0 { throw fail("cannot concatenate scalars") }
            for p in parts where p.rank != x.rank || (0..<x.rank).contains(where: { $0 != axis && p.dims[$0] != x.dims[$0] }) {
                throw fail("operands \(x.dims) and \(p.dims) do not concatenate along axis \(axis)")
            }
            let outer = x.dims[..<axis].reduce(1, *)
            var values: [Double] = []
            for o in 0..<outer {
                for p in parts {
                    let block = p.dims[axis...].reduce(1, *)
                    values.append(contentsOf: p.values[(o * block)..<(o * block + block)])
                }
            }
            var dims = x.dims
            dims[axis] = parts.reduce(0) { $0 + $1.dims[axis] }
            return ConstantTensor(dims: dims, values: values, isInteger: x.isInteger, shapeSources: parts.flatMap(\.shapeSources))
        case "Slice":
            return try slice(node, x, operand, fail)
        case "Reshape":
            guard let shape = operand(1) else { throw fail("has no shape") }
            var c = x
            c.dims = try reshaped(x.dims, shape.ints, allowZero: node.attribute("allowzero")?.int == 1, fail)
            c.shapeSources = x.shapeSources + shape.shapeSources
            return c
        case "Transpose":
            let perm = node.attribute("perm")?.ints.map(Int.init) ?? Array((0..<x.rank).reversed())
            guard perm.sorted() == Array(0..<x.rank) else { throw fail("perm \(perm) is not a permutation of rank \(x.rank)") }
            let dims = perm.map { x.dims[$0] }
            let sourceStrides = ConstantTensor.strides(x.dims), targetStrides = ConstantTensor.strides(dims)
            var values = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var rest = i, source = 0
                for axis in 0..<dims.count {
                    source += (rest / targetStrides[axis]) * sourceStrides[perm[axis]]
                    rest %= targetStrides[axis]
                }
                values[i] = x.values[source]
            }
            return ConstantTensor(dims: dims, values: values, isInteger: x.isInteger, shapeSources: x.shapeSources)
        case "ConstantOfShape":
            let dims = x.ints
            guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, *) <= 1 << 24 else { throw fail("shape \(dims) is not a small constant") }
            var fill = 0.0, integer = false
            if let t = node.attribute("value")?.tensor {
                fill = try t.values(directory: directory).first ?? 0
                integer = Self.isIntegerType(t.dataType)
            }
            return ConstantTensor(dims: dims, values: [Double](repeating: fill, count: dims.reduce(1, *)), isInteger: integer, shapeSources: x.shapeSources)
        case "Range":
            guard let limit = operand(1), let delta = operand(2), let d = delta.values.first, d != 0 else { throw fail("needs start, limit and a nonzero delta") }
            let start = x.values.first ?? 0, end = limit.values.first ?? 0
            let steps: Double = ((end - start) / d).rounded(.up)
            let n = max(Int(steps), 0)
            guard n <= 1 << 24 else { throw fail("range of \(n) values") }
            var range: [Double] = []
            for k in 0..<n { range.append(start + Double(k) * d) }
            return ConstantTensor(dims: [n], values: range, isInteger: x.isInteger)
        case "Add", "Sub", "Mul", "Div", "Equal":
            guard let y = operand(1) else { throw fail("needs two operands") }
            let integer = x.isInteger && y.isInteger
            let op = node.opType
            let f: (Double, Double) -> Double = { Self.arithmetic(op, integer: integer, $0, $1) }
            guard let c = ConstantTensor.combine(x, y, integer: integer || node.opType == "Equal", f) else {
                throw fail("operands \(x.dims) and \(y.dims) do not broadcast")
            }
            return c
        case "Where":
            guard let a = operand(1), let b = operand(2),
                  let dims = ConstantTensor.broadcast(x.dims, a.dims).flatMap({ ConstantTensor.broadcast($0, b.dims) }) else {
                throw fail("operands do not broadcast")
            }
            let cond = x.expanded(to: dims), av = a.expanded(to: dims), bv = b.expanded(to: dims)
            return ConstantTensor(dims: dims, values: (0..<cond.count).map { cond[$0] != 0 ? av[$0] : bv[$0] }, isInteger: a.isInteger && b.isInteger,
                                  shapeSources: x.shapeSources + a.shapeSources + b.shapeSources)
        case "Expand":
            guard let shape = operand(1), let dims = ConstantTensor.broadcast(x.dims, shape.ints) else { throw fail("shape does not broadcast") }
            return ConstantTensor(dims: dims, values: x.expanded(to: dims), isInteger: x.isInteger, shapeSources: x.shapeSources + shape.shapeSources)
        case "Floor", "Ceil", "Sqrt", "Neg":
            var c = x
            switch node.opType {
            case "Floor": c.values = x.values.map { $0.rounded(.down) }
            case "Ceil": c.values = x.values.map { $0.rounded(.up) }
            case "Sqrt": c.values = x.values.map { Double(Float($0).squareRoot()) }
            default: c.values = x.values.map { -$0 }
            }
            return c
        default:
            return nil
        }
    }

    /// One element of Add, Sub, Mul, Div or Equal: integers exactly (Div truncates), floats in float32.
    static func arithmetic(_ op: String, integer: Bool, _ a: Double, _ b: Double) -> Double {
        if op == "Equal" { return a == b ? 1 : 0 }
        if integer {
            switch op {
            case "Add": return a + b
            case "Sub": return a - b
            case "Mul": return a * b
            default: return b == 0 ? 0 : (a / b).rounded(.towardZero)
            }
        }
        let x = Float(a), y = Float(b)
        let r: Float
        switch op {
        case "Add": r = x + y
        case "Sub": r = x - y
        case "Mul": r = x * y
        default: r = x / y
        }
        return Double(r)
    }

    private func constantNodeValue(_ node: ONNXNode) throws(ONNXError) -> ConstantTensor {
        for a in node.attributes {
            switch a.name {
            case "value":
                guard let t = a.tensor else { break }
                return ConstantTensor(dims: t.dims, values: try t.values(directory: directory), isInteger: Self.isIntegerType(t.dataType))
            case "value_float": if let f = a.float { return .scalar(Double(f), isInteger: false) }
            case "value_floats": return ConstantTensor(dims: [a.floats.count], values: a.floats.map { Double($0) }, isInteger: false)
            case "value_int": if let i = a.int { return .scalar(Double(i), isInteger: true) }
            case "value_ints": return ConstantTensor(dims: [a.ints.count], values: a.ints.map { Double($0) }, isInteger: true)
            default: break
            }
        }
        throw .unsupported(node: node.label, opType: "Constant", reason: "holds no tensor, float or int value segrun reads")
    }

    private func slice(_ node: ONNXNode, _ x: ConstantTensor, _ operand: (Int) -> ConstantTensor?,
                       _ fail: (String) -> ONNXError) throws(ONNXError) -> ConstantTensor {
        let starts: [Int], ends: [Int], axesList: [Int]?, steps: [Int]?
        if opset >= 10 {
            guard let s = operand(1), let e = operand(2) else { throw fail("needs starts and ends") }
            starts = s.ints
            ends = e.ints
            axesList = operand(3)?.ints
            steps = operand(4)?.ints
        } else {
            starts = node.attribute("starts")?.ints.map(Int.init) ?? []
            ends = node.attribute("ends")?.ints.map(Int.init) ?? []
            axesList = node.attribute("axes")?.ints.map(Int.init)
            steps = nil
        }
        let axes = (axesList ?? Array(0..<starts.count)).map { $0 < 0 ? $0 + x.rank : $0 }
        guard starts.count == ends.count, axes.count == starts.count, (steps?.count ?? starts.count) == starts.count,
              axes.allSatisfy({ $0 >= 0 && $0 < x.rank }) else { throw fail("starts, ends, axes and steps disagree") }
        var begin = [Int](repeating: 0, count: x.rank), step = [Int](repeating: 1, count: x.rank), count = x.dims
        for (k, axis) in axes.enumerated() {
            let n = x.dims[axis], s = steps?[k] ?? 1
            guard s != 0 else { throw fail("step 0") }
            var b = starts[k], e = ends[k]
            if b < 0 { b += n }
            if e < 0 { e += n }
            if s > 0 {
                b = min(max(b, 0), n); e = min(max(e, 0), n)
                count[axis] = max(0, (e - b + s - 1) / s)
            } else {
                b = min(max(b, -1), n - 1); e = min(max(e, -1), n - 1)
                count[axis] = max(0, (b - e - s - 1) / -s)
            }
            begin[axis] = b
            step[axis] = s
        }
        let sourceStrides = ConstantTensor.strides(x.dims), targetStrides = ConstantTensor.strides(count)
        let total = count.reduce(1, *)
        var values = [Double](repeating: 0, count: total)
        for i in 0..<total {
            var rest = i, source = 0
            for axis in 0..<count.count {
                source += (begin[axis] + (rest / targetStrides[axis]) * step[axis]) * sourceStrides[axis]
                rest %= targetStrides[axis]
            }
            values[i] = x.values[source]
        }
        return ConstantTensor(dims: count, values: values, isInteger: x.isInteger, shapeSources: x.shapeSources)
    }

    /// ONNX Reshape's target dims: 0 copies the input's dim (unless `allowzero`), one -1 is inferred.
    func reshaped(_ dims: [Int], _ target: [Int], allowZero: Bool, _ fail: (String) -> ONNXError) throws(ONNXError) -> [Int] {
        var out = target
        for (i, d) in target.enumerated() where d == 0 && !allowZero {
            guard i < dims.count else { throw fail("shape \(target) copies axis \(i) of a rank-\(dims.count) tensor") }
            out[i] = dims[i]
        }
        let total = dims.reduce(1, *)
        let unknown = out.indices.filter { out[$0] == -1 }
        if unknown.count > 1 || out.contains(where: { $0 < -1 }) { throw fail("shape \(target) is not a valid reshape") }
        if let u = unknown.first {
            let known = out.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            guard known > 0, total % known == 0 else { throw fail("cannot reshape \(dims) to \(target)") }
            out[u] = total / known
        }
        if out.reduce(1, *) != total { throw fail("cannot reshape \(dims) to \(target)") }
        return out
    }

    /// A segrun node's output as ONNX dims at the import size: N, C, [D,] H, W.
    func shapeDims(_ index: Int) -> [Int] {
        let s = shapes[index]
        return [s.batch, s.channels] + s.spatial
    }
}
