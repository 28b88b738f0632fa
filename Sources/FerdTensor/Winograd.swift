import CProcessorHints

/// Winograd F(2×2, 3×3) for the stride-1, padding-1 3×3 convolutions without groups that make up most
/// of the GCA+IAL model's work (Lavin & Gray, 2016). Each 2×2 block of outputs (a tile) comes from the
/// 4×4 input block around it: Y = Aᵀ[(G·K·Gᵀ) ⊙ (Bᵀ·D·B)]A. The 16 element-wise products of a tile,
/// summed over input channels, are 16 GEMMs (C_out × C_in)·(C_in × tiles), as in NNPACK and oneDNN:
/// 16 multiply-adds per tile and channel pair instead of 36, 2.25× fewer than im2col.
///
/// The three passes of training all run in the transformed domain:
/// - forward: V = Bᵀ·D·B of the input tiles, M = U·V with U = G·K·Gᵀ, Y = Aᵀ·M·A;
/// - input gradient: the forward pass of ``ConvGeometry/transposed`` (the output gradient correlated
///   with the flipped, channel-swapped kernel), which is again a stride-1, padding-1 3×3 convolution;
/// - weight gradient: the adjoint of the forward pass, dU = Σ_tiles (A·dY·Aᵀ) ⊙ V, dK = Gᵀ·dU·G.
///
/// The transforms only add, subtract and halve, so the rounding differs from im2col's by a few ulps of
/// the tile sums (docs/MODEL.md, "Winograd convolutions").
struct Winograd {
    private typealias Vector = SIMD16<Float>
    private typealias Half = SIMD8<Float>
    /// Scratch budget of one work item, in floats (512 KiB): the transformed input and products of its
    /// tiles, which the GEMMs then read from L2.
    static let itemFloats = 1 << 17
    /// The fewest tiles a work item takes: the GEMMs' shortest side.
    static let minimumTiles = 64

    let geometry: ConvGeometry
    /// Tiles across and down one map: ⌈W/2⌉ × ⌈H/2⌉ (the last ones cropped on odd sizes).
    let tilesWide: Int, tilesHigh: Int
    /// Tile rows (of all frames, frame after frame) per work item.
    let rowsPerItem: Int

    /// Whether `g` is a convolution this kernel computes: 3×3, stride 1, padding 1, no groups, and
    /// at least 8 input and output channels (below that the transforms cost more than they save).
    static func applies(to g: ConvGeometry) -> Bool {
        g.kernelH == 3 && g.kernelW == 3 && g.stride == 1 && g.padding == 1 && g.groups == 1
            && g.channels >= 8 && g.outChannels >= 8
    }

    init(_ g: ConvGeometry, threads: Int) {
        geometry = g
        tilesWide = (g.width + 1) / 2
        tilesHigh = (g.height + 1) / 2
        let rows = g.frames * tilesHigh
        // At least `minimumTiles` per item even where that overflows the budget (many channels on small
        // maps), since narrower GEMMs run far below the sgemm peak.
        let fitting = max(1, Self.itemFloats / (16 * (g.channels + g.outChannels) * tilesWide),
                          (Self.minimumTiles + tilesWide - 1) / tilesWide)
        let balanced = max(1, (rows + 2 * threads - 1) / (2 * threads))
        rowsPerItem = min(fitting, balanced)
    }

    var tileRows: Int { geometry.frames * tilesHigh }
    var items: Int { (tileRows + rowsPerItem - 1) / rowsPerItem }
    var maxTiles: Int { rowsPerItem * tilesWide }

    /// The global tile rows of item `item`.
    func rows(of item: Int) -> Range<Int> {
        item * rowsPerItem ..< min(tileRows, (item + 1) * rowsPerItem)
    }

    /// U = G·K·Gᵀ for every (output, input) channel pair: 16 matrices (C_out × C_in), one per tile element.
    /// Pairs go in blocks through a small buffer, so that the 16 far-apart outputs are written in runs.
    static func transformKernel(_ kernel: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                into u: UnsafeMutablePointer<Float>) {
        let pairs = outChannels * channels, block = 64
        Parallel.forRange((pairs + block - 1) / block, costPerItem: 64 * block) { blocks in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * block) { buffer in
                let local = buffer.baseAddress!
                for first in stride(from: blocks.lowerBound * block, to: min(pairs, blocks.upperBound * block), by: block) {
                    let count = min(block, pairs - first)
                    for index in 0..<count {
                        let k = kernel + (first + index) * 9
                        @inline(__always) func row(_ i: Int, _ a: Float, _ b: Float, _ c: Float) {
                            local[(4 * i) * block + index] = a
                            local[(4 * i + 1) * block + index] = 0.5 * (a + b + c)
                            local[(4 * i + 2) * block + index] = 0.5 * (a - b + c)
                            local[(4 * i + 3) * block + index] = c
                        }
                        // The rows of G·K (4×3), each times Gᵀ.
                        row(0, k[0], k[1], k[2])
                        row(1, 0.5 * (k[0] + k[3] + k[6]), 0.5 * (k[1] + k[4] + k[7]), 0.5 * (k[2] + k[5] + k[8]))
                        row(2, 0.5 * (k[0] - k[3] + k[6]), 0.5 * (k[1] - k[4] + k[7]), 0.5 * (k[2] - k[5] + k[8]))
                        row(3, k[6], k[7], k[8])
                    }
                    for e in 0..<16 { (u + e * pairs + first).update(from: local + e * block, count: count) }
                }
            }
        }
    }

    /// dK = Gᵀ·dU·G into `kernelGradient` (C_out, C_in, 3, 3): the adjoint of ``transformKernel``.
    static func transformKernelGradient(_ du: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                        into kernelGradient: UnsafeMutablePointer<Float>) {
        let pairs = outChannels * channels
        Parallel.forRange(pairs, costPerItem: 64) { range in
            for pair in range {
                @inline(__always) func d(_ e: Int) -> Float { du[e * pairs + pair] }
                // r = Gᵀ·dU (3×4), column by column, then dK = r·G (3×3), row by row.
                @inline(__always) func column(_ j: Int) -> (Float, Float, Float) {
                    let d0 = d(j), d1 = d(4 + j), d2 = d(8 + j), d3 = d(12 + j)
                    return (d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3)
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                let k = kernelGradient + pair * 9
                @inline(__always) func row(_ a: Int, _ r0: Float, _ r1: Float, _ r2: Float, _ r3: Float) {
                    k[3 * a] = r0 + 0.5 * (r1 + r2)
                    k[3 * a + 1] = 0.5 * (r1 - r2)
                    k[3 * a + 2] = 0.5 * (r1 + r2) + r3
                }
                row(0, c0.0, c1.0, c2.0, c3.0)
                row(1, c0.1, c1.1, c2.1, c3.1)
                row(2, c0.2, c1.2, c2.2, c3.2)
            }
        }
    }

    /// Floats of the scratch each transform needs: for the input, a zero row and four padded rows; for the
    /// output (and its gradient), four values per tile of an item and two padded rows.
    var lineFloats: Int { max(geometry.width + 4 * (geometry.width + 3), 4 * maxTiles + 4 * tilesWide) }

    /// V = Bᵀ·D·B of the tiles of `rows` for the `channels` planes of each frame of `input`, into 16
    /// matrices (channels × ld), tile after tile. `lines` holds ``lineFloats`` floats.
    func transformInput(_ input: UnsafePointer<Float>, channels: Int, rows: Range<Int>,
                        into v: UnsafeMutablePointer<Float>, ld: Int, lines: UnsafeMutablePointer<Float>) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w, span = w + 3
        // The rows of Bᵀ·D, column x at index x + 1; columns −1, w and w + 1 stay zero.
        let zero = lines, t0 = lines + w, t1 = t0 + span, t2 = t1 + span, t3 = t2 + span
        zero.update(repeating: 0, count: w)
        t0.update(repeating: 0, count: 4 * span)
        // Channel by channel, so that each plane is read down its rows (the overlapping rows of consecutive
        // tile rows come from L1, and the hardware prefetcher sees one stream instead of one per channel).
        for c in 0..<channels {
            for (index, row) in rows.enumerated() {
                let frame = row / tilesHigh, y0 = 2 * (row % tilesHigh) - 1
                let column0 = index * tw
                let base = input + (frame * channels + c) * plane
                @inline(__always) func line(_ k: Int) -> UnsafePointer<Float> {
                    let y = y0 + k
                    return y >= 0 && y < h ? base + y * w : UnsafePointer(zero)
                }
                let d0 = line(0), d1 = line(1), d2 = line(2), d3 = line(3)
                // The same rows of the next channel's plane: an item reads only a few rows of each plane,
                // too short a stream for the hardware prefetcher to pick up before it ends.
                if c + 1 < channels {
                    for k in 0..<4 where y0 + k >= 0 && y0 + k < h {
                        let next = base + plane + (y0 + k) * w
                        for x in stride(from: 0, to: w, by: 16) { ferd_prefetch(next + x) }
                    }
                }
                // Bᵀ·D down the columns x…x+lanes−1.
                @inline(__always) func down<V: SIMD>(_: V.Type, _ x: Int) where V.Scalar == Float {
                    let a = V.load(d0 + x), b = V.load(d1 + x), e = V.load(d2 + x), f = V.load(d3 + x)
                    V.store(a - e, t0 + x + 1)
                    V.store(b + e, t1 + x + 1)
                    V.store(e - b, t2 + x + 1)
                    V.store(b - f, t3 + x + 1)
                }
                var x = 0
                while x + 16 <= w {
                    down(Vector.self, x)
                    x += 16
                }
                if x + 8 <= w {
                    down(Half.self, x)
                    x += 8
                }
                if x + 4 <= w {
                    down(SIMD4<Float>.self, x)
                    x += 4
                }
                while x < w {
                    let a = d0[x], b = d1[x], e = d2[x], f = d3[x]
                    t0[x + 1] = a - e
                    t1[x + 1] = b + e
                    t2[x + 1] = e - b
                    t3[x + 1] = b - f
                    x += 1
                }
                @inline(__always) func across(_ k: Int, _ r: UnsafeMutablePointer<Float>) {
                    let v0 = v + ((4 * k) * channels + c) * ld + column0
                    let v1 = v0 + channels * ld, v2 = v1 + channels * ld, v3 = v2 + channels * ld
                    // Bᵀ across tiles t…t+lanes−1 from their columns a, b, e, f (2t, 2t + 1, 2t + 2, 2t + 3).
                    @inline(__always) func put<V: SIMD>(_ t: Int, _ a: V, _ b: V, _ e: V, _ f: V) where V.Scalar == Float {
                        V.store(a - e, v0 + t)
                        V.store(b + e, v1 + t)
                        V.store(e - b, v2 + t)
                        V.store(b - f, v3 + t)
                    }
                    var t = 0
                    // Eight (then four) tiles at a time: their even columns in the even lanes, odd ones in the odd lanes.
                    while t + 8 <= tw {
                        let ab = Vector.load(r + 2 * t), ef = Vector.load(r + 2 * t + 2)
                        put(t, ab.evenHalf, ab.oddHalf, ef.evenHalf, ef.oddHalf)
                        t += 8
                    }
                    if t + 4 <= tw {
                        let ab = Half.load(r + 2 * t), ef = Half.load(r + 2 * t + 2)
                        put(t, ab.evenHalf, ab.oddHalf, ef.evenHalf, ef.oddHalf)
                        t += 4
                    }
                    while t < tw {
                        let a = r[2 * t], b = r[2 * t + 1], e = r[2 * t + 2], f = r[2 * t + 3]
                        v0[t] = a - e
                        v1[t] = b + e
                        v2[t] = e - b
                        v3[t] = b - f
                        t += 1
                    }
                }
                across(0, t0); across(1, t1); across(2, t2); across(3, t3)
            }
        }
    }

    /// Y = Aᵀ·M·A for the tiles of `rows` from 16 matrices (outChannels × ld) into the NCHW output,
    /// plus the bias; outputs past the map's edge (odd sizes) are dropped. `lines` holds ``lineFloats``.
    /// Per channel, the four outputs of every tile of the item are computed 16 tiles at a time into `lines`
    /// (the item's tiles are contiguous in M), then spread over the two output rows of each tile row.
    func transformOutput(_ m: UnsafePointer<Float>, ld: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                         into output: UnsafeMutablePointer<Float>, lines: UnsafeMutablePointer<Float>) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w
        let outChannels = geometry.outChannels, matrix = outChannels * ld, tiles = rows.count * tw
        let top0 = lines, top1 = top0 + tiles, bottom0 = top1 + tiles, bottom1 = bottom0 + tiles
        for co in 0..<outChannels {
            let b = bias?[co] ?? 0
            let src = m + co * ld
            // The next channel's output rows, for writing: short streams again (see the input transform).
            if co + 1 < outChannels {
                for row in rows {
                    let frame = row / tilesHigh, y = 2 * (row % tilesHigh)
                    let next = output + (frame * outChannels + co + 1) * plane + y * w
                    for x in stride(from: 0, to: min(2, h - y) * w, by: 16) { ferd_prefetch_for_writing(next + x) }
                }
            }
            var t = 0
            while t + 16 <= tiles {
                @inline(__always) func e(_ k: Int) -> Vector { Vector.load(src + k * matrix + t) }
                // Aᵀ down each column of M, then across.
                let p00 = e(0) + e(1) + e(2), p01 = e(1) - e(2) - e(3)
                let p10 = e(4) + e(5) + e(6), p11 = e(5) - e(6) - e(7)
                let p20 = e(8) + e(9) + e(10), p21 = e(9) - e(10) - e(11)
                let p30 = e(12) + e(13) + e(14), p31 = e(13) - e(14) - e(15)
                Vector.store(p00 + p10 + p20 + b, top0 + t)
                Vector.store(p01 + p11 + p21 + b, top1 + t)
                Vector.store(p10 - p20 - p30 + b, bottom0 + t)
                Vector.store(p11 - p21 - p31 + b, bottom1 + t)
                t += 16
            }
            while t < tiles {
                @inline(__always) func e(_ k: Int) -> Float { src[k * matrix + t] }
                let p00 = e(0) + e(1) + e(2), p01 = e(1) - e(2) - e(3)
                let p10 = e(4) + e(5) + e(6), p11 = e(5) - e(6) - e(7)
                let p20 = e(8) + e(9) + e(10), p21 = e(9) - e(10) - e(11)
                let p30 = e(12) + e(13) + e(14), p31 = e(13) - e(14) - e(15)
                top0[t] = p00 + p10 + p20 + b
                top1[t] = p01 + p11 + p21 + b
                bottom0[t] = p10 - p20 - p30 + b
                bottom1[t] = p11 - p21 - p31 + b
                t += 1
            }
            for (index, row) in rows.enumerated() {
                let frame = row / tilesHigh, y = 2 * (row % tilesHigh)
                let target = output + (frame * outChannels + co) * plane + y * w
                Self.interleave(top0 + index * tw, top1 + index * tw, count: w, into: target)
                if y + 1 < h { Self.interleave(bottom0 + index * tw, bottom1 + index * tw, count: w, into: target + w) }
            }
        }
    }

    /// dM = A·dY·Aᵀ for the tiles of `rows` of the output gradient (outChannels planes per frame), into
    /// 16 matrices (outChannels × ld): the adjoint of ``transformOutput``. Outputs past the map's edge
    /// count as zero. `lines` holds ``lineFloats`` floats. Per channel, the four gradients of every tile
    /// are first gathered into `lines`, then transformed 16 tiles at a time.
    func transformOutputGradient(_ gradient: UnsafePointer<Float>, rows: Range<Int>,
                                 into dm: UnsafeMutablePointer<Float>, ld: Int, lines: UnsafeMutablePointer<Float>) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w
        let outChannels = geometry.outChannels, matrix = outChannels * ld, tiles = rows.count * tw
        let a = lines, b = a + tiles, c = b + tiles, d = c + tiles
        // Cropped tiles are read from two rows padded with zeros to 2·tilesWide columns.
        let paddedTop = d + tiles, paddedBottom = paddedTop + 2 * tw
        paddedTop.update(repeating: 0, count: 4 * tw)
        for co in 0..<outChannels {
            for (index, row) in rows.enumerated() {
                let frame = row / tilesHigh, y = 2 * (row % tilesHigh)
                let source = gradient + (frame * outChannels + co) * plane + y * w
                // The same two rows of the next channel's plane, as in the input transform.
                if co + 1 < outChannels {
                    for x in stride(from: 0, to: min(2, h - y) * w, by: 16) { ferd_prefetch(source + plane + x) }
                }
                let top: UnsafePointer<Float>, bottom: UnsafePointer<Float>
                if w % 2 == 0 && y + 1 < h {
                    (top, bottom) = (source, source + w)
                } else {
                    paddedTop.update(from: source, count: w)
                    if y + 1 < h {
                        paddedBottom.update(from: source + w, count: w)
                    } else {
                        paddedBottom.update(repeating: 0, count: w)
                    }
                    (top, bottom) = (UnsafePointer(paddedTop), UnsafePointer(paddedBottom))
                }
                Self.deinterleave(top, count: tw, into: a + index * tw, b + index * tw)
                Self.deinterleave(bottom, count: tw, into: c + index * tw, d + index * tw)
            }
            let dst = dm + co * ld
            var t = 0
            while t + 16 <= tiles {
                let a = Vector.load(a + t), b = Vector.load(b + t), c = Vector.load(c + t), d = Vector.load(d + t)
                // q = A·dY (4×2), then dM = q·Aᵀ (4×4), row by row.
                let q00 = a, q01 = b, q10 = a + c, q11 = b + d, q20 = a - c, q21 = b - d
                @inline(__always) func put(_ k: Int, _ value: Vector) { Vector.store(value, dst + k * matrix + t) }
                put(0, q00); put(1, q00 + q01); put(2, q00 - q01); put(3, -q01)
                put(4, q10); put(5, q10 + q11); put(6, q10 - q11); put(7, -q11)
                put(8, q20); put(9, q20 + q21); put(10, q20 - q21); put(11, -q21)
                put(12, -c); put(13, -c - d); put(14, d - c); put(15, d)
                t += 16
            }
            while t < tiles {
                let a = a[t], b = b[t], c = c[t], d = d[t]
                let q00 = a, q01 = b, q10 = a + c, q11 = b + d, q20 = a - c, q21 = b - d
                let e = dst + t
                e[0] = q00; e[matrix] = q00 + q01; e[2 * matrix] = q00 - q01; e[3 * matrix] = -q01
                e[4 * matrix] = q10; e[5 * matrix] = q10 + q11; e[6 * matrix] = q10 - q11; e[7 * matrix] = -q11
                e[8 * matrix] = q20; e[9 * matrix] = q20 + q21; e[10 * matrix] = q20 - q21; e[11 * matrix] = -q21
                e[12 * matrix] = -c; e[13 * matrix] = -c - d; e[14 * matrix] = d - c; e[15 * matrix] = d
                t += 1
            }
        }
    }

    /// Writes `count` values alternately from `even` and `odd` (`even[0], odd[0], even[1], …`).
    @inline(__always)
    private static func interleave(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, count: Int,
                                   into target: UnsafeMutablePointer<Float>) {
        var i = 0
        while 2 * i + 16 <= count {
            let e = Half.load(even + i), o = Half.load(odd + i)
            Vector.store(Vector(lowHalf: e, highHalf: o).interleaved, target + 2 * i)
            i += 8
        }
        while 2 * i + 1 < count {
            target[2 * i] = even[i]
            target[2 * i + 1] = odd[i]
            i += 1
        }
        if 2 * i < count { target[2 * i] = even[i] }
    }

    /// Splits the `2·pairs` values at `source` into its even and odd positions.
    @inline(__always)
    private static func deinterleave(_ source: UnsafePointer<Float>, count pairs: Int,
                                     into even: UnsafeMutablePointer<Float>, _ odd: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= pairs {
            let v = Vector.load(source + 2 * i)
            Half.store(v.evenHalf, even + i)
            Half.store(v.oddHalf, odd + i)
            i += 8
        }
        while i < pairs {
            even[i] = source[2 * i]
            odd[i] = source[2 * i + 1]
            i += 1
        }
    }
}

extension Winograd {
    /// The forward pass: (frames, C_out, H, W) from (frames, C_in, H, W) and a (C_out, C_in, 3, 3) kernel.
    func forward(input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        let g = geometry, cIn = g.channels, cOut = g.outChannels
        let threads = Threading.count
        let workers = min(threads, items), gemmThreads = workers == 1 ? threads : 1
        let vSize = 16 * cIn * maxTiles, mSize = 16 * cOut * maxTiles, lineSize = lineFloats
        let perWorker = vSize + mSize + lineSize
        var u = Kernels.uninitialized(16 * cOut * cIn) { u in
            weight.withUnsafeBufferPointer { k in
                Self.transformKernel(k.baseAddress!, outChannels: cOut, channels: cIn, into: u.baseAddress!)
            }
        }
        var scratch = Kernels.uninitialized(workers * perWorker) { _ in }
        let biasValues = bias ?? []
        return Kernels.uninitialized(g.frames * cOut * g.outPlane) { o in
            input.withUnsafeBufferPointer { x in
                u.withUnsafeMutableBufferPointer { u in
                    scratch.withUnsafeMutableBufferPointer { s in
                        biasValues.withUnsafeBufferPointer { b in
                            let bias = bias == nil ? nil : b.baseAddress
                            let x = x.baseAddress!, u = u.baseAddress!, s = s.baseAddress!, o = o.baseAddress!
                            Parallel.forEachItem(items, workers: workers) { worker, item in
                                let v = s + worker * perWorker, m = v + vSize, lines = m + mSize
                                let rows = rows(of: item), tiles = rows.count * tilesWide
                                transformInput(x, channels: cIn, rows: rows, into: v, ld: tiles, lines: lines)
                                for e in 0..<16 {
                                    BLAS.gemm(threads: gemmThreads, m: cOut, n: tiles, k: cIn,
                                              a: u + e * cOut * cIn, lda: cIn, b: v + e * cIn * tiles, ldb: tiles,
                                              c: m + e * cOut * tiles, ldc: tiles)
                                }
                                transformOutput(m, ld: tiles, rows: rows, bias: bias, into: o, lines: lines)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The kernel gradient (C_out, C_in, 3, 3) of the forward pass for output gradient `gradient`.
    func weightGradient(gradient: [Float], input: [Float]) -> [Float] {
        let g = geometry, cIn = g.channels, cOut = g.outChannels
        let threads = Threading.count
        let workers = min(threads, items), gemmThreads = workers == 1 ? threads : 1
        let vSize = 16 * cIn * maxTiles, mSize = 16 * cOut * maxTiles, lineSize = lineFloats
        let perWorker = vSize + mSize + lineSize, uSize = 16 * cOut * cIn
        var scratch = Kernels.uninitialized(workers * perWorker) { _ in }
        // dU summed per worker (fixed item split: the same sums on every run), then added up. A worker's first
        // item overwrites its sums (β = 0) and the later ones add to them, so they need no zeroing beforehand.
        var partials = Kernels.uninitialized(workers * uSize) { _ in }
        gradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                scratch.withUnsafeMutableBufferPointer { s in
                    partials.withUnsafeMutableBufferPointer { p in
                        let dy = dy.baseAddress!, x = x.baseAddress!, s = s.baseAddress!, p = p.baseAddress!
                        Parallel.forEachItem(items, workers: workers) { worker, item in
                            let v = s + worker * perWorker, dm = v + vSize, lines = dm + mSize
                            let du = p + worker * uSize
                            let rows = rows(of: item), tiles = rows.count * tilesWide
                            transformInput(x, channels: cIn, rows: rows, into: v, ld: tiles, lines: lines)
                            transformOutputGradient(dy, rows: rows, into: dm, ld: tiles, lines: lines)
                            for e in 0..<16 {
                                BLAS.gemm(threads: gemmThreads, transposeB: true, m: cOut, n: cIn, k: tiles,
                                          a: dm + e * cOut * tiles, lda: tiles, b: v + e * cIn * tiles, ldb: tiles,
                                          beta: item == worker ? 0 : 1, c: du + e * uSize / 16, ldc: cIn)
                            }
                        }
                    }
                }
            }
        }
        return partials.withUnsafeMutableBufferPointer { p in
            let total = p.baseAddress!
            for worker in 1..<max(1, workers) {
                Kernels.addInPlace(UnsafeMutableBufferPointer(start: total, count: uSize),
                                   UnsafeBufferPointer(start: total + worker * uSize, count: uSize))
            }
            return Kernels.uninitialized(cOut * cIn * 9) { k in
                Self.transformKernelGradient(total, outChannels: cOut, channels: cIn, into: k.baseAddress!)
            }
        }
    }
}

private extension SIMD16 where Scalar == Float {
    /// Lanes 0…7 and 8…15 interleaved: `self[0], self[8], self[1], self[9], …`.
    @inline(__always)
    var interleaved: Self {
        self[SIMD16<Int32>(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)]
    }
}

private extension SIMD where Scalar == Float {
    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    @inline(__always)
    static func load(_ pointer: UnsafeMutablePointer<Float>) -> Self {
        UnsafeRawPointer(pointer).loadUnaligned(as: Self.self)
    }

    @inline(__always)
    static func store(_ value: Self, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Self.self)
    }
}
