/// The geometry of one 2-D convolution.
struct ConvGeometry {
    let frames: Int, channels: Int, height: Int, width: Int
    let outChannels: Int, kernelH: Int, kernelW: Int
    let stride: Int, padding: Int, groups: Int

    var outHeight: Int { (height + 2 * padding - kernelH) / stride + 1 }
    var outWidth: Int { (width + 2 * padding - kernelW) / stride + 1 }
    var inPlane: Int { height * width }
    var outPlane: Int { outHeight * outWidth }
    var groupInChannels: Int { channels / groups }
    var groupOutChannels: Int { outChannels / groups }
    /// Rows of the im2col matrix of one group: input channels × kernel taps.
    var patchSize: Int { groupInChannels * kernelH * kernelW }
    /// A depthwise convolution whose kernel covers the whole unpadded map (GCA's global convolution).
    var isWholeMapDepthwise: Bool {
        groups == channels && outChannels == channels && kernelH == height && kernelW == width && padding == 0
    }
    /// A 1×1 convolution with stride 1 and no padding: the input planes of a frame are its patch matrix.
    var isPointwise: Bool { kernelH == 1 && kernelW == 1 && stride == 1 && padding == 0 }

    /// For a stride-1 convolution with a square kernel, the convolution that takes the output
    /// gradient to the input gradient: the output gradient correlated with the kernel flipped in
    /// space and with input and output channels swapped (``transposedKernel(_:)``), padded by
    /// kernel − 1 − padding. Nil for strided convolutions.
    var transposed: ConvGeometry? {
        guard stride == 1, kernelH == kernelW, padding < kernelH else { return nil }
        return ConvGeometry(frames: frames, channels: outChannels, height: outHeight, width: outWidth,
                            outChannels: channels, kernelH: kernelH, kernelW: kernelW,
                            stride: 1, padding: kernelH - 1 - padding, groups: groups)
    }

    /// The kernel of ``transposed``: (C_in, C_out/groups, kh, kw) with
    /// K'[g·C_in/groups + i][o][a][b] = K[g·C_out/groups + o][i][kh−1−a][kw−1−b].
    func transposedKernel(_ kernel: [Float]) -> [Float] {
        let taps = kernelH * kernelW, gIn = groupInChannels, gOut = groupOutChannels
        return Kernels.uninitialized(kernel.count) { flipped in
            for group in 0..<groups {
                for i in 0..<gIn {
                    for o in 0..<gOut {
                        let src = ((group * gOut + o) * gIn + i) * taps
                        let dst = ((group * gIn + i) * gOut + o) * taps
                        for t in 0..<taps { flipped[dst + t] = kernel[src + taps - 1 - t] }
                    }
                }
            }
        }
    }

    /// The output columns x whose input column x·stride − padding + tap lies inside the map.
    @inline(__always)
    func validColumns(tap: Int) -> Range<Int> {
        validOutputs(tap: tap, extent: width, outExtent: outWidth)
    }

    /// The outputs o in 0..<outExtent with 0 ≤ o·stride − padding + tap < extent.
    @inline(__always)
    private func validOutputs(tap: Int, extent: Int, outExtent: Int) -> Range<Int> {
        let first = padding - tap, last = extent - 1 + padding - tap
        let low = max(0, first <= 0 ? 0 : (first + stride - 1) / stride)
        let high = min(outExtent, last < 0 ? 0 : last / stride + 1)
        return low..<max(low, high)
    }

    /// The patch matrix (patchSize × columns) of output rows `rows` of `frames` and the input channels
    /// of `group`, with its row stride: the input planes themselves for a pointwise convolution of
    /// one frame, otherwise im2col'd into `scratch` (ld = columns, frame after frame).
    func patches(of input: UnsafePointer<Float>, frames: Range<Int>, rows: Range<Int>, group: Int,
                 scratch: UnsafeMutablePointer<Float>) -> (matrix: UnsafePointer<Float>, ld: Int) {
        let channel0 = group * groupInChannels
        if isPointwise && frames.count == 1 {
            return (input + (frames.lowerBound * channels + channel0) * inPlane + rows.lowerBound * outWidth, inPlane)
        }
        let ld = frames.count * rows.count * outWidth
        for (index, frame) in frames.enumerated() {
            im2col(input + frame * channels * inPlane, channel0: channel0, rows: rows, into: scratch,
                   ld: ld, column0: index * rows.count * outWidth)
        }
        return (UnsafePointer(scratch), ld)
    }

    /// Fills `columns` (patchSize × ld) from column `column0` on with the patches of output rows
    /// `rows` of one frame, input channels `channel0 ..< channel0 + groupInChannels`.
    func im2col(_ image: UnsafePointer<Float>, channel0: Int, rows: Range<Int>,
                into columns: UnsafeMutablePointer<Float>, ld: Int, column0: Int) {
        if gathersThroughOffsetTable {
            return forEachTapLine(rows: rows, channel0: channel0, of: image) { plane, offsets, positions, line in
                let dst = columns + line * ld + column0
                for i in 0..<positions {
                    let offset = Int(offsets[i])
                    dst[i] = offset >= 0 ? plane[offset] : 0
                }
            }
        }
        let ow = outWidth, kw = kernelW
        withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: kernelW) { validByTap in
            for kj in 0..<kw { validByTap[kj] = validColumns(tap: kj) }
            var dst = columns + column0 - rows.lowerBound * ow
            for c in 0..<groupInChannels {
                let plane = image + (channel0 + c) * inPlane
                for ki in 0..<kernelH {
                    // The output rows of the band whose input row y·stride − padding + ki lies inside the map.
                    let inside = validOutputs(tap: ki, extent: height, outExtent: outHeight)
                    let firstRow = min(max(rows.lowerBound, inside.lowerBound), rows.upperBound)
                    let endRow = max(firstRow, min(rows.upperBound, inside.upperBound))
                    for kj in 0..<kw {
                        defer { dst += ld }
                        let valid = validByTap[kj]
                        if valid.isEmpty || firstRow == endRow {
                            (dst + rows.lowerBound * ow).update(repeating: 0, count: rows.count * ow)
                            continue
                        }
                        (dst + rows.lowerBound * ow).update(repeating: 0, count: (firstRow - rows.lowerBound) * ow)
                        (dst + endRow * ow).update(repeating: 0, count: (rows.upperBound - endRow) * ow)
                        let src = plane + (firstRow * stride - padding + ki) * width - padding + kj
                        if stride == 1 && ow == width {
                            // Consecutive output rows read consecutive input rows: one copy for the whole
                            // band, then zeros over the columns that wrapped around from the neighbouring rows.
                            let start = firstRow * ow + valid.lowerBound, end = (endRow - 1) * ow + valid.upperBound
                            (dst + start).update(from: src + start - firstRow * ow, count: end - start)
                            for y in firstRow..<endRow {
                                zeroBorders(dst + y * ow, valid)
                            }
                            continue
                        }
                        for y in firstRow..<endRow {
                            let line = dst + y * ow, input = src + (y - firstRow) * stride * width
                            zeroBorders(line, valid)
                            if stride == 1 {
                                for x in valid { line[x] = input[x] }
                            } else if stride == 2 {
                                gatherEven(input, into: line, valid)
                            } else {
                                for x in valid { line[x] = input[x * stride] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// line[x] = input[2x] for x in `valid`: sixteen at a time from the even lanes of 32 input values
    /// while those stay inside the valid input columns, which are all in one row of the map.
    @inline(__always)
    private func gatherEven(_ input: UnsafePointer<Float>, into line: UnsafeMutablePointer<Float>, _ valid: Range<Int>) {
        var x = valid.lowerBound
        while 2 * (x + 16) <= 2 * valid.upperBound - 1 {
            let pair = UnsafeRawPointer(input + 2 * x).loadUnaligned(as: SIMD32<Float>.self)
            UnsafeMutableRawPointer(line + x).storeBytes(of: pair.evenHalf, as: SIMD16<Float>.self)
            x += 16
        }
        while x < valid.upperBound { line[x] = input[2 * x]; x += 1 }
    }

    /// Zeros the columns of one im2col line outside `valid`: at most `padding` on either side.
    @inline(__always)
    private func zeroBorders(_ line: UnsafeMutablePointer<Float>, _ valid: Range<Int>) {
        var x = 0
        while x < valid.lowerBound { line[x] = 0; x += 1 }
        x = valid.upperBound
        while x < outWidth { line[x] = 0; x += 1 }
    }

    /// Whether im2col and col2im gather through a table of offsets: strided convolutions with short output
    /// rows (layers 2–4's first convolutions, the patch embedding, the downsampling 1×1s), where the
    /// row-by-row loops below spend more time on their bounds than on copying.
    var gathersThroughOffsetTable: Bool { stride > 1 && outWidth < 16 }

    /// Calls `body` for every line of the patch matrix (input channel `channel0 + c` and kernel tap, line
    /// c·taps + tap) with the channel's plane of `image` and, for each of the `positions` outputs of rows
    /// `rows`, the offset of its input in the plane, or −1 where it falls in the padding.
    private func forEachTapLine<Plane>(rows: Range<Int>, channel0: Int, of image: Plane,
                                       _ body: (_ plane: Plane, _ offsets: UnsafePointer<Int32>, _ positions: Int, _ line: Int) -> Void)
    where Plane: Strideable, Plane.Stride == Int {
        let positions = rows.count * outWidth, taps = kernelH * kernelW
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: taps * positions) { offsets in
            var i = 0
            for ki in 0..<kernelH {
                for kj in 0..<kernelW {
                    for y in rows {
                        let iy = y * stride - padding + ki
                        for x in 0..<outWidth {
                            let ix = x * stride - padding + kj
                            let inside = iy >= 0 && iy < height && ix >= 0 && ix < width
                            offsets[i] = inside ? Int32(iy * width + ix) : -1
                            i += 1
                        }
                    }
                }
            }
            for c in 0..<groupInChannels {
                let plane = image.advanced(by: (channel0 + c) * inPlane)
                for tap in 0..<taps {
                    body(plane, offsets.baseAddress! + tap * positions, positions, c * taps + tap)
                }
            }
        }
    }

    /// Adds the patch gradients in `columns` back onto the image gradient (the adjoint of ``im2col``).
    func col2im(_ columns: UnsafePointer<Float>, ld: Int, column0: Int, rows: Range<Int>, channel0: Int,
                into image: UnsafeMutablePointer<Float>) {
        if gathersThroughOffsetTable {
            // Tap after tap, as below, so that each input adds its gradients in the same order.
            return forEachTapLine(rows: rows, channel0: channel0, of: image) { plane, offsets, positions, line in
                let src = columns + line * ld + column0
                for i in 0..<positions {
                    let offset = Int(offsets[i])
                    if offset >= 0 { plane[offset] += src[i] }
                }
            }
        }
        let ow = outWidth, kh = kernelH, kw = kernelW
        for c in 0..<groupInChannels {
            let plane = image + (channel0 + c) * inPlane
            for ki in 0..<kh {
                for kj in 0..<kw {
                    let src = columns + ((c * kh + ki) * kw + kj) * ld + column0 - rows.lowerBound * ow
                    let valid = validColumns(tap: kj)
                    for y in rows {
                        let iy = y * stride - padding + ki
                        if iy < 0 || iy >= height { continue }
                        let line = plane + iy * width - padding + kj
                        let row = src + y * ow
                        if stride == 1 {
                            for x in valid { line[x] += row[x] }
                        } else {
                            for x in valid { line[x * stride] += row[x] }
                        }
                    }
                }
            }
        }
    }
}

/// How a convolution is cut into work items for the threads. An item is a group of whole frames when
/// the maps are small (so that one GEMM still gets enough columns), or else one frame, cut into bands
/// of output rows whose im2col blocks stay in cache. Items never share a frame, so the threads'
/// input-gradient scatters never overlap.
struct ConvTiling {
    /// Output columns (positions) one GEMM aims for, and more where the patches are short: as many as
    /// fill `patchFloats` of im2col matrix (the stem's 27-row patches take a whole 56×56 frame per GEMM,
    /// which its weight gradient, a GEMM over the columns, needs to run at speed).
    static let targetColumns = 512
    static let patchFloats = 1 << 17

    let frameCount: Int, outHeight: Int
    let framesPerItem: Int
    let rowsPerBand: Int
    /// The widest band in columns: the width of the per-thread scratch matrices.
    let maxColumns: Int
    var items: Int { (frameCount + framesPerItem - 1) / framesPerItem }

    init(_ g: ConvGeometry, threads: Int) {
        frameCount = g.frames
        outHeight = g.outHeight
        let target = max(Self.targetColumns, Self.patchFloats / g.patchSize)
        if g.outPlane >= target / 2 {
            framesPerItem = 1
            let bands = max(1, (g.outPlane + target / 2) / target)
            rowsPerBand = (g.outHeight + bands - 1) / bands
        } else {
            let wanted = max(1, (g.frames * g.outPlane + target / 2) / target)
            let items = (wanted + threads - 1) / threads * threads
            framesPerItem = (g.frames + items - 1) / items
            rowsPerBand = g.outHeight
        }
        maxColumns = framesPerItem * rowsPerBand * g.outWidth
    }

    /// The frames of item `item`.
    func frames(of item: Int) -> Range<Int> {
        item * framesPerItem ..< min(frameCount, (item + 1) * framesPerItem)
    }

    /// The bands of output rows every item is cut into.
    var bands: [Range<Int>] {
        stride(from: 0, to: outHeight, by: rowsPerBand).map { $0 ..< min(outHeight, $0 + rowsPerBand) }
    }
}

/// Which kernel the forward pass of a convolution runs on.
public enum ConvolutionAlgorithm: Sendable {
    /// Winograd F(2×2, 3×3) where it applies (stride-1, padding-1 3×3 convolutions without groups and
    /// with at least 8 channels each way), im2col + GEMM otherwise.
    case automatic
    /// im2col + GEMM, whose outputs round like a direct sum; the backward passes still use Winograd
    /// where it applies (docs/MODEL.md, "Winograd convolutions").
    case im2col
}

extension Tensor {
    /// 2-D convolution of an (N, C, H, W) input with a (C_out, C/groups, kh, kw) kernel, as PyTorch's
    /// `F.conv2d`, through Winograd transforms or im2col, and `cblas_sgemm`. `algorithm` chooses the
    /// forward pass's kernel.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, groups: Int = 1,
                       algorithm: ConvolutionAlgorithm = .automatic) -> Tensor {
        precondition(rank == 4 && weight.rank == 4, "conv2d needs (N,C,H,W) input and 4-D weight, got \(shape), \(weight.shape)")
        let geometry = ConvGeometry(frames: shape[0], channels: shape[1], height: shape[2], width: shape[3],
                                    outChannels: weight.shape[0], kernelH: weight.shape[2], kernelW: weight.shape[3],
                                    stride: stride, padding: padding, groups: groups)
        precondition(geometry.channels % groups == 0 && geometry.outChannels % groups == 0
                     && weight.shape[1] == geometry.groupInChannels,
                     "conv2d: weight \(weight.shape) does not fit input \(shape) with \(groups) groups")
        precondition(geometry.outHeight > 0 && geometry.outWidth > 0, "conv2d: kernel larger than padded input \(shape)")
        if let bias { precondition(bias.count == geometry.outChannels, "conv2d: bias \(bias.shape)") }
        if geometry.isWholeMapDepthwise && bias == nil {
            return wholeMapDepthwise(weight: weight, geometry)
        }
        let gemmFlops = 2 * Double(geometry.frames * geometry.outPlane) * Double(geometry.outChannels * geometry.patchSize)
        let out = Profiler.convolution(flops: gemmFlops) {
            algorithm == .im2col
                ? Convolution.im2colForward(input: data, weight: weight.data, bias: bias?.data, geometry)
                : Convolution.forward(input: data, weight: weight.data, bias: bias?.data, geometry)
        }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return .result(shape: [geometry.frames, geometry.outChannels, geometry.outHeight, geometry.outWidth],
                       data: out, inputs: inputs) { [self] g in
            let passes = Double((requiresGrad ? 1 : 0) + (weight.requiresGrad ? 1 : 0))
            Profiler.convolution(flops: passes * gemmFlops) {
                Convolution.backward(gradient: g, input: self, weight: weight, bias: bias, geometry)
            }
        }
    }

    /// z[n,c] = Σ_hw K[c,h,w]·x[n,c,h,w]: GCA's global depthwise convolution, without im2col.
    private func wholeMapDepthwise(weight: Tensor, _ geometry: ConvGeometry) -> Tensor {
        let n = geometry.frames, c = geometry.channels, plane = geometry.inPlane
        var out = [Float](repeating: 0, count: n * c)
        data.withUnsafeBufferPointer { x in
            weight.data.withUnsafeBufferPointer { k in
                out.withUnsafeMutableBufferPointer { z in
                    Parallel.forRange(n * c, costPerItem: plane) { range in
                        for nc in range {
                            let xs = x.baseAddress! + nc * plane, ks = k.baseAddress! + (nc % c) * plane
                            var acc: Float = 0
                            for i in 0..<plane { acc += xs[i] * ks[i] }
                            z[nc] = acc
                        }
                    }
                }
            }
        }
        return .result(shape: [n, c, 1, 1], data: out, inputs: [self, weight]) { [self] g in
            withGradBuffer { dx in
                weight.data.withUnsafeBufferPointer { k in
                    Parallel.forRange(n * c, costPerItem: plane) { range in
                        for nc in range {
                            let d = dx.baseAddress! + nc * plane, ks = k.baseAddress! + (nc % c) * plane
                            let scale = g[nc]
                            for i in 0..<plane { d[i] += scale * ks[i] }
                        }
                    }
                }
            }
            weight.withGradBuffer { dk in
                data.withUnsafeBufferPointer { x in
                    Parallel.forRange(c, costPerItem: n * plane) { range in
                        for channel in range {
                            let d = dk.baseAddress! + channel * plane
                            for frame in 0..<n {
                                let xs = x.baseAddress! + (frame * c + channel) * plane
                                let scale = g[frame * c + channel]
                                for i in 0..<plane { d[i] += scale * xs[i] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The convolution kernels: ``Winograd`` for the stride-1 3×3 convolutions it applies to, otherwise
/// im2col + GEMM. The threads take work items (``ConvTiling``) and run single-threaded GEMMs on
/// per-thread scratch; with a single item the GEMMs use all threads instead.
enum Convolution {
    static func forward(input: [Float], weight: [Float], bias: [Float]?, _ g: ConvGeometry) -> [Float] {
        if Winograd.applies(to: g) {
            return Winograd(g, threads: Threading.count).forward(input: input, weight: weight, bias: bias)
        }
        return im2colForward(input: input, weight: weight, bias: bias, g)
    }

    /// The forward pass through im2col and GEMM, for any geometry.
    static func im2colForward(input: [Float], weight: [Float], bias: [Float]?, _ g: ConvGeometry) -> [Float] {
        let threads = Threading.count
        let tiling = ConvTiling(g, threads: threads)
        let workers = min(threads, tiling.items), gemmThreads = workers == 1 ? threads : 1
        let bands = tiling.bands
        let columnsSize = g.patchSize * tiling.maxColumns
        let productSize = tiling.framesPerItem > 1 ? g.groupOutChannels * tiling.maxColumns : 0
        var scratch = Kernels.uninitialized(workers * (columnsSize + productSize)) { _ in }
        let plane = g.outPlane, gOut = g.groupOutChannels
        return Kernels.uninitialized(g.frames * g.outChannels * plane) { o in
            input.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    scratch.withUnsafeMutableBufferPointer { s in
                        let x = x.baseAddress!, w = w.baseAddress!, o = o.baseAddress!, s = s.baseAddress!
                        Parallel.forEachItem(tiling.items, workers: workers) { worker, item in
                            let col = s + worker * (columnsSize + productSize), product = col + columnsSize
                            let frames = tiling.frames(of: item)
                            for rows in bands {
                                let columns = frames.count * rows.count * g.outWidth
                                for group in 0..<g.groups {
                                    let (patches, ld) = g.patches(of: x, frames: frames, rows: rows, group: group, scratch: col)
                                    let weights = w + group * gOut * g.patchSize
                                    if frames.count == 1 {
                                        // Straight into the NCHW output: this band of every output channel.
                                        let target = o + (frames.lowerBound * g.outChannels + group * gOut) * plane
                                            + rows.lowerBound * g.outWidth
                                        BLAS.gemm(threads: gemmThreads, m: gOut, n: columns, k: g.patchSize,
                                                  a: weights, lda: g.patchSize, b: patches, ldb: ld, c: target, ldc: plane)
                                        if let bias {
                                            for co in 0..<gOut {
                                                let b = bias[group * gOut + co], line = target + co * plane
                                                for i in 0..<columns { line[i] += b }
                                            }
                                        }
                                    } else {
                                        BLAS.gemm(threads: gemmThreads, m: gOut, n: columns, k: g.patchSize,
                                                  a: weights, lda: g.patchSize, b: patches, ldb: ld, c: product, ldc: columns)
                                        scatter(product, frames: frames, group: group, bias: bias, into: o, g)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Copies a (C_out_group × frames·plane) GEMM product into the NCHW output, adding the bias.
    private static func scatter(_ product: UnsafePointer<Float>, frames: Range<Int>, group: Int, bias: [Float]?,
                                into out: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
        let plane = g.outPlane, ld = frames.count * plane
        for co in 0..<g.groupOutChannels {
            let channel = group * g.groupOutChannels + co
            let b = bias?[channel] ?? 0
            for (index, frame) in frames.enumerated() {
                let src = product + co * ld + index * plane, dst = out + (frame * g.outChannels + channel) * plane
                for i in 0..<plane { dst[i] = src[i] + b }
            }
        }
    }

    /// Adds the gradients of input, weight and bias. The input gradient of a stride-1 convolution is
    /// itself a convolution (``ConvGeometry/transposed``); a strided one scatters GEMM patch
    /// gradients back with ``ConvGeometry/col2im(_:ld:column0:rows:channel0:into:)``. The weight
    /// gradient of a Winograd convolution is the adjoint of its forward pass.
    static func backward(gradient: [Float], input: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvGeometry) {
        let winograd = Winograd.applies(to: g) ? Winograd(g, threads: Threading.count) : nil
        let transposed = input.requiresGrad ? g.transposed : nil
        let scatterInput = input.requiresGrad && transposed == nil
        let patchWeight = weight.requiresGrad && winograd == nil
        if patchWeight || scatterInput {
            patchGradients(gradient: gradient, input: input, weight: weight, weightGradient: patchWeight,
                           scatterInput: scatterInput, g)
        }
        if let winograd, weight.requiresGrad {
            weight.accumulateGrad(winograd.weightGradient(gradient: gradient, input: input.data))
        }
        if let transposed {
            input.accumulateGrad(forward(input: gradient, weight: g.transposedKernel(weight.data), bias: nil, transposed))
        }
        if let bias {
            gradient.withUnsafeBufferPointer { dy in
                bias.withGradBuffer { db in
                    let plane = g.outPlane
                    Parallel.forRange(g.outChannels, costPerItem: g.frames * plane) { range in
                        for co in range {
                            var acc: Float = 0
                            for f in 0..<g.frames {
                                let src = dy.baseAddress! + (f * g.outChannels + co) * plane
                                for i in 0..<plane { acc += src[i] }
                            }
                            db[co] += acc
                        }
                    }
                }
            }
        }
    }

    /// With `weightGradient`, the weight gradient dY·patchesᵀ and, with `scatterInput`, the input
    /// gradient as col2im(Wᵀ·dY), band by band.
    private static func patchGradients(gradient: [Float], input: Tensor, weight: Tensor, weightGradient wantsWeight: Bool,
                                       scatterInput: Bool, _ g: ConvGeometry) {
        let threads = Threading.count
        let tiling = ConvTiling(g, threads: threads)
        let workers = min(threads, tiling.items), gemmThreads = workers == 1 ? threads : 1
        let bands = tiling.bands
        let plane = g.outPlane, gOut = g.groupOutChannels
        let columnsSize = g.patchSize * tiling.maxColumns
        let gatherSize = tiling.framesPerItem > 1 ? gOut * tiling.maxColumns : 0
        // Worker 0 adds its weight gradient into `weightGradient`, the others into their own partial sums.
        let partialSize = wantsWeight ? weight.count : 0
        var scratch = Kernels.uninitialized(workers * (columnsSize + gatherSize)) { _ in }
        // None of these is zeroed beforehand: a worker's first band overwrites its weight gradient sums (β = 0) and
        // the later ones add to them; each item zeroes the input gradient of its own frames before scattering.
        var partials = Kernels.uninitialized((workers - 1) * partialSize) { _ in }
        var inputGradient = Kernels.uninitialized(scatterInput ? input.count : 0) { _ in }
        var weightGradient = Kernels.uninitialized(partialSize) { _ in }
        gradient.withUnsafeBufferPointer { dy in
            input.data.withUnsafeBufferPointer { x in
                weight.data.withUnsafeBufferPointer { w in
                    scratch.withUnsafeMutableBufferPointer { s in
                        partials.withUnsafeMutableBufferPointer { p in
                            inputGradient.withUnsafeMutableBufferPointer { dx in
                                weightGradient.withUnsafeMutableBufferPointer { dw in
                                    let dy = dy.baseAddress!, x = x.baseAddress!, w = w.baseAddress!, s = s.baseAddress!
                                    let dx = scatterInput ? dx.baseAddress! : nil
                                    let dw = wantsWeight ? dw.baseAddress! : nil
                                    Parallel.forEachItem(tiling.items, workers: workers) { worker, item in
                                        let col = s + worker * (columnsSize + gatherSize), gathered = col + columnsSize
                                        let frames = tiling.frames(of: item)
                                        let workerDw = worker == 0 ? dw : dw.map { _ in p.baseAddress! + (worker - 1) * partialSize }
                                        let frameFloats = g.channels * g.inPlane
                                        if let dx {
                                            (dx + frames.lowerBound * frameFloats).update(repeating: 0, count: frames.count * frameFloats)
                                        }
                                        for rows in bands {
                                            let firstBand = item == worker && rows == bands[0]
                                            let columns = frames.count * rows.count * g.outWidth
                                            for group in 0..<g.groups {
                                                // The output gradient of this band as a (C_out_group × columns) matrix.
                                                let channel0 = group * gOut
                                                let dyMatrix: UnsafePointer<Float>, dyLd: Int
                                                if frames.count == 1 {
                                                    dyMatrix = dy + (frames.lowerBound * g.outChannels + channel0) * plane
                                                        + rows.lowerBound * g.outWidth
                                                    dyLd = plane
                                                } else {
                                                    for co in 0..<gOut {
                                                        for (index, frame) in frames.enumerated() {
                                                            (gathered + co * columns + index * plane).update(
                                                                from: dy + (frame * g.outChannels + channel0 + co) * plane, count: plane)
                                                        }
                                                    }
                                                    dyMatrix = UnsafePointer(gathered)
                                                    dyLd = columns
                                                }
                                                let wOffset = group * gOut * g.patchSize
                                                if let workerDw {
                                                    let (patches, ld) = g.patches(of: x, frames: frames, rows: rows, group: group, scratch: col)
                                                    BLAS.gemm(threads: gemmThreads, transposeB: true, m: gOut, n: g.patchSize, k: columns,
                                                              a: dyMatrix, lda: dyLd, b: patches, ldb: ld,
                                                              beta: firstBand ? 0 : 1, c: workerDw + wOffset, ldc: g.patchSize)
                                                }
                                                guard let dx else { continue }
                                                BLAS.gemm(threads: gemmThreads, transposeA: true, m: g.patchSize, n: columns, k: gOut,
                                                          a: w + wOffset, lda: g.patchSize, b: dyMatrix, ldb: dyLd,
                                                          c: col, ldc: columns)
                                                for (index, frame) in frames.enumerated() {
                                                    g.col2im(col, ld: columns, column0: index * rows.count * g.outWidth, rows: rows,
                                                             channel0: group * g.groupInChannels,
                                                             into: dx + frame * g.channels * g.inPlane)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if wantsWeight {
            weightGradient.withUnsafeMutableBufferPointer { dw in
                partials.withUnsafeBufferPointer { p in
                    for worker in 0..<(workers - 1) {
                        Kernels.addInPlace(dw, UnsafeBufferPointer(rebasing: p[(worker * partialSize)...].prefix(partialSize)))
                    }
                }
            }
            weight.accumulateGrad(weightGradient)
        }
        if scatterInput { input.accumulateGrad(inputGradient) }
    }
}
