import FerdTensor
import FerdTestSupport
import XCTest

/// Every operation's gradient against central finite differences.
final class OperationGradientTests: XCTestCase {
    override func setUp() {
        Threading.setCount(2)
    }

    func testBroadcastingArithmetic() {
        let a = randomTensor([2, 3, 4, 5], seed: 1)
        let b = randomTensor([3, 1, 5], seed: 2)
        let c = randomTensor([2, 3, 1, 1], seed: 3)
        checkGradients([a, b, c]) { t in (t[0] + t[1]) * t[2] - t[1] * t[0] }
        checkGradients([a, c]) { t in t[1] * t[0] }
        let s = randomTensor([1], seed: 4)
        checkGradients([a, s]) { t in t[0] * t[1] + t[0] * 0.5 + 2 }
    }

    /// Per-channel weights on maps ((N, C, 1, 1) times (N, C, H, W), either way round) take a run-by-run
    /// path; its products and gradient sums are those of the broadcasting definition, value for value and
    /// in the same order.
    func testChannelScalingIsTheBroadcastingProductExactly() {
        for scaleFirst in [false, true] {
            let x = randomTensor([2, 3, 4, 5], seed: 21), s = randomTensor([2, 3, 1, 1], seed: 22)
            let g = randomTensor([2, 3, 4, 5], seed: 23, requiresGrad: false)
            let y = scaleFirst ? s * x : x * s
            XCTAssertEqual(y.data, (0..<x.count).map { x.data[$0] * s.data[$0 / 20] })
            (y * g).sum().backward()
            XCTAssertEqual(x.grad, (0..<x.count).map { g.data[$0] * s.data[$0 / 20] })
            let sums = (0..<6).map { run in
                (0..<20).reduce(Float(0)) { sum, j in sum + g.data[run * 20 + j] * x.data[run * 20 + j] }
            }
            XCTAssertEqual(s.grad, sums)
        }
    }

    func testUnaryFunctions() {
        // Values kept away from ReLU's kink so that ±h never crosses it.
        var values = randomTensor([3, 7], seed: 5, requiresGrad: false).data
        values = values.map { $0 + ($0 >= 0 ? 0.1 : -0.1) }
        let x = Tensor(shape: [3, 7], data: values, requiresGrad: true)
        checkGradients([x]) { $0[0].relu() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].gelu() }
        let positive = Tensor(shape: [3, 7], data: values.map { abs($0) + 0.5 }, requiresGrad: true)
        checkGradients([positive]) { $0[0].sqrt() }
    }

    func testGeluMatchesTanhFormula() {
        let x = Tensor(shape: [4], data: [-3, -0.5, 0.7, 2.5])
        let y = x.gelu()
        for (input, output) in zip(x.data, y.data) {
            let expected = 0.5 * Double(input) * (1 + tanh((2 / Double.pi).squareRoot() * (Double(input) + 0.044715 * pow(Double(input), 3))))
            XCTAssertEqual(Double(output), expected, accuracy: 1e-6)
        }
    }

    func testLinearAndMatmul() {
        let x = randomTensor([2, 3, 5], seed: 6)
        let w = randomTensor([4, 5], seed: 7)
        let b = randomTensor([4], seed: 8)
        checkGradients([x, w, b]) { t in t[0].linear(weight: t[1], bias: t[2]) }
        let p = randomTensor([2, 3, 4, 5], seed: 9)
        let q = randomTensor([2, 3, 5, 6], seed: 10)
        checkGradients([p, q]) { t in t[0].matmul(t[1]) }
        let r = randomTensor([2, 3, 6, 5], seed: 11)
        checkGradients([p, r]) { t in t[0].matmul(t[1], transposingOther: true) }
    }

    func testLinearMatchesHandComputation() {
        let x = Tensor(shape: [1, 2], data: [1, 2])
        let w = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 1, 1])
        let b = Tensor(shape: [3], data: [0.5, -0.5, 0])
        XCTAssertEqual(x.linear(weight: w, bias: b).data, [1.5, 1.5, 3])
    }

    func testConvolutionStridePaddingGroupsBias() {
        let x = randomTensor([2, 4, 7, 6], seed: 12)
        let w = randomTensor([6, 2, 3, 3], std: 0.3, seed: 13)
        let b = randomTensor([6], seed: 14)
        checkGradients([x, w, b]) { t in t[0].conv2d(weight: t[1], bias: t[2], stride: 2, padding: 1, groups: 2) }
        let w1 = randomTensor([3, 4, 1, 1], seed: 15)
        checkGradients([x, w1]) { t in t[0].conv2d(weight: t[1], stride: 2) }
        let w3 = randomTensor([5, 4, 3, 3], std: 0.3, seed: 16)
        checkGradients([x, w3]) { t in t[0].conv2d(weight: t[1], stride: 1, padding: 1) }
    }

    func testConvolutionOnLargeMapsUsesTheBandedPaths() {
        // 40×40 maps split into row bands across threads; stride 1 takes the flipped-kernel input
        // gradient, stride 2 the col2im one.
        let x = randomTensor([2, 3, 40, 40], seed: 40)
        let w = randomTensor([4, 3, 3, 3], std: 0.3, seed: 41)
        checkGradients([x, w], samplesPerInput: 12) { t in t[0].conv2d(weight: t[1], stride: 1, padding: 1) }
        checkGradients([x, w], samplesPerInput: 12) { t in t[0].conv2d(weight: t[1], stride: 2, padding: 1) }
        let pointwise = randomTensor([5, 3, 1, 1], seed: 42)
        checkGradients([x, pointwise], samplesPerInput: 12) { t in t[0].conv2d(weight: t[1]) }
    }

    func testConvolutionMatchesDirectSum() {
        let x = randomTensor([2, 3, 5, 5], seed: 17, requiresGrad: false)
        let w = randomTensor([4, 3, 3, 3], seed: 18, requiresGrad: false)
        let y = x.conv2d(weight: w, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [2, 4, 3, 3])
        for n in 0..<2 { for o in 0..<4 { for i in 0..<3 { for j in 0..<3 {
            var expected: Float = 0
            for c in 0..<3 { for ki in 0..<3 { for kj in 0..<3 {
                let yy = i * 2 - 1 + ki, xx = j * 2 - 1 + kj
                guard (0..<5).contains(yy), (0..<5).contains(xx) else { continue }
                expected += x.data[((n * 3 + c) * 5 + yy) * 5 + xx] * w.data[((o * 3 + c) * 3 + ki) * 3 + kj]
            } } }
            XCTAssertEqual(y.data[((n * 4 + o) * 3 + i) * 3 + j], expected, accuracy: 1e-4)
        } } } }
    }

    func testWholeMapDepthwiseConvolution() {
        let u = randomTensor([3, 4, 5, 5], seed: 19)
        let k = randomTensor([4, 1, 5, 5], std: 0.3, seed: 20)
        checkGradients([u, k]) { t in t[0].conv2d(weight: t[1], groups: 4) }
        let z = u.conv2d(weight: k, groups: 4)
        var expected: Float = 0
        for i in 0..<25 { expected += u.data[(1 * 4 + 2) * 25 + i] * k.data[2 * 25 + i] }
        XCTAssertEqual(z.data[1 * 4 + 2], expected, accuracy: 1e-4)
    }

    func testBatchNormTrainingAndEvaluation() {
        let x = randomTensor([3, 4, 3, 2], seed: 21)
        let gamma = randomTensor([4], seed: 22)
        let beta = randomTensor([4], seed: 23)
        let mean = Tensor(zeros: [4]), variance = Tensor(repeating: 1, shape: [4])
        checkGradients([x, gamma, beta]) { t in
            t[0].batchNorm2d(weight: t[1], bias: t[2], runningMean: mean, runningVariance: variance, training: true)
        }
        let runningMean = Tensor(shape: [4], data: [0.1, -0.2, 0.3, 0]), runningVariance = Tensor(shape: [4], data: [0.5, 1, 2, 1.5])
        checkGradients([x, gamma, beta]) { t in
            t[0].batchNorm2d(weight: t[1], bias: t[2], runningMean: runningMean, runningVariance: runningVariance, training: false)
        }
    }

    func testBatchNormWithFusedReLU() {
        // Planes of 40 values run the SIMD loops and their scalar tails.
        let x = randomTensor([3, 4, 5, 8], seed: 27)
        let gamma = randomTensor([4], seed: 28)
        let beta = randomTensor([4], seed: 29)
        for training in [true, false] {
            let mean = Tensor(shape: [4], data: [0.1, -0.2, 0.3, 0]), variance = Tensor(shape: [4], data: [0.5, 1, 2, 1.5])
            // Finite differences in x (a shift of γ or β moves many values across the kink at once),
            // and for all three the same values and gradients as batch norm followed by ReLU.
            checkGradients([x], skippingKinks: true) { t in
                t[0].batchNorm2d(weight: gamma, bias: beta, runningMean: mean, runningVariance: variance,
                                 training: training, relu: true)
            }
            let projection = randomTensor(x.shape, seed: 30, requiresGrad: false)
            func gradients(fused: Bool) -> [[Float]] {
                for t in [x, gamma, beta] { t.grad = nil }
                let m = Tensor(zeros: [4]), v = Tensor(repeating: 1, shape: [4])
                let y = fused
                    ? x.batchNorm2d(weight: gamma, bias: beta, runningMean: m, runningVariance: v, training: training, relu: true)
                    : x.batchNorm2d(weight: gamma, bias: beta, runningMean: m, runningVariance: v, training: training).relu()
                (y * projection).sum().backward()
                return [y.data, x.grad!, gamma.grad!, beta.grad!]
            }
            let (fused, separate) = (gradients(fused: true), gradients(fused: false))
            for (a, b) in zip(fused, separate) {
                for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(v))) }
            }
        }
    }

    func testBatchNormRunningStatisticsFollowPyTorch() {
        let x = Tensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 6])
        let mean = Tensor(zeros: [1]), variance = Tensor(repeating: 1, shape: [1])
        let y = x.batchNorm2d(weight: Tensor(repeating: 1, shape: [1]), bias: Tensor(zeros: [1]),
                              runningMean: mean, runningVariance: variance, training: true)
        // Batch mean 3, biased variance 3.5, unbiased 14/3.
        XCTAssertEqual(mean.data[0], 0.3, accuracy: 1e-6)
        XCTAssertEqual(variance.data[0], 0.9 + 0.1 * 14 / 3, accuracy: 1e-6)
        XCTAssertEqual(y.data[0], (1 - 3) / (3.5 + 1e-5).squareRoot(), accuracy: 1e-5)
    }

    func testLayerNormAndSoftmax() {
        let x = randomTensor([2, 3, 6], seed: 24)
        let gamma = randomTensor([6], seed: 25)
        let beta = randomTensor([6], seed: 26)
        checkGradients([x, gamma, beta]) { t in t[0].layerNorm(weight: t[1], bias: t[2]) }
        checkGradients([x]) { t in t[0].softmax() }
        let rows = x.softmax()
        XCTAssertEqual(rows.data[0..<6].reduce(0, +), 1, accuracy: 1e-6)
        // Rows of 37: the vector loops and their tails, and enough rows for the column-parallel dγ, dβ.
        let wide = randomTensor([40, 37], seed: 27)
        let wideGamma = randomTensor([37], seed: 28), wideBeta = randomTensor([37], seed: 29)
        checkGradients([wide, wideGamma, wideBeta], samplesPerInput: 40) { t in t[0].layerNorm(weight: t[1], bias: t[2]) }
        let normalized = wide.layerNorm(weight: Tensor(shape: [37], data: .init(repeating: 1, count: 37)),
                                        bias: Tensor(shape: [37], data: .init(repeating: 0, count: 37)))
        for r in 0..<40 {
            let row = normalized.data[(r * 37)..<((r + 1) * 37)].map(Double.init)
            let mean = row.reduce(0, +) / 37, variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 37
            XCTAssertEqual(mean, 0, accuracy: 1e-6)
            XCTAssertEqual(variance, 1, accuracy: 1e-3)
        }
    }

    func testMaxPool() {
        // Distinct values so that no window has a tie that ±h could flip.
        var generator = SeededGenerator(seed: 27)
        let values = (0..<(2 * 3 * 7 * 7)).map { Float($0) * 0.05 }.shuffled(using: &generator)
        let x = Tensor(shape: [2, 3, 7, 7], data: values, requiresGrad: true)
        let y = x.maxPool2d(kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [2, 3, 4, 4])
        checkGradients([x], step: 1e-3, absoluteTolerance: 5e-3) { t in t[0].maxPool2d(kernel: 3, stride: 2, padding: 1) }
    }

    func testMaxPoolWithTiesAndWideMaps() {
        // ReLU'd values (many zero ties) on maps wide enough for the 3×3 stride-2 path's SIMD lanes, and
        // a 2×2 stride-2 pool (the general path): values and the winner that takes the gradient follow
        // PyTorch's rule, the first maximum in row-major window order. Width 37 takes 16 lanes and a scalar
        // tail, width 56 (the stem's) 16 lanes twice, the second group overlapping the first.
        for (width, kernel, stride, padding) in [(37, 3, 2, 1), (37, 2, 2, 0), (37, 3, 1, 1), (56, 3, 2, 1)] {
            let x = Tensor(shape: [2, 3, 9, width],
                           data: randomTensor([2, 3, 9, width], seed: 31, requiresGrad: false).data.map { max($0, 0) }, requiresGrad: true)
            let y = x.maxPool2d(kernel: kernel, stride: stride, padding: padding)
            let (h, w) = (9, width), oh = y.shape[2], ow = y.shape[3]
            let projection = randomTensor(y.shape, seed: 32, requiresGrad: false)
            (y * projection).sum().backward()
            var expected = [Float](repeating: 0, count: x.count)
            for plane in 0..<6 { for oy in 0..<oh { for ox in 0..<ow {
                var best = -Float.infinity, winner = -1
                for ky in 0..<kernel { for kx in 0..<kernel {
                    let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                    guard (0..<h).contains(iy), (0..<w).contains(ix) else { continue }
                    let v = x.data[(plane * h + iy) * w + ix]
                    if winner < 0 || v > best { best = v; winner = (plane * h + iy) * w + ix }
                } }
                let o = (plane * oh + oy) * ow + ox
                XCTAssertEqual(y.data[o], best)
                expected[winner] += projection.data[o]
            } } }
            XCTAssertEqual(x.grad!, expected, "width \(width) kernel \(kernel) stride \(stride)")
        }
    }

    func testShapeOperations() {
        let x = randomTensor([2, 3, 4], seed: 28)
        let y = randomTensor([2, 2, 4], seed: 29)
        checkGradients([x]) { t in t[0].reshaped([6, -1]).permuted([1, 0]) }
        checkGradients([x]) { t in t[0].permuted([2, 0, 1]) }
        checkGradients([x]) { t in t[0].sliced(dim: 1, 1..<3) }
        checkGradients([x, y]) { t in Tensor.concatenate([t[0], t[1]], dim: 1) }
        checkGradients([x]) { t in t[0].mean(dim: 1) }
        checkGradients([x]) { t in t[0].sum(dim: 2, keepingDimension: true) }
        checkGradients([x]) { t in t[0].mean() }
        XCTAssertEqual(x.permuted([2, 0, 1]).data[1], x.data[4])
    }

    func testCrossEntropy() {
        let logits = randomTensor([4, 7], seed: 30)
        checkGradients([logits]) { t in t[0].crossEntropy(targets: [0, 3, 6, 3]) }
        let uniform = Tensor(zeros: [2, 7])
        XCTAssertEqual(uniform.crossEntropy(targets: [1, 2]).item, log(7), accuracy: 1e-6)
    }

    func testInferenceModeRecordsNothing() {
        let w = randomTensor([3, 3], seed: 31)
        let y = Autograd.withoutGradient { Tensor(repeating: 1, shape: [2, 3]).linear(weight: w) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(y.isLeaf)
        XCTAssertNil(w.grad)
    }

    func testGradientsAccumulateAcrossUses() {
        let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        (x * x + x).sum().backward()
        XCTAssertEqual(x.grad!, [3, 5])
    }

    /// A linear layer and a matmul write their first gradient (β = 0) and add the later ones (β = 1): used
    /// twice, or after an earlier backward pass, every gradient is the sum of the single uses.
    func testProductGradientsAddOntoEarlierOnes() {
        let x = randomTensor([5, 6], seed: 33), w = randomTensor([4, 6], seed: 34)
        let a = randomTensor([2, 3, 6], seed: 35), b = randomTensor([2, 6, 4], seed: 36)
        func once() -> [[Float]] {
            for t in [x, w, a, b] { t.grad = nil }
            (x.linear(weight: w).sum() + a.matmul(b).sum()).backward()
            return [x, w, a, b].map { $0.grad! }
        }
        let single = once()
        for t in [x, w, a, b] { t.grad = nil }
        (x.linear(weight: w).sum() + x.linear(weight: w).sum() + a.matmul(b).sum() + a.matmul(b).sum()).backward()
        (x.linear(weight: w).sum() + a.matmul(b).sum()).backward()
        for (tensor, expected) in zip([x, w, a, b], single) {
            for (got, one) in zip(tensor.grad!, expected) { XCTAssertEqual(got, 3 * one, accuracy: 1e-5 * max(1, abs(3 * one))) }
        }
    }
}
