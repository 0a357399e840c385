// The Quant module is filled by its own issue; this file keeps the target building.
import Engine

/// Marks the Quant module as present; replaced when the module is implemented.
public enum QuantModule {
    public static let implemented = false
}
