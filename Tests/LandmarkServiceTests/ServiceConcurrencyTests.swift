import Foundation
import LandmarkDescriptors
import LandmarkLinearAlgebra
import LandmarkPipeline
@testable import LandmarkService
import Testing

/// Requests at once give exactly the answers they give one at a time: no state is shared between
/// them (BLAS threading is fixed at start-up, each CNN call borrows its own workspace, the served
/// index is an immutable snapshot).
@Suite struct ServiceConcurrencyTests {
    static var weightsPresent: Bool { (try? ModelCache.resolve("lite2")) != nil }

    @Test(.enabled(if: weightsPresent, "needs the Lite2 weights (scripts/setup.sh)"))
    func eightConcurrentSearchesAndDescriptionsEqualSerialOnesBitForBit() throws {
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite2", size: 192))
        let fixture = try ServiceFixture(extractor: extractor)
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        let extraction = DescriptorExtraction(extractor: extractor)
        let photos = try (0 ..< 8).map { try fixture.photo($0 % fixture.entries.count) }
        let items = (0 ..< 8).map { ExtractionItem(url: fixture.url($0 % fixture.entries.count), name: "\($0)") }

        @Sendable func work(_ position: Int) throws -> (descriptor: [Float], hits: [ServiceResponses.Hit]) {
            // Alternate one and two engine threads inside a description, as a busy service would.
            let descriptor = try extraction.describe(items[position], threads: 1 + position % 2).get()
            return (descriptor, try engine.search(photo: photos[position], top: 5).results)
        }
        let serial = try (0 ..< 8).map(work)

        typealias Outcome = Result<(descriptor: [Float], hits: [ServiceResponses.Hit]), any Error>
        let results = ResultSlots<Outcome?>(count: 8, initial: nil)
        let group = DispatchGroup()
        for position in 0 ..< 8 {
            group.enter()
            let thread = Thread {
                results.set(position, Result { try work(position) })
                group.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        for position in 0 ..< 8 {
            let concurrent = try #require(results.values[position]).get()
            #expect(concurrent.descriptor == serial[position].descriptor, "description \(position) differs")
            #expect(concurrent.hits == serial[position].hits, "search \(position) differs")
        }
        #expect(serial.allSatisfy { $0.hits.count == 5 })
    }
}
