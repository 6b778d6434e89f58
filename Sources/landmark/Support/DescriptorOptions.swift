import ArgumentParser
import Foundation
import LandmarkDescriptors

/// The options that choose a global descriptor, shared by `index`, `evaluate`, `demo` and `whiten`.
struct DescriptorOptions: ParsableArguments {
    @Option(help: "Descriptor: cnn (default) or baseline (weight-free).")
    var descriptor: String = CNNDescriptorConfiguration.prefix

    @Option(help: "Network weights: lite2 (default), lite0, or a checkpoint (.pth, .safetensors; torchvision or cirtorch layout).")
    var model: String?

    @Option(parsing: .unconditional, help: "Longer image side fed to the network (default \(CNNDescriptorConfiguration.defaultSize)).")
    var size: Int?

    @Option(help: "Comma-separated scales for multi-scale extraction, e.g. 1,0.707,0.5 (default 1).")
    var scales: String?

    @Option(help: "Pooling: gem[:p] (default gem:3, or the checkpoint's), mac, spoc, rmac.")
    var pooling: String?

    @Option(help: "Whitening file made by `landmark whiten learn`.")
    var whitening: String?

    @Option(parsing: .unconditional, help: "Dimensions kept after whitening (PCA reduction).")
    var whiteningDimensions: Int?

    /// The options as given, for another `landmark` process that must describe images the same way (a
    /// Spark task); paths are made absolute, since the task may start in another directory.
    var commandLineArguments: [String] {
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var arguments = ["--descriptor", descriptor]
        if let model { arguments += ["--model", model.contains("/") || model.contains(".") ? absolute(model) : model] }
        if let size { arguments += ["--size", String(size)] }
        if let scales { arguments += ["--scales", scales] }
        if let pooling { arguments += ["--pooling", pooling] }
        if let whitening { arguments += ["--whitening", absolute(whitening)] }
        if let whiteningDimensions { arguments += ["--whitening-dimensions", String(whiteningDimensions)] }
        return arguments
    }

    /// The CNN configuration the options describe (nil for the baseline).
    func configuration() throws -> CNNDescriptorConfiguration? {
        let name = descriptor.lowercased()
        if name == "baseline" || name == GradientColourHistogramBaseline.name {
            let cnnOnly = [model, size.map(String.init), scales, pooling, whitening, whiteningDimensions.map(String.init)]
            guard cnnOnly.allSatisfy({ $0 == nil }) else {
                throw ValidationError("--model, --size, --scales, --pooling and --whitening apply to the cnn descriptor only")
            }
            return nil
        }
        do {
            var configuration = try CNNDescriptorConfiguration(name: descriptor)
            if let model { configuration.model = model }
            if let size {
                guard size >= 32 else { throw ValidationError("--size must be at least 32") }
                configuration.size = size
            }
            if let scales { configuration.scales = try CNNDescriptorConfiguration.parseScales(scales) }
            if let pooling { configuration.pooling = try CNNDescriptorConfiguration.parsePooling(pooling) }
            if let whitening { configuration.whitening = whitening }
            if let whiteningDimensions { configuration.dimensions = whiteningDimensions }
            return configuration
        } catch let error as DescriptorError {
            throw ValidationError(error.reason)
        }
    }

    /// Loads the extractor (network weights, whitening) the options describe.
    func makeExtractor() throws -> any GlobalDescriptorExtractor {
        do {
            guard let configuration = try configuration() else { return GradientColourHistogramBaseline() }
            return try CNNGlobalDescriptor(configuration)
        } catch let error as DescriptorError {
            Console.error("error: \(error.reason)")
            throw LandmarkExitCode.failure
        }
    }
}
