// swift-tools-version: 6.1
//
// segrun's microbenchmarks, in their own package so that package-benchmark and its dependencies never
// slow the main build or CI. Run from this folder:
//
//   swift package benchmark                      # every kernel on every U-Net layer shape
//   swift package benchmark --filter "64->64"
//
// The same suite (SegrunBenchmarks) also runs without this package: `swift run -c release segrun bench --kernels`.
import PackageDescription

let package = Package(
    name: "segrun-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "segrun", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "SegrunBenchmarks", package: "segrun"),
                .product(name: "Engine", package: "segrun"),
                .product(name: "Kernels", package: "segrun"),
            ],
            path: "Benchmarks/KernelBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
