// The Train module is filled by its own issue; this file keeps the target building.
import Engine

/// Marks the Train module as present; replaced when the module is implemented.
public enum TrainModule {
    public static let implemented = false
}
