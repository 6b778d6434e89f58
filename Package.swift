// swift-tools-version:6.0
// The landmark retrieval and recognition system. One module per stage of METHODS.md;
// dependencies point one way: C libraries ← core (image, linear algebra) ← index / descriptors /
// evaluation ← pipeline ← front ends (the `landmark` CLI).
import PackageDescription

let package = Package(
    name: "landmark",
    platforms: [.macOS(.v15)],  // Synchronization.Mutex (the service) needs macOS 15
    products: [
        .executable(name: "landmark", targets: ["landmark"]),
        .library(name: "LandmarkPipeline", targets: ["LandmarkPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The HTTP service (issue 13): Hummingbird 2 on SwiftNIO, structured logs, Prometheus metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System C libraries, installed by scripts/setup.sh from Debian's packages.
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),

        // Core stages.
        .target(name: "LandmarkStorage", dependencies: []),
        .target(name: "LandmarkImage", dependencies: ["CTurboJPEG", "CPNG", "CVectorKernels"]),
        .target(name: "LandmarkLinearAlgebra", dependencies: ["COpenBLAS", "CVectorKernels", "LandmarkStorage"]),
        // Prefetch hints for the graph and shortlist walks of approximate search (one static inline C function).
        .target(name: "CMemoryHints", dependencies: []),
        .target(name: "CVectorKernels", dependencies: []),
        .target(name: "LandmarkIndex", dependencies: ["LandmarkLinearAlgebra", "LandmarkStorage", "CMemoryHints"]),
        .target(name: "LandmarkPickle", dependencies: []),
        .target(name: "LandmarkTensor", dependencies: ["LandmarkLinearAlgebra", "CVectorKernels"]),
        .target(name: "LandmarkCheckpoint", dependencies: ["LandmarkPickle", "LandmarkStorage"]),
        .target(name: "LandmarkNetworks", dependencies: ["LandmarkTensor", "LandmarkCheckpoint", "LandmarkLinearAlgebra"]),
        .target(name: "LandmarkLocalFeatures", dependencies: ["LandmarkImage", "LandmarkLinearAlgebra", "CVectorKernels"]),
        .target(name: "LandmarkGeometry", dependencies: ["LandmarkLinearAlgebra"]),
        .target(name: "LandmarkEvaluation", dependencies: ["LandmarkPickle", "LandmarkImage"]),
        .target(name: "LandmarkDescriptors", dependencies: [
            "LandmarkImage", "LandmarkLinearAlgebra", "LandmarkTensor", "LandmarkNetworks", "LandmarkStorage",
        ]),
        .target(name: "LandmarkTraining", dependencies: [
            "LandmarkTensor", "LandmarkLinearAlgebra", "LandmarkNetworks", "LandmarkCheckpoint", "LandmarkStorage",
            "LandmarkPickle", "LandmarkImage", "LandmarkDescriptors", "LandmarkEvaluation",
        ]),
        .target(name: "LandmarkDemo", dependencies: ["LandmarkImage", "LandmarkLinearAlgebra", "LandmarkStorage"]),
        .target(name: "LandmarkRecognition", dependencies: ["LandmarkLinearAlgebra", "LandmarkEvaluation", "LandmarkGeometry"]),
        .target(name: "LandmarkReranking", dependencies: ["LandmarkLinearAlgebra", "LandmarkIndex", "LandmarkStorage"]),
        .target(name: "LandmarkPipeline", dependencies: [
            "LandmarkImage", "LandmarkLinearAlgebra", "LandmarkIndex", "LandmarkEvaluation",
            "LandmarkDescriptors", "LandmarkDemo", "LandmarkLocalFeatures", "LandmarkGeometry",
            "LandmarkReranking", "LandmarkRecognition", "LandmarkTraining", "LandmarkStorage",
        ]),
        .target(name: "LandmarkMining", dependencies: [
            "LandmarkPipeline", "LandmarkTraining", "LandmarkLinearAlgebra", "LandmarkStorage", "LandmarkImage",
            "LandmarkEvaluation", "LandmarkGeometry",
        ]),
        .target(name: "LandmarkBenchmarks", dependencies: [
            "LandmarkImage", "LandmarkLinearAlgebra", "LandmarkIndex", "LandmarkPipeline", "LandmarkTensor",
            "LandmarkDescriptors", "LandmarkNetworks", "LandmarkCheckpoint", "LandmarkGeometry", "LandmarkLocalFeatures",
            "LandmarkTraining", "LandmarkReranking", "LandmarkVectorDatabase",
        ]),

        // The HTTP service: routes, the web page and the work queue over the pipeline.
        .target(name: "LandmarkService", dependencies: [
            "LandmarkPipeline", "LandmarkImage", "LandmarkIndex", "LandmarkLinearAlgebra", "LandmarkRecognition",
            "LandmarkGeometry", "LandmarkLocalFeatures", "LandmarkDescriptors", "LandmarkVectorDatabase",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], resources: [.copy("Web")]),

        // Beyond one machine (issue 15): jobs on Apache Spark whose tasks run this binary on one part of
        // the work each (index shards, kNN row blocks), merged into ordinary index directories.
        .target(name: "LandmarkSpark", dependencies: ["LandmarkPipeline", "LandmarkMining", "LandmarkIndex", "LandmarkStorage", "LandmarkLinearAlgebra"]),

        // Serving from a vector database (issue 15): PostgreSQL with pgvector through libpq.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "LandmarkVectorDatabase", dependencies: ["CLibPQ", "LandmarkIndex", "LandmarkLinearAlgebra"]),

        // Fuzzing (issue 14): the parsers of untrusted input as functions of bytes, the libFuzzer entry
        // point (scripts/fuzz.sh builds it with -sanitize=fuzzer,address) and a replayer.
        .target(name: "LandmarkFuzzing", dependencies: [
            "LandmarkPickle", "LandmarkCheckpoint", "LandmarkIndex", "LandmarkEvaluation", "LandmarkImage",
            "LandmarkPipeline", "LandmarkDescriptors", "LandmarkLinearAlgebra",
        ]),
        .executableTarget(name: "landmark-fuzz", dependencies: ["LandmarkFuzzing"]),

        // Front end.
        .executableTarget(name: "landmark", dependencies: [
            "LandmarkPipeline", "LandmarkBenchmarks", "LandmarkRecognition", "LandmarkTraining", "LandmarkEvaluation",
            "LandmarkLinearAlgebra", "LandmarkNetworks", "LandmarkMining", "LandmarkGeometry", "LandmarkIndex",
            "LandmarkService", "LandmarkStorage", "LandmarkSpark", "LandmarkVectorDatabase",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Tests.
        .testTarget(name: "LandmarkImageTests", dependencies: ["LandmarkImage"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkStorageTests", dependencies: ["LandmarkStorage"]),
        .testTarget(name: "LandmarkLinearAlgebraTests", dependencies: ["LandmarkLinearAlgebra"]),
        .testTarget(name: "LandmarkTensorTests", dependencies: ["LandmarkTensor", "LandmarkLinearAlgebra"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkCheckpointTests", dependencies: ["LandmarkCheckpoint", "LandmarkPickle", "LandmarkStorage"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkNetworksTests", dependencies: [
            "LandmarkNetworks", "LandmarkTensor", "LandmarkCheckpoint", "LandmarkDescriptors", "LandmarkImage",
            "LandmarkPickle", "LandmarkStorage",
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkLocalFeaturesTests", dependencies: [
            "LandmarkLocalFeatures", "LandmarkImage", "LandmarkLinearAlgebra",
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkGeometryTests", dependencies: ["LandmarkGeometry", "LandmarkLinearAlgebra"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkIndexTests", dependencies: ["LandmarkIndex", "LandmarkLinearAlgebra"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkEvaluationTests", dependencies: ["LandmarkEvaluation", "LandmarkPickle", "LandmarkImage"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkDescriptorsTests", dependencies: [
            "LandmarkDescriptors", "LandmarkImage", "LandmarkDemo", "LandmarkTensor", "LandmarkLinearAlgebra",
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkTrainingTests", dependencies: [
            "LandmarkTraining", "LandmarkTensor", "LandmarkLinearAlgebra", "LandmarkNetworks", "LandmarkCheckpoint",
            "LandmarkPickle", "LandmarkImage", "LandmarkDemo", "LandmarkEvaluation", "LandmarkDescriptors",
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkRecognitionTests", dependencies: [
            "LandmarkRecognition", "LandmarkEvaluation", "LandmarkLinearAlgebra",
        ]),
        .testTarget(name: "LandmarkRerankingTests", dependencies: ["LandmarkReranking", "LandmarkLinearAlgebra"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LandmarkMiningTests", dependencies: [
            "LandmarkMining", "LandmarkTraining", "LandmarkPipeline", "LandmarkDemo", "LandmarkDescriptors", "LandmarkImage",
        ]),
        .testTarget(name: "LandmarkServiceTests", dependencies: [
            "LandmarkService", "LandmarkPipeline", "LandmarkDemo", "LandmarkImage", "LandmarkLinearAlgebra",
            "LandmarkDescriptors", "LandmarkIndex", "LandmarkRecognition", "LandmarkVectorDatabase",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "LandmarkFuzzingTests", dependencies: ["LandmarkFuzzing"], resources: [.copy("Corpus")]),
        .testTarget(name: "LandmarkPipelineTests", dependencies: [
            "LandmarkPipeline", "LandmarkDemo", "LandmarkEvaluation", "LandmarkIndex", "LandmarkDescriptors",
            "LandmarkImage", "LandmarkLinearAlgebra", "LandmarkMining", "LandmarkSpark", "LandmarkVectorDatabase",
            "LandmarkBenchmarks",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
