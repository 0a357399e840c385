// swift-tools-version: 6.0
//
// segrun: U-Net-family segmentation on CPUs, in Swift.
//
// Module direction (one way only):  Kernels <- Engine <- Quant, Train <- segrun
//
// Target CPU switch
// -----------------
// Plain `swift build` targets baseline x86-64, where SIMD `addingProduct` becomes a call to
// `fmaf` (10-50x slower). This manifest therefore passes a target CPU to the compiler:
//
//   SEGRUN_TARGET_CPU unset      -> `native` (the CPU of the build machine; the default)
//   SEGRUN_TARGET_CPU=znver3     -> any LLVM CPU name (znver3, znver4, haswell, skylake-avx512, ...)
//   SEGRUN_TARGET_CPU=none       -> no flag: portable baseline build (slow; `segrun bench` refuses to run)
//   SEGRUN_TARGET_CPU=x86-64     -> the same baseline, named (scripts/build-portable builds it with skylake-avx512
//                                   and haswell beside a launcher that picks one at start)
//
// The kernels also need to know, at compile time, whether 16-wide (AVX-512) tiles are native.
// The manifest derives the compilation conditions SEGRUN_FMA, SEGRUN_AVX512 and SEGRUN_VNNI from the chosen CPU
// (for `native` it reads the flags of /proc/cpuinfo). After changing the variable, run
// `swift package clean` so that every module is rebuilt with the new flags.
import PackageDescription
import Foundation

let targetCPU = ProcessInfo.processInfo.environment["SEGRUN_TARGET_CPU"] ?? "native"

/// CPU features (as /proc/cpuinfo names them) that the chosen target CPU guarantees.
func features(of cpu: String) -> Set<String> {
    let avx2: Set<String> = ["avx2", "fma"]
    let avx512: Set<String> = avx2.union(["avx512f", "avx512bw", "avx512vl"])
    switch cpu {
    case "none", "x86-64", "x86-64-v2": return []
    case "native":
        #if os(Linux)
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return [] }
        return Set(flagsLine.split(separator: " ").map(String.init))
        #else
        return []
        #endif
    case "haswell", "broadwell", "skylake", "znver1", "znver2", "znver3", "x86-64-v3", "core-avx2":
        return avx2
    case "alderlake", "raptorlake", "meteorlake", "arrowlake":
        return avx2.union(["avx_vnni"])
    case "znver4", "znver5", "cascadelake", "cooperlake", "tigerlake", "sapphirerapids", "emeraldrapids", "graniterapids":
        return avx512.union(["avx512_vnni"])
    default:
        if cpu.hasPrefix("icelake") { return avx512.union(["avx512_vnni"]) }
        if cpu.hasPrefix("znver") || cpu.contains("avx512") || cpu.hasPrefix("sapphirerapids")
            || cpu.hasPrefix("icelake") || cpu.hasPrefix("cascadelake") || cpu == "x86-64-v4" {
            return avx512
        }
        return avx2
    }
}

let cpuFeatures = features(of: targetCPU)
var kernelSettings: [SwiftSetting] = []
#if arch(x86_64)
if targetCPU.hasPrefix("x86-64-v") {
    // `-target-cpu` refuses the x86-64-vN level names; Swift takes its features from clang's -march instead.
    kernelSettings.append(.unsafeFlags(["-Xcc", "-march=\(targetCPU)"]))
} else if targetCPU != "none" {
    kernelSettings.append(.unsafeFlags(["-target-cpu", targetCPU, "-Xcc", "-march=\(targetCPU)"]))
}
if cpuFeatures.contains("fma") && cpuFeatures.contains("avx2") { kernelSettings.append(.define("SEGRUN_FMA")) }
if cpuFeatures.contains("avx512f") { kernelSettings.append(.define("SEGRUN_AVX512")) }
// int8 dot products in one instruction (vpdpbusd): AVX512-VNNI with 256-bit forms (VL), or AVX-VNNI.
if (cpuFeatures.contains("avx512_vnni") && cpuFeatures.contains("avx512vl")) || cpuFeatures.contains("avx_vnni") {
    kernelSettings.append(.define("SEGRUN_VNNI"))
}
// The same on 512-bit registers (AVX512-VNNI): the int8 tile then covers two column blocks at once. Only with
// SEGRUN_VNNI, whose unflipped activations the 512-bit tile assumes.
if cpuFeatures.contains("avx512_vnni") && cpuFeatures.contains("avx512f") && cpuFeatures.contains("avx512vl") {
    kernelSettings.append(.define("SEGRUN_VNNI_ZMM"))
}
#elseif arch(arm64)
kernelSettings.append(.define("SEGRUN_FMA"))
#endif

let package = Package(
    name: "segrun",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "segrun", targets: ["segrun"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "ImageIO", targets: ["ImageIO"]),
        .library(name: "SegrunBenchmarks", targets: ["SegrunBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Pure single-threaded SIMD kernels over tiles. Standard library only; Embedded-compatible.
        // Optimized even in debug builds (`swift test`): unoptimized SIMD code is 50-100x slower, and the
        // tests should exercise the code that ships. Preconditions and overflow checks stay on under -O.
        // One-instruction C wrappers for the int8 kernels (vpmaddwd): the accepted exception to "no C".
        .target(name: "CInt8"),
        // One-instruction C wrappers for streaming stores (vmovntps), for kernel outputs far larger than the caches.
        .target(name: "CStreamStore"),
        .target(name: "Kernels", dependencies: ["CInt8", "CStreamStore"], swiftSettings: kernelSettings + [.unsafeFlags(["-O"])]),
        // Randomized kernel-vs-reference checks, shared by XCTest and the Embedded ARM runner.
        .target(name: "KernelChecks", dependencies: ["Kernels"], swiftSettings: kernelSettings),
        // Runtime: threads, operators with plan/run, graph IR, model file, executor.
        .target(name: "Engine", dependencies: ["Kernels"], swiftSettings: kernelSettings + [.unsafeFlags(["-O"])]),
        // The Float64 reference executor that the optimized executor is checked against.
        // Optimized even in debug builds: the Float64 loops would otherwise dominate the test time.
        .target(name: "EngineChecks", dependencies: ["Engine", "Kernels"], swiftSettings: kernelSettings + [.unsafeFlags(["-O"])]),
        // Image IO: libpng (simplified API) and libjpeg (with a setjmp shim, the accepted C exception).
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .target(name: "JPEGShim", dependencies: ["CJPEG"]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "ImageIO", dependencies: ["CPNG", "JPEGShim", "CZlib"]),
        .target(name: "Volumes", dependencies: ["Engine", "Kernels", "ImageIO"], swiftSettings: kernelSettings),
        .target(name: "Quant", dependencies: ["Engine"], swiftSettings: kernelSettings),
        .target(name: "Train", dependencies: ["Engine", "Kernels", "ImageIO", "Volumes", .target(name: "CMalloc", condition: .when(platforms: [.linux]))], swiftSettings: kernelSettings),
        // Kernel and model benchmarks, shared by `segrun bench` and the Benchmarks/ package.
        .target(name: "SegrunBenchmarks", dependencies: ["Engine"], swiftSettings: kernelSettings),
        // Past one machine: shards of a batch job (Slurm arrays, Kubernetes Indexed Jobs) and their summaries.
        .target(name: "Cluster"),
        // Instances from masks (connected components, watershed) and their scores (AP at IoU thresholds), the
        // UW-Madison multi-label score (Dice and 3D Hausdorff from the distance transform); no dependencies.
        .target(name: "Instances"),
        // ONNX in and out: a protocol-buffer reader of its own, the importer onto segrun's IR (above Engine).
        .target(name: "ONNX", dependencies: ["Engine", "Kernels"]),
        .executableTarget(
            name: "segrun",
            dependencies: [
                "Engine", "Quant", "Train", "SegrunBenchmarks", "ImageIO", "Volumes", "Cluster", "ONNX", "Instances",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: kernelSettings),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
        .testTarget(name: "InstancesTests", dependencies: ["Instances"]),
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "Engine"], exclude: ["Fixtures"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "KernelChecks"], swiftSettings: kernelSettings),
        .testTarget(name: "TrainTests", dependencies: ["Train", "Engine", "EngineChecks", "KernelChecks", "ImageIO", "Volumes", "Instances"], exclude: ["Golden"], swiftSettings: kernelSettings),
        .testTarget(name: "ImageIOTests", dependencies: ["ImageIO"], exclude: ["Fixtures"]),
        .testTarget(name: "VolumesTests", dependencies: ["Volumes", "Engine", "ImageIO", "Kernels"], swiftSettings: kernelSettings),
        .testTarget(name: "QuantTests", dependencies: ["Quant", "Engine", "Kernels", "KernelChecks"], swiftSettings: kernelSettings),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "KernelChecks", "EngineChecks"], exclude: ["Golden"], swiftSettings: kernelSettings),
    ],
    // Kernels pass raw pointers across the parallel-for; Swift 5 mode keeps that legal without @unchecked wrappers.
    swiftLanguageModes: [.v5]
)
