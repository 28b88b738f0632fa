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
    /// Scratch budget of one work item, in floats: the transformed input and products of its tiles.
    static let itemFloats = 1 << 19

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
        let fitting = max(1, Self.itemFloats / (16 * (g.channels + g.outChannels) * tilesWide))
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
    static func transformKernel(_ kernel: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                into u: UnsafeMutablePointer<Float>) {
        let pairs = outChannels * channels
        for pair in 0..<pairs {
            let k = kernel + pair * 9
            var t = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                     Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
            // t = G·K (4×3), row by row.
            t.0 = k[0]; t.1 = k[1]; t.2 = k[2]
            t.3 = 0.5 * (k[0] + k[3] + k[6]); t.4 = 0.5 * (k[1] + k[4] + k[7]); t.5 = 0.5 * (k[2] + k[5] + k[8])
            t.6 = 0.5 * (k[0] - k[3] + k[6]); t.7 = 0.5 * (k[1] - k[4] + k[7]); t.8 = 0.5 * (k[2] - k[5] + k[8])
            t.9 = k[6]; t.10 = k[7]; t.11 = k[8]
            func row(_ i: Int, _ a: Float, _ b: Float, _ c: Float) {
                u[(4 * i) * pairs + pair] = a
                u[(4 * i + 1) * pairs + pair] = 0.5 * (a + b + c)
                u[(4 * i + 2) * pairs + pair] = 0.5 * (a - b + c)
                u[(4 * i + 3) * pairs + pair] = c
            }
            row(0, t.0, t.1, t.2); row(1, t.3, t.4, t.5); row(2, t.6, t.7, t.8); row(3, t.9, t.10, t.11)
        }
    }

    /// dK = Gᵀ·dU·G, added onto `kernelGradient` (C_out, C_in, 3, 3): the adjoint of ``transformKernel``.
    static func transformKernelGradient(_ du: UnsafePointer<Float>, outChannels: Int, channels: Int,
                                        into kernelGradient: UnsafeMutablePointer<Float>) {
        let pairs = outChannels * channels
        for pair in 0..<pairs {
            @inline(__always) func d(_ e: Int) -> Float { du[e * pairs + pair] }
            // r = Gᵀ·dU (3×4), column by column, then dK = r·G (3×3), row by row.
            @inline(__always) func column(_ j: Int) -> (Float, Float, Float) {
                let d0 = d(j), d1 = d(4 + j), d2 = d(8 + j), d3 = d(12 + j)
                return (d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3)
            }
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            let k = kernelGradient + pair * 9
            @inline(__always) func row(_ a: Int, _ r0: Float, _ r1: Float, _ r2: Float, _ r3: Float) {
                k[3 * a] += r0 + 0.5 * (r1 + r2)
                k[3 * a + 1] += 0.5 * (r1 - r2)
                k[3 * a + 2] += 0.5 * (r1 + r2) + r3
            }
            row(0, c0.0, c1.0, c2.0, c3.0)
            row(1, c0.1, c1.1, c2.1, c3.1)
            row(2, c0.2, c1.2, c2.2, c3.2)
        }
    }

    /// V = Bᵀ·D·B of the tiles of `rows` for the `channels` planes of each frame of `input`, into 16
    /// matrices (channels × ld), tile after tile. `lines` holds 8·(tilesWide + 1) floats.
    func transformInput(_ input: UnsafePointer<Float>, channels: Int, rows: Range<Int>,
                        into v: UnsafeMutablePointer<Float>, ld: Int, lines: UnsafeMutablePointer<Float>) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w
        let stride = tw + 1
        // even[k][j] = (Bᵀ·D)[k] at column 2j − 1, odd[k][j] at column 2j; columns outside the map are 0.
        let even = lines, odd = lines + 4 * stride
        let evenEnd = w / 2 + 1, oddEnd = tw
        for (index, row) in rows.enumerated() {
            let frame = row / tilesHigh, y0 = 2 * (row % tilesHigh) - 1
            let column0 = index * tw
            for c in 0..<channels {
                let base = input + (frame * channels + c) * plane
                func line(_ k: Int) -> UnsafePointer<Float>? {
                    let y = y0 + k
                    return y >= 0 && y < h ? base + y * w : nil
                }
                let l0 = line(0), l1 = line(1), l2 = line(2), l3 = line(3)
                @inline(__always) func vertical(_ x: Int, _ out: UnsafeMutablePointer<Float>) {
                    let d0 = l0?[x] ?? 0, d1 = l1?[x] ?? 0, d2 = l2?[x] ?? 0, d3 = l3?[x] ?? 0
                    out[0] = d0 - d2
                    out[stride] = d1 + d2
                    out[2 * stride] = d2 - d1
                    out[3 * stride] = d1 - d3
                }
                for k in 0..<4 { even[k * stride] = 0 }
                for j in 1..<evenEnd { vertical(2 * j - 1, even + j) }
                for j in evenEnd..<(tw + 1) { for k in 0..<4 { even[k * stride + j] = 0 } }
                for j in 0..<oddEnd { vertical(2 * j, odd + j) }
                for k in 0..<4 { odd[k * stride + tw] = 0 }
                for k in 0..<4 {
                    let e = even + k * stride, o = odd + k * stride
                    let v0 = v + ((4 * k) * channels + c) * ld + column0
                    let v1 = v0 + channels * ld, v2 = v1 + channels * ld, v3 = v2 + channels * ld
                    for t in 0..<tw {
                        v0[t] = e[t] - e[t + 1]
                        v1[t] = o[t] + e[t + 1]
                        v2[t] = e[t + 1] - o[t]
                        v3[t] = o[t] - o[t + 1]
                    }
                }
            }
        }
    }

    /// Y = Aᵀ·M·A for the tiles of `rows` from 16 matrices (outChannels × ld) into the NCHW output,
    /// plus the bias; outputs past the map's edge (odd sizes) are dropped.
    func transformOutput(_ m: UnsafePointer<Float>, ld: Int, rows: Range<Int>, bias: UnsafePointer<Float>?,
                         into output: UnsafeMutablePointer<Float>) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w
        let outChannels = geometry.outChannels, matrix = outChannels * ld
        let fullTiles = w / 2
        for (index, row) in rows.enumerated() {
            let frame = row / tilesHigh, y = 2 * (row % tilesHigh)
            let column0 = index * tw
            for co in 0..<outChannels {
                let b = bias?[co] ?? 0
                let src = m + co * ld + column0
                let top = output + (frame * outChannels + co) * plane + y * w
                let bottom: UnsafeMutablePointer<Float>? = y + 1 < h ? top + w : nil
                @inline(__always) func tile(_ t: Int) -> (Float, Float, Float, Float) {
                    @inline(__always) func e(_ i: Int) -> Float { src[i * matrix + t] }
                    // p = Aᵀ over the rows of each column group, then Aᵀ across.
                    let p00 = e(0) + e(1) + e(2), p01 = e(1) - e(2) - e(3)
                    let p10 = e(4) + e(5) + e(6), p11 = e(5) - e(6) - e(7)
                    let p20 = e(8) + e(9) + e(10), p21 = e(9) - e(10) - e(11)
                    let p30 = e(12) + e(13) + e(14), p31 = e(13) - e(14) - e(15)
                    return (p00 + p10 + p20 + b, p01 + p11 + p21 + b, p10 - p20 - p30 + b, p11 - p21 - p31 + b)
                }
                if let bottom {
                    for t in 0..<fullTiles {
                        let (y00, y01, y10, y11) = tile(t)
                        top[2 * t] = y00; top[2 * t + 1] = y01
                        bottom[2 * t] = y10; bottom[2 * t + 1] = y11
                    }
                    if fullTiles < tw {
                        let (y00, _, y10, _) = tile(fullTiles)
                        top[2 * fullTiles] = y00; bottom[2 * fullTiles] = y10
                    }
                } else {
                    for t in 0..<fullTiles {
                        let (y00, y01, _, _) = tile(t)
                        top[2 * t] = y00; top[2 * t + 1] = y01
                    }
                    if fullTiles < tw { top[2 * fullTiles] = tile(fullTiles).0 }
                }
            }
        }
    }

    /// dM = A·dY·Aᵀ for the tiles of `rows` of the output gradient (outChannels planes per frame), into
    /// 16 matrices (outChannels × ld): the adjoint of ``transformOutput``. Outputs past the map's edge
    /// count as zero.
    func transformOutputGradient(_ gradient: UnsafePointer<Float>, rows: Range<Int>,
                                 into dm: UnsafeMutablePointer<Float>, ld: Int) {
        let w = geometry.width, h = geometry.height, tw = tilesWide, plane = h * w
        let outChannels = geometry.outChannels, matrix = outChannels * ld
        let fullTiles = w / 2
        for (index, row) in rows.enumerated() {
            let frame = row / tilesHigh, y = 2 * (row % tilesHigh)
            let column0 = index * tw
            for co in 0..<outChannels {
                let top = gradient + (frame * outChannels + co) * plane + y * w
                let bottom: UnsafePointer<Float>? = y + 1 < h ? top + w : nil
                let dst = dm + co * ld + column0
                @inline(__always) func tile(_ t: Int, _ a: Float, _ b: Float, _ c: Float, _ d: Float) {
                    // q = A·dY (4×2), then dM = q·Aᵀ (4×4).
                    let q = (a, b, a + c, b + d, a - c, b - d, -c, -d)
                    @inline(__always) func put(_ i: Int, _ u: Float, _ v: Float) {
                        dst[(4 * i) * matrix + t] = u
                        dst[(4 * i + 1) * matrix + t] = u + v
                        dst[(4 * i + 2) * matrix + t] = u - v
                        dst[(4 * i + 3) * matrix + t] = -v
                    }
                    put(0, q.0, q.1); put(1, q.2, q.3); put(2, q.4, q.5); put(3, q.6, q.7)
                }
                if let bottom {
                    for t in 0..<fullTiles { tile(t, top[2 * t], top[2 * t + 1], bottom[2 * t], bottom[2 * t + 1]) }
                    if fullTiles < tw { tile(fullTiles, top[2 * fullTiles], 0, bottom[2 * fullTiles], 0) }
                } else {
                    for t in 0..<fullTiles { tile(t, top[2 * t], top[2 * t + 1], 0, 0) }
                    if fullTiles < tw { tile(fullTiles, top[2 * fullTiles], 0, 0, 0) }
                }
            }
        }
    }
}

extension Winograd {
    /// The forward pass: (frames, C_out, H, W) from (frames, C_in, H, W) and a (C_out, C_in, 3, 3) kernel.
    func forward(input: [Float], weight: [Float], bias: [Float]?) -> [Float] {
        let g = geometry, cIn = g.channels, cOut = g.outChannels
        let threads = Threading.count
        let workers = min(threads, items), gemmThreads = workers == 1 ? threads : 1
        let vSize = 16 * cIn * maxTiles, mSize = 16 * cOut * maxTiles, lineSize = 8 * (tilesWide + 1)
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
                                transformOutput(m, ld: tiles, rows: rows, bias: bias, into: o)
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
        let vSize = 16 * cIn * maxTiles, mSize = 16 * cOut * maxTiles, lineSize = 8 * (tilesWide + 1)
        let perWorker = vSize + mSize + lineSize, uSize = 16 * cOut * cIn
        var scratch = Kernels.uninitialized(workers * perWorker) { _ in }
        // dU summed per worker (fixed item split: the same sums on every run), then added up.
        var partials = [Float](repeating: 0, count: workers * uSize)
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
                            transformOutputGradient(dy, rows: rows, into: dm, ld: tiles)
                            for e in 0..<16 {
                                BLAS.gemm(threads: gemmThreads, transposeB: true, m: cOut, n: cIn, k: tiles,
                                          a: dm + e * cOut * tiles, lda: tiles, b: v + e * cIn * tiles, ldb: tiles,
                                          beta: 1, c: du + e * uSize / 16, ldc: cIn)
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
            var kernelGradient = [Float](repeating: 0, count: cOut * cIn * 9)
            kernelGradient.withUnsafeMutableBufferPointer { k in
                Self.transformKernelGradient(total, outChannels: cOut, channels: cIn, into: k.baseAddress!)
            }
            return kernelGradient
        }
    }
}
