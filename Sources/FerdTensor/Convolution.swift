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
    /// How many frames share one im2col buffer: one frame when its map alone gives the GEMM enough
    /// columns (then the GEMM writes straight into the NCHW output), otherwise enough frames for
    /// ~2k columns, keeping the buffer within ~8 MB so it stays in the last-level cache.
    var framesPerChunk: Int {
        let wanted = (2048 + outPlane - 1) / outPlane
        let fitting = max(1, 2_097_152 / max(1, patchSize * outPlane))
        return max(1, min(frames, wanted, fitting))
    }

    /// The output columns x whose input column x·stride − padding + tap lies inside the map.
    @inline(__always)
    func validColumns(tap: Int) -> Range<Int> {
        let low = max(0, (padding - tap + stride - 1) / stride)
        let high = min(outWidth, (width - 1 + padding - tap) / stride + 1)
        return low..<max(low, high)
    }

    /// Fills `columns` (patchSize × ld) at column offset `column0` with the patches of channels
    /// `channel0 ..< channel0 + groupInChannels` of one frame.
    func im2col(_ image: UnsafePointer<Float>, channel0: Int, into columns: UnsafeMutablePointer<Float>,
                ld: Int, column0: Int) {
        let oh = outHeight, ow = outWidth, kh = kernelH, kw = kernelW
        Parallel.forRange(patchSize, costPerItem: outPlane) { rows in
            for row in rows {
                let c = row / (kh * kw), ki = (row / kw) % kh, kj = row % kw
                let plane = image + (channel0 + c) * inPlane
                let dst = columns + row * ld + column0
                let valid = validColumns(tap: kj)
                for y in 0..<oh {
                    let iy = y * stride - padding + ki
                    let line = dst + y * ow
                    if iy < 0 || iy >= height || valid.isEmpty {
                        line.update(repeating: 0, count: ow)
                        continue
                    }
                    line.update(repeating: 0, count: valid.lowerBound)
                    (line + valid.upperBound).update(repeating: 0, count: ow - valid.upperBound)
                    let src = plane + iy * width - padding + kj
                    if stride == 1 {
                        (line + valid.lowerBound).update(from: src + valid.lowerBound, count: valid.count)
                    } else {
                        for x in valid { line[x] = src[x * stride] }
                    }
                }
            }
        }
    }

    /// Adds the patch gradients in `columns` back onto the image gradient (the adjoint of ``im2col``).
    func col2im(_ columns: UnsafePointer<Float>, ld: Int, column0: Int, channel0: Int,
                into image: UnsafeMutablePointer<Float>) {
        let oh = outHeight, ow = outWidth, kh = kernelH, kw = kernelW
        Parallel.forRange(groupInChannels, costPerItem: kh * kw * outPlane) { channels in
            for c in channels {
                let plane = image + (channel0 + c) * inPlane
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        let src = columns + ((c * kh + ki) * kw + kj) * ld + column0
                        let valid = validColumns(tap: kj)
                        for y in 0..<oh {
                            let iy = y * stride - padding + ki
                            if iy < 0 || iy >= height { continue }
                            let line = plane + iy * width - padding + kj
                            let row = src + y * ow
                            for x in valid { line[x * stride] += row[x] }
                        }
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// 2-D convolution of an (N, C, H, W) input with a (C_out, C/groups, kh, kw) kernel, as PyTorch's
    /// `F.conv2d`, through im2col and `cblas_sgemm`.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, groups: Int = 1) -> Tensor {
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
            Convolution.forward(input: data, weight: weight.data, bias: bias?.data, geometry)
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

/// The im2col + GEMM convolution kernels.
enum Convolution {
    static func forward(input: [Float], weight: [Float], bias: [Float]?, _ g: ConvGeometry) -> [Float] {
        var out = Kernels.uninitialized(g.frames * g.outChannels * g.outPlane) { _ in }
        let chunk = g.framesPerChunk
        let ld = chunk * g.outPlane
        var columns = [Float](repeating: 0, count: g.patchSize * ld)
        var product = [Float](repeating: 0, count: g.groupOutChannels * ld)
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { o in
                    columns.withUnsafeMutableBufferPointer { col in
                        product.withUnsafeMutableBufferPointer { prod in
                            for start in stride(from: 0, to: g.frames, by: chunk) {
                                let count = min(chunk, g.frames - start)
                                for group in 0..<g.groups {
                                    for f in 0..<count {
                                        g.im2col(x.baseAddress! + (start + f) * g.channels * g.inPlane,
                                                 channel0: group * g.groupInChannels, into: col.baseAddress!,
                                                 ld: ld, column0: f * g.outPlane)
                                    }
                                    let weights = w.baseAddress! + group * g.groupOutChannels * g.patchSize
                                    if count == 1 && bias == nil {
                                        let target = o.baseAddress! + (start * g.outChannels + group * g.groupOutChannels) * g.outPlane
                                        BLAS.gemm(m: g.groupOutChannels, n: g.outPlane, k: g.patchSize, a: weights, lda: g.patchSize,
                                                  b: col.baseAddress!, ldb: ld, c: target, ldc: g.outPlane)
                                        continue
                                    }
                                    BLAS.gemm(m: g.groupOutChannels, n: count * g.outPlane, k: g.patchSize,
                                              a: weights, lda: g.patchSize,
                                              b: col.baseAddress!, ldb: ld, c: prod.baseAddress!, ldc: ld)
                                    scatter(prod.baseAddress!, ld: ld, frames: count, into: o.baseAddress!,
                                            frame0: start, channel0: group * g.groupOutChannels, bias: bias, g)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Copies a (C_out_group × frames·plane) GEMM product into NCHW output, adding the bias.
    private static func scatter(_ product: UnsafePointer<Float>, ld: Int, frames: Int,
                                into out: UnsafeMutablePointer<Float>, frame0: Int, channel0: Int,
                                bias: [Float]?, _ g: ConvGeometry) {
        let plane = g.outPlane
        Parallel.forRange(g.groupOutChannels * frames, costPerItem: plane) { range in
            for item in range {
                let co = item / frames, f = item % frames
                let src = product + co * ld + f * plane
                let dst = out + ((frame0 + f) * g.outChannels + channel0 + co) * plane
                let b = bias?[channel0 + co] ?? 0
                for i in 0..<plane { dst[i] = src[i] + b }
            }
        }
    }

    static func backward(gradient: [Float], input: Tensor, weight: Tensor, bias: Tensor?, _ g: ConvGeometry) {
        let chunk = g.framesPerChunk
        let ld = chunk * g.outPlane
        let plane = g.outPlane
        var columns = [Float](repeating: 0, count: g.patchSize * ld)
        var gathered = [Float](repeating: 0, count: g.groupOutChannels * ld)
        var inputGradient = input.requiresGrad ? [Float](repeating: 0, count: input.count) : []
        var weightGradient = [Float](repeating: 0, count: weight.requiresGrad ? weight.count : 0)
        gradient.withUnsafeBufferPointer { dy in
            input.data.withUnsafeBufferPointer { x in
                weight.data.withUnsafeBufferPointer { w in
                    columns.withUnsafeMutableBufferPointer { col in
                        gathered.withUnsafeMutableBufferPointer { gat in
                            inputGradient.withUnsafeMutableBufferPointer { dx in
                                weightGradient.withUnsafeMutableBufferPointer { dw in
                                    for start in stride(from: 0, to: g.frames, by: chunk) {
                                        let count = min(chunk, g.frames - start)
                                        for group in 0..<g.groups {
                                            let channel0 = group * g.groupOutChannels
                                            // The gradient of this chunk as a (C_out_group × count·plane) matrix.
                                            let dyMatrix: UnsafePointer<Float>
                                            let dyLd: Int
                                            if count == 1 {
                                                dyMatrix = dy.baseAddress! + (start * g.outChannels + channel0) * plane
                                                dyLd = plane
                                            } else {
                                                Parallel.forRange(g.groupOutChannels * count, costPerItem: plane) { range in
                                                    for item in range {
                                                        let co = item / count, f = item % count
                                                        (gat.baseAddress! + co * ld + f * plane).update(
                                                            from: dy.baseAddress! + ((start + f) * g.outChannels + channel0 + co) * plane,
                                                            count: plane)
                                                    }
                                                }
                                                dyMatrix = UnsafePointer(gat.baseAddress!)
                                                dyLd = ld
                                            }
                                            let wOffset = group * g.groupOutChannels * g.patchSize
                                            if weight.requiresGrad {
                                                for f in 0..<count {
                                                    g.im2col(x.baseAddress! + (start + f) * g.channels * g.inPlane,
                                                             channel0: group * g.groupInChannels, into: col.baseAddress!,
                                                             ld: ld, column0: f * plane)
                                                }
                                                BLAS.gemm(transposeB: true, m: g.groupOutChannels, n: g.patchSize, k: count * plane,
                                                          a: dyMatrix, lda: dyLd, b: col.baseAddress!, ldb: ld,
                                                          beta: 1, c: dw.baseAddress! + wOffset, ldc: g.patchSize)
                                            }
                                            if input.requiresGrad {
                                                BLAS.gemm(transposeA: true, m: g.patchSize, n: count * plane, k: g.groupOutChannels,
                                                          a: w.baseAddress! + wOffset, lda: g.patchSize, b: dyMatrix, ldb: dyLd,
                                                          c: col.baseAddress!, ldc: ld)
                                                for f in 0..<count {
                                                    g.col2im(col.baseAddress!, ld: ld, column0: f * plane,
                                                             channel0: group * g.groupInChannels,
                                                             into: dx.baseAddress! + (start + f) * g.channels * g.inPlane)
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
            bias?.withGradBuffer { db in
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
        if input.requiresGrad { input.accumulateGrad(inputGradient) }
        if weight.requiresGrad { weight.accumulateGrad(weightGradient) }
    }
}
