@testable import FerdModels
import FerdTensor
import XCTest

/// Every new method's model and objective can learn: a tiny configuration overfits one fixed batch.
final class MethodOverfitTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    func testEveryMethodOverfitsOneBatch() throws {
        for method in [ModelMethod.scn, .ran, .stt, .formerDFER] {
            let model = try ExpressionModels.make(MethodTests.tiny(method), seed: 21)
            let clips = MethodTests.clips(model.configuration, batch: 4, seed: 22)
            let targets = [0, 3, 5, 2]
            var optimizer = SGD(learningRate: 0.02, momentum: 0.9, weightDecay: 0)
            var first: Float?
            var last: Float = .infinity
            for _ in 0..<300 {
                let output = try model(clips, training: true)
                let loss = try output.objective(method: method, targets: targets).total
                first = first ?? loss.item
                last = loss.item
                if last < 0.35 * first! { break }
                loss.backward()
                optimizer.step(model.parameters)
            }
            XCTAssertLessThan(last, 0.35 * first!, "\(method.rawValue): the objective went from \(first!) to \(last) in 300 SGD steps")
        }
    }
}
