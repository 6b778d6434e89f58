import LandmarkDescriptors
import Testing

@Suite struct CNNDescriptorConfigurationTests {
    @Test func nameRoundTripsThroughTheParser() throws {
        let configurations = [
            CNNDescriptorConfiguration(),
            CNNDescriptorConfiguration(model: "lite0", size: 362, scales: CNNDescriptorConfiguration.multiScale,
                                       pooling: .gem(p: 2.5)),
            CNNDescriptorConfiguration(model: "/models/my net.pth", size: 1024, scales: [1], pooling: .rmac,
                                       whitening: "/data/lw 100%.whitening", dimensions: 512),
            CNNDescriptorConfiguration(pooling: .mac),
            CNNDescriptorConfiguration(pooling: .spoc),
        ]
        for configuration in configurations {
            let parsed = try CNNDescriptorConfiguration(name: configuration.name)
            #expect(parsed.name == configuration.name)
            #expect(parsed.model == configuration.model)
            #expect(parsed.size == configuration.size)
            #expect(parsed.pooling == configuration.pooling)
            #expect(parsed.whitening == configuration.whitening)
            #expect(parsed.dimensions == configuration.dimensions)
            #expect(parsed.scales.count == configuration.scales.count)
        }
        #expect(CNNDescriptorConfiguration(scales: CNNDescriptorConfiguration.multiScale).name.contains("scales=1,0.7071,0.5"))
        #expect(try CNNDescriptorConfiguration(name: "cnn").model == CNNDescriptorConfiguration.defaultModel)
    }

    @Test func malformedSpecsAreErrors() {
        for name in ["resnet", "cnn size=12", "cnn size=big", "cnn scales=", "cnn scales=1,-1", "cnn pooling=max",
                     "cnn pooling=gem:-2", "cnn colour=blue", "cnn model", "cnn dimensions=0"] {
            #expect(throws: DescriptorError.self, "\(name)") { try CNNDescriptorConfiguration(name: name) }
        }
    }

    @Test func missingModelsAreClearErrors() {
        let configuration = CNNDescriptorConfiguration(model: "/nonexistent/weights.pth")
        #expect(throws: DescriptorError.self) { try CNNGlobalDescriptor(configuration) }
        do {
            _ = try CNNGlobalDescriptor(configuration)
        } catch {
            #expect(error.code == .modelNotFound)
            #expect(error.reason.contains("/nonexistent/weights.pth"))
        }
    }
}
