import ArgumentParser
import Instances

/// How `predict --instances` and `eval --instances` split a binary mask into instances.
struct InstanceOptions: ParsableArguments {
    @Option(help: "With --instances: the neighbours that join pixels into one instance: 4 or 8 in images; in volumes 6 (faces) or 26 (corners too), and 4 or 8 mean the same there.")
    var connectivity: Int = 8

    @Option(help: "With --instances: how touching objects are told apart: none (connected components), distance (a seeded watershed on the distance to the background, one seed per object centre), or boundary (a 3-class model's classes 0 background, 1 interior, 2 boundary: each connected interior grown over its boundary).")
    var split: String = "none"

    @Option(help: "With --split distance: object centres closer than this many pixels share one seed.")
    var minDistance: Int = 3

    @Option(help: "With --instances: instances of fewer pixels are dropped.")
    var minSize: Int = 1

    func validate() throws {
        if ![4, 8, 6, 26].contains(connectivity) { throw ValidationError("--connectivity takes 4 or 8 (images), 6 or 26 (volumes)") }
        if !["none", "distance", "boundary"].contains(split) { throw ValidationError("--split takes none, distance or boundary") }
        if minDistance < 1 { throw ValidationError("--min-distance must be at least 1") }
        if minSize < 1 { throw ValidationError("--min-size must be at least 1") }
    }

    /// Faces only (4, 6) or corners too (8, 26), for images and volumes alike.
    var neighbours: Connectivity { connectivity == 4 || connectivity == 6 ? .face : .full }
    var method: InstanceSplit {
        switch split {
        case "distance": return .distance(minimumDistance: minDistance)
        case "boundary": return .boundary
        default: return .components
        }
    }

    /// Throws unless a model of `classes` classes suits this split: boundary needs the 3 classes background,
    /// interior, boundary; the others take the foreground (every class but 0) of any model.
    func check(classes: Int) throws {
        if split == "boundary" && classes != 3 {
            throw CLIError("--split boundary needs a 3-class model (background, interior, boundary); this one has \(classes) class(es)")
        }
    }

    /// The instances of an H x W label map (class ids; for boundary, 1 interior and 2 boundary).
    func instances(_ labels: [UInt8], height: Int, width: Int) -> InstanceLabels {
        method.instances(labels, size: [height, width], connectivity: neighbours, minimumSize: minSize)
    }

    /// The instances of a label volume of `size` [x, y, z] (x fastest, as volumes are stored) with its voxel
    /// `spacing`: in 3D (6 or 26 neighbours), the watershed flooding by the distance in millimetres.
    func instances(volume labels: [UInt8], size: [Int], spacing: [Double]) -> InstanceLabels {
        method.instances(labels, size: [size[2], size[1], size[0]], connectivity: neighbours, minimumSize: minSize,
                         spacing: [spacing[2], spacing[1], spacing[0]])
    }
}
