@testable import FerdTensor
import XCTest

/// im2col against its definition, and col2im as its adjoint, on both of its paths: the row-by-row loops and
/// the offset table (strided convolutions with output rows shorter than 16).
final class ConvolutionLoweringTests: XCTestCase {
    /// (channels, height, width, kernel, stride, padding): short strided rows (table), long strided rows,
    /// stride 1, a 1×1 downsampling, stride 3 with a kernel of 2, a 5×5 kernel with padding 2.
    private let cases = [(3, 7, 7, 3, 2, 1), (2, 9, 40, 3, 2, 1), (2, 6, 5, 3, 1, 1), (4, 7, 7, 1, 2, 0),
                         (2, 11, 10, 2, 3, 0), (3, 9, 8, 5, 2, 2)]

    private func geometry(_ c: (Int, Int, Int, Int, Int, Int)) -> ConvGeometry {
        ConvGeometry(frames: 1, channels: c.0, height: c.1, width: c.2, outChannels: 1,
                     kernelH: c.3, kernelW: c.3, stride: c.4, padding: c.5, groups: 1)
    }

    private func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(($0 * 7919 + seed * 104_729) % 1000) / 1000 - 0.5 }
    }

    func testIm2colMatchesItsDefinitionOnEveryBand() {
        XCTAssertTrue(geometry(cases[0]).gathersThroughOffsetTable)
        XCTAssertFalse(geometry(cases[1]).gathersThroughOffsetTable)
        for c in cases {
            let g = geometry(c), image = values(g.channels * g.inPlane, seed: 1)
            for rows in [0..<g.outHeight, 1..<g.outHeight, 0..<1] where !rows.isEmpty {
                let ld = rows.count * g.outWidth + 3, column0 = 2
                var columns = [Float](repeating: .nan, count: g.patchSize * ld)
                image.withUnsafeBufferPointer { x in
                    columns.withUnsafeMutableBufferPointer { col in
                        g.im2col(x.baseAddress!, channel0: 0, rows: rows, into: col.baseAddress!, ld: ld, column0: column0)
                    }
                }
                for ch in 0..<g.channels { for ki in 0..<g.kernelH { for kj in 0..<g.kernelW {
                    let row = (ch * g.kernelH + ki) * g.kernelW + kj
                    for (index, y) in rows.enumerated() { for x in 0..<g.outWidth {
                        let iy = y * g.stride - g.padding + ki, ix = x * g.stride - g.padding + kj
                        let inside = (0..<g.height).contains(iy) && (0..<g.width).contains(ix)
                        let expected = inside ? image[(ch * g.height + iy) * g.width + ix] : 0
                        XCTAssertEqual(columns[row * ld + column0 + index * g.outWidth + x], expected, "\(c) rows \(rows)")
                    } }
                } } }
            }
        }
    }

    /// ⟨col2im(C), X⟩ = ⟨C, im2col(X)⟩ for every band, summed exactly enough to compare at 1e-5.
    func testCol2imIsTheAdjointOfIm2col() {
        for c in cases {
            let g = geometry(c), image = values(g.channels * g.inPlane, seed: 2)
            let rows = 0..<g.outHeight, positions = rows.count * g.outWidth
            let patches = values(g.patchSize * positions, seed: 3)
            var lowered = [Float](repeating: 0, count: g.patchSize * positions)
            var scattered = [Float](repeating: 0, count: g.channels * g.inPlane)
            image.withUnsafeBufferPointer { x in
                lowered.withUnsafeMutableBufferPointer { col in
                    g.im2col(x.baseAddress!, channel0: 0, rows: rows, into: col.baseAddress!, ld: positions, column0: 0)
                }
            }
            patches.withUnsafeBufferPointer { p in
                scattered.withUnsafeMutableBufferPointer { dx in
                    g.col2im(p.baseAddress!, ld: positions, column0: 0, rows: rows, channel0: 0, into: dx.baseAddress!)
                }
            }
            let left = zip(scattered, image).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let right = zip(patches, lowered).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(left, right, accuracy: 1e-5 * max(1, abs(right)), "\(c)")
        }
    }
}
