@testable import FerdTensor
import Foundation
import XCTest

/// The eight-lane exp and tanh against double-precision libm, over dense sweeps and the special values.
final class VectorMathTests: XCTestCase {
    /// The largest error of `f` against `reference`, in units of the float spacing at the reference value.
    private func worstUlps(_ inputs: [Float], _ f: (VectorMath.Vector) -> VectorMath.Vector, _ reference: (Double) -> Double) -> Double {
        var worst = 0.0
        let width = VectorMath.lanes
        for start in stride(from: 0, to: inputs.count, by: width) {
            let lanes = min(width, inputs.count - start)
            var v = VectorMath.Vector()
            for lane in 0..<lanes { v[lane] = inputs[start + lane] }
            let out = f(v)
            for lane in 0..<lanes {
                let expected = reference(Double(inputs[start + lane]))
                let ulp = Double(Float(expected).ulp)
                worst = max(worst, abs(Double(out[lane]) - expected) / ulp)
            }
        }
        return worst
    }

    private func sweep(_ range: ClosedRange<Float>, count: Int) -> [Float] {
        (0..<count).map { range.lowerBound + (range.upperBound - range.lowerBound) * Float($0) / Float(count - 1) }
    }

    /// Over the range where e^x is a normal float (inputs beyond it are clamped).
    func testExpIsWithinOneAndAHalfUlpsOfLibm() {
        let inputs = sweep(-87...87.9, count: 200_003) + sweep(-1...1, count: 100_001)
        XCTAssertLessThanOrEqual(worstUlps(inputs, VectorMath.exp, Foundation.exp), 1.5)
    }

    func testTanhIsWithinTwoUlpsOfLibm() {
        let inputs = sweep(-12...12, count: 200_003) + sweep(-0.7...0.7, count: 100_001)
            + [1e-30, -1e-30, 1e-7, 0.625, -0.625, 0.62499994, 9, 9.5, 20]
        XCTAssertLessThanOrEqual(worstUlps(inputs, VectorMath.tanh, Foundation.tanh), 2)
    }

    func testSpecialValues() {
        var v = VectorMath.Vector(repeating: 0)
        v[0] = .infinity; v[1] = -.infinity; v[2] = .nan; v[3] = -0.0; v[4] = 200; v[5] = -200
        let t = VectorMath.tanh(v)
        XCTAssertEqual(t[0], 1)
        XCTAssertEqual(t[1], -1)
        XCTAssertTrue(t[2].isNaN)
        XCTAssertEqual(t[3], 0)
        XCTAssertEqual(t[3].sign, .minus)
        XCTAssertEqual(t[4], 1)
        XCTAssertEqual(t[5], -1)
        let e = VectorMath.exp(v)
        XCTAssertTrue(e[2].isNaN)
        XCTAssertEqual(e[1], Float(Foundation.exp(-87.0)), accuracy: 1e-38)
        XCTAssertEqual(e[3], 1)
    }

    /// GELU's vector loops give the same value for an element wherever it sits (full group or tail),
    /// and match the double-precision formula.
    func testGeluIsIndependentOfPositionAndMatchesTheFormula() {
        let values = sweep(-6...6, count: 37)
        let whole = Tensor(shape: [37], data: values).gelu().data
        for (index, value) in values.enumerated() {
            XCTAssertEqual(Tensor(shape: [1], data: [value]).gelu().data[0], whole[index])
            let x = Double(value)
            let expected = 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            XCTAssertEqual(Double(whole[index]), expected, accuracy: 2e-6 * max(1, abs(expected)))
        }
    }
}

