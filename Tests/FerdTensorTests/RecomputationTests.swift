import FerdTensor
import FerdTestSupport
import XCTest

/// `Tensor.recomputed`: the same gradients and running statistics as the plain graph, nothing of the body kept
/// between the passes, and the leaf-ready hooks still exact.
final class RecomputationTests: XCTestCase {
    override func setUp() {
        Threading.setCount(2)
    }

    /// A convolution, training-mode batch norm with ReLU and global pooling, applied to two inputs with the
    /// same weights (as RAN runs its backbone on each region), then a linear head that also sees the weights.
    private struct Network {
        let kernel, gamma, beta, head: Tensor
        let runningMean = Tensor(zeros: [4]), runningVariance = Tensor(repeating: 1, shape: [4])
        var leaves: [Tensor] { [kernel, gamma, beta, head] }

        init() {
            kernel = randomTensor([4, 3, 3, 3], seed: 31)
            gamma = randomTensor([4], seed: 32)
            beta = randomTensor([4], seed: 33)
            head = randomTensor([2, 4], seed: 34)
        }

        func block(_ x: Tensor) -> Tensor {
            x.conv2d(weight: kernel, padding: 1)
                .batchNorm2d(weight: gamma, bias: beta, runningMean: runningMean, runningVariance: runningVariance,
                             training: true, relu: true)
                .pooled()
        }

        func loss(_ inputs: [Tensor], recomputing: Bool) -> Tensor {
            let features = inputs.map { x in recomputing ? Tensor.recomputed { block(x) } : block(x) }
            let joined = Tensor.concatenate(features, dim: 1)
            let logits = joined.reshaped([inputs[0].shape[0] * inputs.count, 4]).linear(weight: head)
            return logits.gelu().mean() + (gamma * gamma).sum() * 0.1
        }
    }

    private let inputs = [randomTensor([3, 3, 6, 6], seed: 35, requiresGrad: false),
                          randomTensor([3, 3, 6, 6], seed: 36, requiresGrad: false)]

    func testGradientsAndRunningStatisticsEqualThePlainGraphs() {
        let plain = Network(), recomputed = Network()
        let plainLoss = plain.loss(inputs, recomputing: false)
        let recomputedLoss = recomputed.loss(inputs, recomputing: true)
        XCTAssertEqual(recomputedLoss.item, plainLoss.item)
        plainLoss.backward()
        recomputedLoss.backward()
        for (index, (leaf, expected)) in zip(recomputed.leaves, plain.leaves).enumerated() {
            let got = try! XCTUnwrap(leaf.grad), want = try! XCTUnwrap(expected.grad)
            for (a, b) in zip(got, want) {
                XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b)), "leaf \(index)")
            }
        }
        XCTAssertEqual(recomputed.runningMean.data, plain.runningMean.data, "the second run leaves the running mean alone")
        XCTAssertEqual(recomputed.runningVariance.data, plain.runningVariance.data)
        XCTAssertNotEqual(plain.runningMean.data, [0, 0, 0, 0], "the first run moved the statistics")
    }

    func testGradientsMatchFiniteDifferences() {
        let network = Network()
        let x = randomTensor([3, 3, 6, 6], seed: 37)
        checkGradients([x] + network.leaves.dropLast(), skippingKinks: true) { t in
            Tensor.recomputed {
                t[0].conv2d(weight: t[1], padding: 1)
                    .batchNorm2d(weight: t[2], bias: t[3], runningMean: network.runningMean,
                                 runningVariance: network.runningVariance, training: true, relu: true)
                    .pooled()
            }
        }
    }

    func testTheBodysIntermediatesAreReleasedUntilTheBackwardPass() {
        let network = Network()
        weak var intermediate: Tensor?
        func keepsIntermediate(recomputing: Bool) -> (Tensor, Bool) {
            let x = inputs[0]
            func body() -> Tensor {
                let convolved = x.conv2d(weight: network.kernel, padding: 1)
                intermediate = convolved
                return convolved.pooled()
            }
            let output = recomputing ? Tensor.recomputed(body) : body()
            return (output, intermediate != nil)
        }
        let (plainOutput, plainKeeps) = keepsIntermediate(recomputing: false)
        XCTAssertTrue(plainKeeps, "control: a recorded graph holds the convolution's output")
        withExtendedLifetime(plainOutput) {}
        let (output, keeps) = keepsIntermediate(recomputing: true)
        XCTAssertFalse(keeps, "the recomputed block holds nothing of its body")
        output.sum().backward()
        XCTAssertNotNil(network.kernel.grad)
    }

    func testHookedBackwardReportsEachLeafOnceWithItsFinalGradient() {
        let plain = Network(), network = Network()
        plain.loss(inputs, recomputing: false).backward()
        var reported: [ObjectIdentifier: [Float]] = [:]
        var order: [ObjectIdentifier] = []
        var announced: [ObjectIdentifier] = []
        network.loss(inputs, recomputing: true).backward(announcing: { announced = $0.map(ObjectIdentifier.init) },
                                                         onLeafGradientReady: { leaf in
            order.append(ObjectIdentifier(leaf))
            reported[ObjectIdentifier(leaf)] = leaf.grad
        })
        XCTAssertEqual(order, announced)
        XCTAssertEqual(Set(order), Set(network.leaves.map(ObjectIdentifier.init)))
        XCTAssertEqual(order.count, network.leaves.count, "no leaf is reported twice")
        for (leaf, expected) in zip(network.leaves, plain.leaves) {
            XCTAssertEqual(reported[ObjectIdentifier(leaf)], leaf.grad, "the gradient was final when reported")
            for (a, b) in zip(leaf.grad!, expected.grad!) { XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b))) }
        }
    }

    func testInInferenceModeTheBodyRunsOnce() {
        let network = Network()
        var runs = 0
        let output = Autograd.withoutGradient {
            Tensor.recomputed {
                runs += 1
                return network.block(self.inputs[0])
            }
        }
        XCTAssertTrue(output.isLeaf)
        XCTAssertFalse(output.requiresGrad)
        XCTAssertEqual(runs, 1)
    }

    func testTheBodyRunsAgainOnlyInTheBackwardPass() {
        let network = Network()
        var runs = 0, recomputingRuns = 0
        let output = Tensor.recomputed {
            runs += 1
            if Autograd.isRecomputing { recomputingRuns += 1 }
            return network.block(self.inputs[0])
        }
        XCTAssertEqual(runs, 1)
        output.sum().backward()
        XCTAssertEqual(runs, 2)
        XCTAssertEqual(recomputingRuns, 1)
        XCTAssertFalse(Autograd.isRecomputing)
    }
}

private extension Tensor {
    /// Global average pooling of (N, C, H, W) to (N, C).
    func pooled() -> Tensor {
        reshaped([shape[0], shape[1], shape[2] * shape[3]]).mean(dim: 2)
    }
}
