import FerdModels
import FerdTensor
import XCTest

/// The model and optimiser can learn: the small preset overfits one fixed batch.
final class OverfitTests: XCTestCase {
    func testSmallModelOverfitsOneBatchOfFourClips() throws {
        Threading.setCount(2)
        let model = try GCAIALModel(configuration: .small, seed: 11)
        var generator = SeededGenerator(seed: 12)
        let shape = [4, 8, 3, 56, 56]
        let clips = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in generator.uniform() })
        let targets = [0, 3, 5, 2]
        var optimizer = SGD(learningRate: 0.01, momentum: 0.9, weightDecay: 0)
        var first: Float?
        var last: Float = .infinity
        for _ in 0..<60 {
            let loss = try model(clips, training: true).loss(targets: targets).total
            first = first ?? loss.item
            last = loss.item
            if last < 0.1 * first! { break }
            loss.backward()
            optimizer.step(model.parameters)
        }
        XCTAssertLessThan(last, 0.1 * first!, "loss went from \(first!) to \(last) in 60 SGD steps")
    }
}
