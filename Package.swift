// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ferd",
    platforms: [.macOS(.v14)],
    // Only the command line is a product: the modules are ferd's own layers, built with unsafe speed flags
    // (-Ounchecked for the tensor engine), which SwiftPM accepts in a root package but not in a dependency.
    products: [
        .executable(name: "ferd", targets: ["ferd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),

        .target(name: "FerdSystem"),
        .target(name: "FerdTensor",
                dependencies: ["COpenBLAS", "FerdRandom", "FerdSystem", .product(name: "Logging", package: "swift-log")],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .target(name: "FerdRandom"),
        .target(name: "FerdModels", dependencies: ["FerdTensor"]),
        .target(name: "FerdTraining",
                dependencies: ["FerdModels", "FerdTensor", "FerdData", "FerdDigest",
                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "FerdExperiment", dependencies: ["FerdData", "FerdDigest", "FerdModels", "FerdTensor", "FerdTraining", "Yams"]),
        .target(name: "FerdRuntime", dependencies: [
            "FerdSystem", "FerdCluster", "FerdCollective", "FerdZeroMQ", "FerdExperiment", "FerdTraining", "FerdData", "FerdDigest",
            "FerdLeaderboard", "FerdTensor",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "FerdZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "CHalfPrecision"),
        .target(name: "FerdCollective",
                dependencies: ["CHalfPrecision", "FerdSystem", "FerdZeroMQ", "FerdTraining", .product(name: "Logging", package: "swift-log")]),
        .target(name: "FerdCluster",
                dependencies: ["FerdSystem", "FerdZeroMQ", "FerdDigest", "FerdLeaderboard",
                               .product(name: "Logging", package: "swift-log")]),
        .target(name: "FerdLeaderboard",
                dependencies: ["CSQLite", .product(name: "Logging", package: "swift-log")]),
        .target(name: "FerdReport", dependencies: ["FerdLeaderboard", "FerdTraining"]),
        .target(name: "FerdDigest", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "FerdData",
                dependencies: ["CTurboJPEG", "FerdDigest", "FerdRandom", "FerdSystem", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(name: "FerdBench", dependencies: [
            "FerdTensor", "FerdModels", "FerdData", "COpenBLAS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/FerdBench"),
        .executableTarget(name: "FerdClusterBench", dependencies: [
            "FerdCluster", "FerdZeroMQ", "FerdLeaderboard", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/cluster"),
        .executableTarget(name: "FerdCollectiveBench", dependencies: [
            "FerdCollective", "FerdZeroMQ", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/collective"),
        .executableTarget(name: "FerdScalingBench", dependencies: [
            "FerdCollective", "FerdTraining", "FerdModels", "FerdTensor", "FerdData", "FerdZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/scaling"),
        .executableTarget(name: "ferd", dependencies: [
            "FerdTensor", "FerdModels", "FerdData", "FerdTraining", "FerdReport", "FerdRuntime", "FerdCluster",
            "FerdZeroMQ", "FerdCollective", "FerdExperiment", "FerdLeaderboard",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .target(name: "FerdTestSupport", dependencies: ["FerdTensor", "FerdData", "FerdModels", "FerdTraining",
                                                       .product(name: "Logging", package: "swift-log")],
                path: "Tests/FerdTestSupport"),
        .testTarget(name: "FerdTensorTests", dependencies: ["FerdTensor", "FerdTestSupport"]),
        .testTarget(name: "FerdTrainingTests",
                    dependencies: ["FerdTraining", "FerdData", "FerdModels", "FerdTensor", "FerdTestSupport"]),
        .testTarget(name: "FerdModelsTests", dependencies: ["FerdModels", "FerdTensor", "FerdTestSupport"]),
        .testTarget(name: "FerdClusterTests",
                    dependencies: ["FerdCluster", "FerdZeroMQ", "FerdDigest", "FerdLeaderboard", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FerdExperimentTests", dependencies: ["FerdExperiment", "FerdTraining"]),
        .testTarget(name: "FerdRuntimeTests", dependencies: [
            "FerdRuntime", "FerdCluster", "FerdCollective", "FerdZeroMQ", "FerdExperiment", "FerdLeaderboard", "FerdData", "FerdTraining",
            "FerdTestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "FerdCollectiveTests", dependencies: [
            "FerdCollective", "FerdZeroMQ", "FerdTraining", "FerdData", "FerdModels", "FerdTensor", "FerdTestSupport",
            "FerdRandom", "FerdSystem",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "FerdLeaderboardTests",
                    dependencies: ["FerdLeaderboard", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FerdReportTests", dependencies: ["FerdReport", "FerdLeaderboard", "FerdTraining"],
                    exclude: ["Golden"]),
        .testTarget(name: "FerdRandomTests", dependencies: ["FerdRandom"]),
        .testTarget(name: "FerdSystemTests", dependencies: ["FerdSystem"]),
        .testTarget(name: "FerdZeroMQTests", dependencies: ["FerdZeroMQ"]),
        .testTarget(name: "FerdDigestTests", dependencies: ["FerdDigest"]),
        .testTarget(name: "FerdDataTests", dependencies: ["FerdData", "FerdDigest", "FerdTestSupport"], exclude: ["Fixtures"]),
    ]
)
