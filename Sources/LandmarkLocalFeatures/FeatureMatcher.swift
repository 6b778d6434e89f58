import CVectorKernels
import LandmarkLinearAlgebra

/// A correspondence between keypoint `query` of the first feature set and keypoint `train` of the second.
public struct FeatureMatch: Sendable, Equatable {
    public var query: Int
    public var train: Int
    /// Euclidean distance between the two descriptors.
    public var distance: Float

    public init(query: Int, train: Int, distance: Float) {
        self.query = query
        self.train = train
        self.distance = distance
    }
}

/// Descriptor matching through one matrix product, so thousands × thousands of distances cost one BLAS call.
public enum FeatureMatcher {
    /// Lowe's ratio test on L2 distances (via matrix products: ‖a−b‖² = ‖a‖² + ‖b‖² − 2a·b):
    /// keeps a query's nearest neighbour when its distance is below `ratio` times the second nearest
    /// (OpenCV style: d1 < ratio·d2). Needs at least two train descriptors.
    /// - Parameter quantizedCandidates: find the two nearest through 8-bit candidates scored again in float
    ///   (see `twoNearest`); false scores every pair in float, the reference the benchmark compares with.
    public static func ratioTest(_ a: LocalFeatures, _ b: LocalFeatures, ratio: Float = 0.8,
                                 quantizedCandidates: Bool = true) -> [FeatureMatch] {
        guard b.descriptors.rows >= 2 else { return [] }
        let neighbours = twoNearest(a.descriptors, b.descriptors, quantized: quantizedCandidates, ratio: ratio,
                                    forms: (a.matchingForm, b.matchingForm))
        var matches: [FeatureMatch] = []
        for (query, pair) in neighbours.enumerated() where pair.first < ratio * pair.second {
            matches.append(FeatureMatch(query: query, train: pair.index, distance: pair.first))
        }
        return matches
    }

    /// Keeps, for every train keypoint, only its closest match (ties: the lower query index), so that no
    /// keypoint is used twice. Many-to-one matches let RANSAC "verify" a fan of lines into one point — the
    /// strongest false matches between unrelated buildings are of that kind.
    public static func uniqueTargets(_ matches: [FeatureMatch]) -> [FeatureMatch] {
        var best: [Int: FeatureMatch] = [:]
        for match in matches {
            if let current = best[match.train],
               current.distance < match.distance || (current.distance == match.distance && current.query < match.query) {
                continue
            }
            best[match.train] = match
        }
        return matches.filter { best[$0.train] == $0 }
    }

    /// Pairs that are each other's nearest neighbour.
    public static func mutualNearestNeighbours(_ a: LocalFeatures, _ b: LocalFeatures) -> [FeatureMatch] {
        guard a.descriptors.rows > 0, b.descriptors.rows > 0 else { return [] }
        let forward = twoNearest(a.descriptors, b.descriptors, forms: (a.matchingForm, b.matchingForm))
        let backward = twoNearest(b.descriptors, a.descriptors, forms: (b.matchingForm, a.matchingForm))
        var matches: [FeatureMatch] = []
        for (query, pair) in forward.enumerated() where backward[pair.index].index == query {
            matches.append(FeatureMatch(query: query, train: pair.index, distance: pair.first))
        }
        return matches
    }

    struct Neighbours {
        var index: Int
        var first: Float
        var second: Float
    }

    /// For each row of `queries`, the nearest row of `train` with the distances to the nearest and second nearest.
    /// - Parameter quantized: take candidates from 8-bit products where the processor and the data allow
    ///   (`landmark_two_nearest_quantized`: non-negative components, as SIFT and RootSIFT have), scoring
    ///   them again in float; otherwise, or when false, every distance comes from one float matrix product.
    /// - Parameter ratio: rows that certainly fail Lowe's test at this ratio may come back with an infinite
    ///   `first` instead of their exact distances (they have no match either way); +infinity keeps every row exact.
    /// - Parameter forms: the two sets already quantised (`LocalFeatures.matchingForm`), when they are.
    static func twoNearest(_ queries: Matrix, _ train: Matrix, quantized: Bool = true,
                           ratio: Float = .infinity, forms: (MatchingForm?, MatchingForm?) = (nil, nil)) -> [Neighbours] {
        let queryCount = queries.rows, trainCount = train.rows
        guard queryCount > 0, trainCount > 0, queries.columns == train.columns else {
            return Array(repeating: Neighbours(index: 0, first: .infinity, second: .infinity), count: queryCount)
        }
        if quantized, let neighbours = quantizedTwoNearest(queries, train, ratio: ratio, forms: forms) { return neighbours }
        let products = queries.multiplied(byTransposeOf: train)
        let queryNorms = squaredNorms(queries), trainNorms = squaredNorms(train)
        var result = [Neighbours](repeating: Neighbours(index: 0, first: .infinity, second: .infinity), count: queryCount)
        products.storage.withUnsafeBufferPointer { dots in
            for query in 0..<queryCount {
                var best = Float.infinity, second = Float.infinity, bestIndex = 0
                let base = query * trainCount
                for candidate in 0..<trainCount {
                    let squared = trainNorms[candidate] - 2 * dots[base + candidate]
                    if squared < best {
                        second = best
                        best = squared
                        bestIndex = candidate
                    } else if squared < second {
                        second = squared
                    }
                }
                let norm = queryNorms[query]
                result[query] = Neighbours(index: bestIndex, first: max(best + norm, 0).squareRoot(),
                                           second: max(second + norm, 0).squareRoot())
            }
        }
        return result
    }

    /// Whether this processor finds nearest descriptors through 8-bit products (AVX-512 VNNI).
    public static var hasQuantizedKernel: Bool { landmark_descriptor_matcher_available() != 0 }

    /// `twoNearest` through the 8-bit kernel, or nil when the processor lacks VNNI or the data does not suit it.
    static func quantizedTwoNearest(_ queries: Matrix, _ train: Matrix, ratio: Float,
                                    forms: (MatchingForm?, MatchingForm?) = (nil, nil)) -> [Neighbours]? {
        guard landmark_descriptor_matcher_available() != 0 else { return nil }
        let queryCount = queries.rows
        var nearest = [Int32](repeating: 0, count: queryCount)
        var first = [Float](repeating: .infinity, count: queryCount)
        var second = [Float](repeating: .infinity, count: queryCount)
        let status = queries.storage.withUnsafeBufferPointer { queryValues in
            train.storage.withUnsafeBufferPointer { trainValues in
                if let queryForm = forms.0, let trainForm = forms.1 {
                    return queryForm.withSet { querySet in
                        trainForm.withSet { trainSet in
                            landmark_two_nearest_prepared(querySet, queryValues.baseAddress, trainSet, trainValues.baseAddress,
                                                          ratio, &nearest, &first, &second, nil)
                        }
                    }
                }
                return landmark_two_nearest_quantized(queryValues.baseAddress, queryCount, trainValues.baseAddress,
                                                      train.rows, queries.columns, ratio, &nearest, &first, &second, nil)
            }
        }
        guard Int(status) == LANDMARK_MATCHER_DONE else { return nil }
        return (0 ..< queryCount).map { query in
            Neighbours(index: Int(nearest[query]), first: max(first[query], 0).squareRoot(),
                       second: max(second[query], 0).squareRoot())
        }
    }

    static func squaredNorms(_ matrix: Matrix) -> [Float] {
        var norms = [Float](repeating: 0, count: matrix.rows)
        matrix.storage.withUnsafeBufferPointer { values in
            for row in 0..<matrix.rows {
                var sum: Float = 0
                for column in 0..<matrix.columns {
                    let value = values[row * matrix.columns + column]
                    sum += value * value
                }
                norms[row] = sum
            }
        }
        return norms
    }
}
