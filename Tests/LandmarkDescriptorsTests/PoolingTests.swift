import LandmarkDescriptors
import LandmarkTensor
import Foundation
import Testing

@Suite struct PoolingTests {
    static let poolings: [(key: String, pooling: GlobalPooling)] = [
        ("mac", .mac), ("spoc", .spoc), ("gem3", .gem(p: 3)), ("gem2.5", .gem(p: 2.5)), ("rmac", .rmac),
    ]

    /// Every pooling on every reference map, within 1e-5 of cirtorch after L2N (and relative 1e-5 before).
    @Test func matchesCirtorchPooling() throws {
        let reference = try ReferenceData.load()
        #expect(reference.manifest.pooling.count >= 10)
        var worst: Float = 0
        for testCase in reference.manifest.pooling {
            let shape = testCase.shape
            let map = FeatureMap(channels: shape[0], height: shape[1], width: shape[2],
                                 storage: try reference.array(testCase.input))
            for (key, pooling) in Self.poolings {
                let expected = try #require(testCase.outputs[key])
                let raw = pooling(map)
                let expectedRaw = try reference.array(expected.raw)
                let scale = max(expectedRaw.map(abs).max() ?? 0, 1e-6)
                #expect(maximumAbsoluteDifference(raw, expectedRaw) <= 1e-5 * scale, "\(testCase.name) \(key) raw")
                let normalised = DescriptorNormalization.l2Normalized(raw)
                let difference = maximumAbsoluteDifference(normalised, try reference.array(expected.l2n))
                worst = max(worst, difference)
                #expect(difference <= 1e-5, "\(testCase.name) \(key): max |Δ| \(difference) after L2N")
            }
        }
        #expect(worst < 1e-5)
    }

    /// The R-MAC grid for every H × W up to 24 × 24 (and a few large maps) equals cirtorch's.
    @Test func regionGridMatchesCirtorch() throws {
        let reference = try ReferenceData.load()
        let values = try reference.regionGrid()
        for entry in reference.manifest.regionGrid.cases {
            let (height, width, count, first) = (entry[0], entry[1], entry[2], entry[3])
            let expected = (0 ..< count).map { index in
                let base = (first + index) * 4
                return RegionalMaximumActivation.Region(y: Int(values[base]), x: Int(values[base + 1]),
                                                       height: Int(values[base + 2]), width: Int(values[base + 3]))
            }
            let regions = RegionalMaximumActivation.regions(height: height, width: width)
            #expect(regions == expected, "\(height)×\(width)")
        }
    }

    @Test func regionsStayInsideTheMap() {
        for height in 1 ... 40 {
            for width in 1 ... 40 {
                for region in RegionalMaximumActivation.regions(height: height, width: width) {
                    #expect(region.y >= 0 && region.x >= 0 && region.height > 0 && region.width > 0)
                    #expect(region.y + region.height <= height && region.x + region.width <= width)
                }
            }
        }
    }

    @Test func namesRoundTrip() throws {
        #expect(GlobalPooling(name: "gem", p: nil) == .gem(p: 3))
        #expect(GlobalPooling(name: "gem", p: 2.5) == .gem(p: 2.5))
        #expect(GlobalPooling(name: "GeM", p: nil) == .gem(p: 3))
        #expect(GlobalPooling(name: "mac", p: 7) == .mac)
        #expect(GlobalPooling(name: "netvlad", p: nil) == nil)
        #expect(GlobalPooling.gem(p: 2.5).multiScaleExponent == 2.5)
        #expect(GlobalPooling.rmac.multiScaleExponent == 1 && GlobalPooling.mac.multiScaleExponent == 1)
        for pooling in [GlobalPooling.mac, .spoc, .gem(p: 4.5), .rmac] {
            let named = try #require(GlobalPooling(name: pooling.name, p: 4.5))
            #expect(named == pooling)
        }
    }

    /// Dead channels: MAC and SPoC give zero, GeM gives exactly the clamp value ε.
    @Test func zeroChannelsClampForGeM() {
        let map = FeatureMap(channels: 2, height: 3, width: 2, storage: [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6])
        #expect(GlobalPooling.mac(map) == [0, 6])
        #expect(GlobalPooling.spoc(map) == [0, 3.5])
        let gem = GlobalPooling.gem(p: 3)(map)
        #expect(abs(gem[0] - 1e-6) < 1e-12)
        let expected = Float(Foundation.pow((1 + 8 + 27 + 64 + 125 + 216) / 6.0, 1.0 / 3.0))
        #expect(abs(gem[1] - expected) < 1e-5)
        // GeM with p = 1 is SPoC of the clamped map; large p tends to MAC.
        #expect(abs(GlobalPooling.gem(p: 1)(map)[1] - 3.5) < 1e-6)
        #expect(abs(GlobalPooling.gem(p: 200)(map)[1] - 6) < 0.1)
    }

    @Test func codableRoundTrip() throws {
        let poolings: [GlobalPooling] = [.mac, .spoc, .gem(p: 2.75), .rmac]
        let data = try JSONEncoder().encode(poolings)
        #expect(try JSONDecoder().decode([GlobalPooling].self, from: data) == poolings)
    }

    /// cirtorch's extract_ms combination on reference inputs.
    @Test func multiScaleMatchesCirtorch() throws {
        let reference = try ReferenceData.load()
        for testCase in reference.manifest.multiscale {
            let inputs = try reference.matrix(testCase.inputs)
            let descriptors = (0 ..< inputs.rows).map { inputs.row($0) }
            let combined = MultiScaleCombination.combine(descriptors, exponent: testCase.exponent)
            let difference = maximumAbsoluteDifference(combined, try reference.array(testCase.output))
            #expect(difference <= 1e-6, "exponent \(testCase.exponent): max |Δ| \(difference)")
        }
        #expect(MultiScaleCombination.combine([[0, 0, 0]], exponent: 3) == [0, 0, 0])
        #expect(MultiScaleCombination.combine([[3, 4]], exponent: 1) == [0.6, 0.8])
    }
}
