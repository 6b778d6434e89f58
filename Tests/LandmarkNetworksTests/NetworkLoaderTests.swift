import Foundation
import LandmarkCheckpoint
import LandmarkNetworks
import LandmarkPickle
import LandmarkTensor
import Testing

@Suite struct NetworkLoaderTests {
    func expectError(_ code: CheckpointError.Code, mentioning text: String, _ body: () throws(CheckpointError) -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func infersTheArchitectureFromCirtorchKeys() throws {
        let resnet50 = try NetworkFixtures.seededCheckpoint("cirtorch_resnet50_gem")
        let backbone = try NetworkLoader.backbone(from: resnet50)
        #expect(backbone.architecture == "resnet50")
        #expect(backbone.outputChannels == 2048)
        let resnet101 = try NetworkFixtures.seededCheckpoint("cirtorch_resnet101_gem")
        #expect(try NetworkLoader.backbone(from: resnet101).architecture == "resnet101")
        let torchvision = try NetworkFixtures.seededCheckpoint("torchvision_resnet50")
        #expect(try NetworkLoader.backbone(from: torchvision).architecture == "resnet50")
        #expect(try NetworkLoader.classifier(from: torchvision).classifier.outputCount == 1000)
    }

    @Test func readsTheRetrievalHeadFromMeta() throws {
        let metadata = NetworkFixtures.cirtorchMetadata(architecture: "resnet50", pooling: "gem")
        var checkpoint = try NetworkFixtures.seededCheckpoint("cirtorch_resnet50_gem", metadata: metadata)
        var head = try NetworkLoader.retrievalHead(from: checkpoint)
        #expect(head.pooling == "gem")
        #expect(head.gemP == 3)
        #expect(head.whitening == nil)
        #expect(head.mean == [0.485, 0.456, 0.406])
        #expect(head.std == [0.229, 0.224, 0.225])

        // A whitened checkpoint: whiten.weight / whiten.bias become a Linear 2048 → 512.
        var tensors = checkpoint.tensors
        let generator = SeededParameters()
        tensors["whiten.weight"] = CheckpointTensor(shape: [512, 2048], values: generator.values(for: "whiten.weight", shape: [512, 2048]) ?? [])
        tensors["whiten.bias"] = CheckpointTensor(shape: [512], values: generator.values(for: "whiten.bias", shape: [512]) ?? [])
        var whitenedMeta = metadata
        whitenedMeta["whitening"] = .bool(true)
        checkpoint = Checkpoint(tensors: tensors, metadata: whitenedMeta, file: "whitened")
        head = try NetworkLoader.retrievalHead(from: checkpoint)
        #expect(head.whitening?.inputCount == 2048)
        #expect(head.whitening?.outputCount == 512)

        tensors["whiten.bias"] = nil
        let broken = Checkpoint(tensors: tensors, metadata: whitenedMeta, file: "broken.pth")
        expectError(.missingTensor, mentioning: "whiten.bias") { () throws(CheckpointError) in
            _ = try NetworkLoader.retrievalHead(from: broken)
        }
    }

    @Test func reportsMissingAndMisshapedTensors() throws {
        let checkpoint = try NetworkFixtures.seededCheckpoint("cirtorch_resnet50_gem")
        var tensors = checkpoint.tensors
        tensors["features.5.2.bn2.running_var"] = nil
        let missing = Checkpoint(tensors: tensors, file: "missing.pth")
        expectError(.missingTensor, mentioning: "features.5.2.bn2.running_var") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: missing)
        }
        tensors = checkpoint.tensors
        tensors["features.6.0.conv2.weight"] = CheckpointTensor(shape: [256, 256, 1, 3], values: [Float](repeating: 0, count: 256 * 256 * 3))
        let misshaped = Checkpoint(tensors: tensors, file: "misshaped.pth")
        expectError(.shapeMismatch, mentioning: "features.6.0.conv2.weight") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: misshaped)
        }
        // ResNet-50's tensors are not a ResNet-101.
        expectError(.shapeMismatch, mentioning: "bottlenecks") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: checkpoint, architecture: "resnet101")
        }
    }

    @Test func rejectsUnknownArchitectures() throws {
        let checkpoint = try NetworkFixtures.seededCheckpoint("cirtorch_resnet50_gem")
        expectError(.unknownArchitecture, mentioning: "alexnet") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: checkpoint, architecture: "alexnet")
        }
        expectError(.unknownArchitecture, mentioning: "vgg16") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: checkpoint, architecture: "vgg16")
        }
        let metadata = NetworkFixtures.cirtorchMetadata(architecture: "densenet121", pooling: "gem")
        let densenet = Checkpoint(tensors: checkpoint.tensors, metadata: metadata, file: "densenet.pth")
        expectError(.unknownArchitecture, mentioning: "densenet121") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: densenet)
        }
        let strange = Checkpoint(tensors: ["encoder.weight": CheckpointTensor(shape: [2], values: [1, 2])], file: "strange.pth")
        expectError(.unknownArchitecture, mentioning: "encoder.weight") { () throws(CheckpointError) in
            _ = try NetworkLoader.backbone(from: strange)
        }
        // cirtorch checkpoints carry no ImageNet classifier.
        expectError(.missingTensor, mentioning: "fc.weight") { () throws(CheckpointError) in
            _ = try NetworkLoader.classifier(from: checkpoint)
        }
    }

    /// VGG16 in cirtorch's layout: 13 convolutions, no final max-pool, 512 channels at 1/16 resolution.
    @Test func buildsVGG16WithoutItsLastPool() throws {
        let configuration = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512]
        var tensors: [String: CheckpointTensor] = [:]
        var index = 0, inputs = 3
        let generator = SeededParameters()
        for outputs in configuration {
            guard outputs > 0 else { index += 1; continue }
            let shape = [outputs, inputs, 3, 3]
            tensors["features.\(index).weight"] = CheckpointTensor(shape: shape, values: generator.values(for: "features.\(index).weight", shape: shape) ?? [])
            tensors["features.\(index).bias"] = CheckpointTensor(shape: [outputs], values: generator.values(for: "features.\(index).bias", shape: [outputs]) ?? [])
            inputs = outputs
            index += 2
        }
        let checkpoint = Checkpoint(tensors: tensors, metadata: ["architecture": .string("vgg16")], file: "vgg16.pth")
        let backbone = try NetworkLoader.backbone(from: checkpoint)
        #expect(backbone.architecture == "vgg16")
        let input = FeatureMap(channels: 3, height: 35, width: 50, repeating: 0.5)
        let output = backbone.features(input, workspace: TensorWorkspace())
        #expect(output.channels == 512 && output.height == 35 / 16 && output.width == 50 / 16)
        #expect(output.storage.allSatisfy { $0 >= 0 })
    }
}
