import LandmarkTraining
import Testing

@Test func parameterSetKeepsOrderAndFindsByName() {
    var set = ParameterSet()
    let first = set.append(Parameter(name: "conv.weight", shape: [2, 1, 1, 1], value: [1, 2]))
    let second = set.append(Parameter(name: "pool.p", shape: [1], value: [3]))
    #expect(first == 0 && second == 1)
    #expect(set.position(of: "pool.p") == 1)
    #expect(set["conv.weight"]?.value == [1, 2])
    #expect(set.scalarCount == 3)
    set[0].gradient = [5, 6]
    set.zeroGradients()
    #expect(set[0].gradient == [0, 0])
    #expect(set["missing"] == nil)
}
