import FerdTensor
import XCTest

/// `backward(onLeafGradientReady:)`: each leaf reported once, with its final gradient, in the announced
/// order, and the gradients the same as a plain `backward()`.
final class BackwardHookTests: XCTestCase {
    /// Leaves of a small two-layer network with a shared weight, a skip connection and an unused leaf.
    private struct Network {
        let w1, b1, w2, b2, scale, unused: Tensor
        var leaves: [Tensor] { [w1, b1, w2, b2, scale, unused] }

        init(seed: UInt64) {
            var generator = SeededGenerator(seed: seed)
            w1 = Tensor.normal(shape: [6, 5], std: 0.5, requiresGrad: true, using: &generator)
            b1 = Tensor.normal(shape: [6], std: 0.5, requiresGrad: true, using: &generator)
            w2 = Tensor.normal(shape: [3, 6], std: 0.5, requiresGrad: true, using: &generator)
            b2 = Tensor.normal(shape: [3], std: 0.5, requiresGrad: true, using: &generator)
            scale = Tensor.normal(shape: [4, 3], std: 0.5, requiresGrad: true, using: &generator)
            unused = Tensor.normal(shape: [2], std: 0.5, requiresGrad: true, using: &generator)
        }

        /// A scalar loss; w1 is used twice (early and late in the forward pass).
        func loss(_ x: Tensor) -> Tensor {
            let hidden = x.linear(weight: w1, bias: b1).relu()
            let out = hidden.linear(weight: w2, bias: b2) * scale
            let skip = x.linear(weight: w1).sum() * 0.5
            return out.gelu().mean() + skip
        }
    }

    private func input() -> Tensor {
        var generator = SeededGenerator(seed: 3)
        return Tensor.normal(shape: [4, 5], using: &generator)
    }

    func testEachLeafIsReportedOnceWithItsFinalGradientInTheAnnouncedOrder() {
        let reference = Network(seed: 1)
        reference.loss(input()).backward()

        let network = Network(seed: 1)
        var announced: [ObjectIdentifier] = []
        var reported: [ObjectIdentifier] = []
        var atReport: [ObjectIdentifier: [Float]] = [:]
        network.loss(input()).backward(announcing: { leaves in
            announced = leaves.map(ObjectIdentifier.init)
        }, onLeafGradientReady: { leaf in
            reported.append(ObjectIdentifier(leaf))
            atReport[ObjectIdentifier(leaf)] = leaf.grad
        })

        let withGradient = network.leaves.filter { $0.grad != nil }.map(ObjectIdentifier.init)
        XCTAssertEqual(withGradient.count, 5, "every leaf but the unused one gets a gradient")
        XCTAssertEqual(reported.count, Set(reported).count, "no leaf is reported twice")
        XCTAssertEqual(Set(reported), Set(withGradient))
        XCTAssertEqual(reported, announced)
        for (leaf, expected) in zip(network.leaves, reference.leaves) {
            XCTAssertEqual(leaf.grad, expected.grad, "hooked and plain backward give the same gradients")
            if leaf.grad != nil {
                XCTAssertEqual(atReport[ObjectIdentifier(leaf)], leaf.grad, "the gradient was final when reported")
            }
        }
        // w2/b2/scale are consumed only late in the forward pass, so they are ready before w1, which the
        // first layer also uses.
        let position = Dictionary(uniqueKeysWithValues: reported.enumerated().map { ($1, $0) })
        XCTAssertLessThan(position[ObjectIdentifier(network.w2)]!, position[ObjectIdentifier(network.w1)]!)
        XCTAssertLessThan(position[ObjectIdentifier(network.scale)]!, position[ObjectIdentifier(network.b1)]!)
    }

    func testTheOrderDependsOnlyOnTheGraph() {
        func order(seed: UInt64) -> [Int] {
            let network = Network(seed: seed)
            let index = Dictionary(uniqueKeysWithValues: network.leaves.enumerated().map { (ObjectIdentifier($1), $0) })
            var order: [Int] = []
            network.loss(input()).backward(onLeafGradientReady: { order.append(index[ObjectIdentifier($0)]!) })
            return order
        }
        XCTAssertEqual(order(seed: 1), order(seed: 2))
    }

    func testALeafRootIsReportedItself() {
        let leaf = Tensor(scalar: 2)
        let parameter = Tensor(shape: [], data: [2], requiresGrad: true)
        var reported: [Tensor] = []
        leaf.backward(onLeafGradientReady: { reported.append($0) })
        XCTAssertTrue(reported.isEmpty, "nothing requires a gradient")
        parameter.backward(onLeafGradientReady: { reported.append($0) })
        XCTAssertEqual(reported.count, 1)
        XCTAssertTrue(reported.first === parameter)
        XCTAssertEqual(parameter.grad, [1])
    }
}
