/// A dense float tensor in the logical NCHW order (N, C, H, W; NCDHW for a volume): what callers hand the
/// executor and get back. Inside, the executor works on NHWC (NDHWC).
public struct Tensor: Equatable {
    public var shape: TensorShape
    public var data: [Float]

    public init(shape: TensorShape, data: [Float]) {
        precondition(data.count == shape.elementCount, "tensor \(shape) needs \(shape.elementCount) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: TensorShape) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.elementCount))
    }

    /// Element (n, c, y, x).
    public subscript(n: Int, c: Int, y: Int, x: Int) -> Float {
        get { data[((n * shape.channels + c) * shape.height + y) * shape.width + x] }
        set { data[((n * shape.channels + c) * shape.height + y) * shape.width + x] = newValue }
    }
}

/// Conversions between the API's NCHW and the kernels' NHWC.
public enum LayoutConversion {
    public static func nchwToNHWC(_ src: UnsafePointer<Float>, _ shape: TensorShape, into dst: UnsafeMutablePointer<Float>) {
        let c = shape.channels, hw = shape.pixelsPerImage
        for n in 0..<shape.batch {
            let s = src + n * c * hw, d = dst + n * c * hw
            if c == 1 { d.update(from: s, count: hw); continue }
            for ch in 0..<c { for p in 0..<hw { d[p * c + ch] = s[ch * hw + p] } }
        }
    }

    public static func nhwcToNCHW(_ src: UnsafePointer<Float>, _ shape: TensorShape, into dst: UnsafeMutablePointer<Float>) {
        let c = shape.channels, hw = shape.pixelsPerImage
        for n in 0..<shape.batch {
            let s = src + n * c * hw, d = dst + n * c * hw
            if c == 1 { d.update(from: s, count: hw); continue }
            for ch in 0..<c { for p in 0..<hw { d[ch * hw + p] = s[p * c + ch] } }
        }
    }
}
