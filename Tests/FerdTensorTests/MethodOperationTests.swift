import FerdTensor
import FerdTestSupport
import XCTest

/// The operations the methods beyond GCA+IAL added: broadcasting division and the exact-erf GELU.
final class MethodOperationTests: XCTestCase {
    func testBroadcastingDivision() {
        let a = randomTensor([3, 4], seed: 1)
        let b = Tensor(shape: [3, 1], data: [1.5, -2.0, 0.8], requiresGrad: true)
        XCTAssertEqual((a / b).data[5], a.data[5] / -2.0)
        checkGradients([a, b]) { t in t[0] / t[1] }
        let c = Tensor(shape: [3, 4], data: (0..<12).map { 1 + Float($0) / 4 }, requiresGrad: true)
        checkGradients([a, c]) { t in t[0] / t[1] }
    }

    func testExactGeluMatchesErfFormulaAndGradient() {
        let x = Tensor(shape: [6], data: [-3, -1, -0.2, 0, 0.7, 2.5], requiresGrad: true)
        let y = x.geluErf()
        for (input, output) in zip(x.data, y.data) {
            let expected = 0.5 * Double(input) * (1 + erf(Double(input) / 2.0.squareRoot()))
            XCTAssertEqual(Double(output), expected, accuracy: 1e-6)
        }
        checkGradients([x]) { t in t[0].geluErf() }
    }
}
