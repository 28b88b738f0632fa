@testable import FerdTensor
import FerdTestSupport
import XCTest

/// The Winograd F(2×2, 3×3) convolutions (stride 1, padding 1, ≥ 8 channels) against the im2col
/// kernels, a direct double-precision sum and central finite differences: odd and even map sizes,
/// several frames, channel counts that are no multiple of anything.
final class WinogradTests: XCTestCase {
    override func setUp() {
        Threading.setCount(2)
    }

    /// (frames, channels, height, width, output channels) of the cases below; the last is wide enough
    /// for the transforms' SIMD loops and their scalar tails.
    private let shapes = [(3, 9, 7, 5, 13), (2, 8, 6, 6, 8), (1, 11, 1, 9, 10), (2, 16, 13, 12, 9), (5, 12, 3, 2, 17),
                          (2, 8, 9, 37, 8)]

    private func geometry(_ s: (Int, Int, Int, Int, Int)) -> ConvGeometry {
        ConvGeometry(frames: s.0, channels: s.1, height: s.2, width: s.3, outChannels: s.4,
                     kernelH: 3, kernelW: 3, stride: 1, padding: 1, groups: 1)
    }

    /// y[n,o,i,j] = Σ x[n,c,i+a−1,j+b−1]·w[o,c,a,b] in double precision.
    private func directForward(_ x: [Float], _ w: [Float], _ g: ConvGeometry) -> [Double] {
        let (h, wd, cIn, cOut) = (g.height, g.width, g.channels, g.outChannels)
        var y = [Double](repeating: 0, count: g.frames * cOut * h * wd)
        for n in 0..<g.frames { for o in 0..<cOut { for i in 0..<h { for j in 0..<wd {
            var acc = 0.0
            for c in 0..<cIn { for a in 0..<3 { for b in 0..<3 {
                let yy = i + a - 1, xx = j + b - 1
                guard (0..<h).contains(yy), (0..<wd).contains(xx) else { continue }
                acc += Double(x[((n * cIn + c) * h + yy) * wd + xx]) * Double(w[((o * cIn + c) * 3 + a) * 3 + b])
            } } }
            y[((n * cOut + o) * h + i) * wd + j] = acc
        } } } }
        return y
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
        let scale = expected.map(abs).max() ?? 1
        for (index, (a, e)) in zip(actual, expected).enumerated() where abs(Double(a) - e) > 1e-5 * max(1, scale) {
            XCTFail("\(what)[\(index)]: \(a) vs \(e)", file: file, line: line)
            return
        }
    }

    func testAppliesOnlyToStrideOnePaddingOneThreeByThree() {
        XCTAssertTrue(Winograd.applies(to: geometry((1, 8, 5, 5, 8))))
        XCTAssertFalse(Winograd.applies(to: geometry((1, 7, 5, 5, 8))))
        XCTAssertFalse(Winograd.applies(to: ConvGeometry(frames: 1, channels: 8, height: 5, width: 5, outChannels: 8,
                                                         kernelH: 3, kernelW: 3, stride: 2, padding: 1, groups: 1)))
        XCTAssertFalse(Winograd.applies(to: ConvGeometry(frames: 1, channels: 8, height: 5, width: 5, outChannels: 8,
                                                         kernelH: 3, kernelW: 3, stride: 1, padding: 1, groups: 2)))
    }

    func testForwardMatchesDirectSumAndIm2col() {
        for (index, shape) in shapes.enumerated() {
            let g = geometry(shape)
            let x = randomTensor([g.frames, g.channels, g.height, g.width], seed: UInt64(100 + index), requiresGrad: false)
            let w = randomTensor([g.outChannels, g.channels, 3, 3], std: 0.3, seed: UInt64(200 + index), requiresGrad: false)
            let bias = randomTensor([g.outChannels], seed: UInt64(300 + index), requiresGrad: false)
            let winograd = Winograd(g, threads: 2).forward(input: x.data, weight: w.data, bias: bias.data)
            let plane = g.height * g.width
            var expected = directForward(x.data, w.data, g)
            for i in expected.indices { expected[i] += Double(bias.data[(i / plane) % g.outChannels]) }
            assertClose(winograd, expected, "Winograd forward \(shape)")
            let im2col = Convolution.im2colForward(input: x.data, weight: w.data, bias: bias.data, g)
            assertClose(im2col, expected, "im2col forward \(shape)")
            assertClose(x.conv2d(weight: w, bias: bias, padding: 1).data, expected, "conv2d \(shape)")
            XCTAssertEqual(x.conv2d(weight: w, bias: bias, padding: 1, algorithm: .im2col).data, im2col)
        }
    }

    func testGradientsMatchDirectSums() {
        for (index, shape) in shapes.enumerated() {
            let g = geometry(shape)
            let (h, wd, cIn, cOut) = (g.height, g.width, g.channels, g.outChannels)
            let x = randomTensor([g.frames, cIn, h, wd], seed: UInt64(400 + index))
            let w = randomTensor([cOut, cIn, 3, 3], std: 0.3, seed: UInt64(500 + index))
            let dy = randomTensor([g.frames, cOut, h, wd], seed: UInt64(600 + index), requiresGrad: false)
            (x.conv2d(weight: w, padding: 1) * dy).sum().backward()
            var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
            for n in 0..<g.frames { for o in 0..<cOut { for i in 0..<h { for j in 0..<wd {
                let d = Double(dy.data[((n * cOut + o) * h + i) * wd + j])
                for c in 0..<cIn { for a in 0..<3 { for b in 0..<3 {
                    let yy = i + a - 1, xx = j + b - 1
                    guard (0..<h).contains(yy), (0..<wd).contains(xx) else { continue }
                    let xi = ((n * cIn + c) * h + yy) * wd + xx, wi = ((o * cIn + c) * 3 + a) * 3 + b
                    dx[xi] += d * Double(w.data[wi])
                    dw[wi] += d * Double(x.data[xi])
                } } }
            } } } }
            assertClose(x.grad!, dx, "input gradient \(shape)")
            assertClose(w.grad!, dw, "weight gradient \(shape)")
        }
    }

    func testFiniteDifferences() {
        let x = randomTensor([3, 9, 7, 5], seed: 700)
        let w = randomTensor([10, 9, 3, 3], std: 0.3, seed: 701)
        let b = randomTensor([10], seed: 702)
        checkGradients([x, w, b]) { t in t[0].conv2d(weight: t[1], bias: t[2], padding: 1) }
        let large = randomTensor([2, 8, 30, 27], seed: 703)
        let k = randomTensor([12, 8, 3, 3], std: 0.3, seed: 704)
        checkGradients([large, k], samplesPerInput: 12) { t in t[0].conv2d(weight: t[1], padding: 1) }
    }
}
