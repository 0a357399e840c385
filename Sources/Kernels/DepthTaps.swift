/// The depth axis of a 3D convolution run by a 2D kernel whose input channels are the window's depth taps: output
/// slice `oz` reads input slices `oz * stride - padBegin + k * dilation` for taps `k`, zeros outside `0..<inDepth`.
public struct DepthTaps: Equatable, Sendable {
    public let inDepth: Int
    public let outDepth: Int
    public let stride: Int
    public let padBegin: Int
    public let dilation: Int

    public init(inDepth: Int, outDepth: Int, stride: Int, padBegin: Int, dilation: Int) {
        self.inDepth = inDepth
        self.outDepth = outDepth
        self.stride = stride
        self.padBegin = padBegin
        self.dilation = dilation
    }
}
