import Kernels

/// Version of the segrun runtime, written into model files and printed by the CLI.
public enum SegrunVersion {
    public static let string = "0.1.0"
}
