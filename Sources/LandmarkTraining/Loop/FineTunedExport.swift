import Foundation

/// Writes a trained network as `final.pth` (cirtorch's layout: `meta` + `state_dict`) and
/// `final.safetensors`, the two formats `landmark index --model` and PyTorch users load.
enum FineTunedExport {
    static func write(_ network: FineTunedNetwork, to directory: URL, epoch: Int) throws {
        let pooling: String
        switch network.head.pooling {
        case .mac: pooling = "mac"
        case .spoc: pooling = "spoc"
        case .gem: pooling = "gem"
        }
        let metadata = RetrievalNetworkMetadata(
            architecture: network.architecture, pooling: pooling, whitening: network.head.hasWhitening,
            mean: network.mean.map(\.intendedDouble), std: network.standardDeviation.map(\.intendedDouble),
            outputDimension: network.head.outputDimension)
        let state = network.stateDictionary()
        let checkpoint = RetrievalCheckpoint(epoch: epoch, metadata: metadata, stateDictionary: state)
        try CheckpointWriter.writeTorch(checkpoint, to: directory.appendingPathComponent(FineTuningRun.finalCheckpointName))
        try CheckpointWriter.writeSafetensors(checkpoint, to: directory.appendingPathComponent("final.safetensors"))
    }
}
