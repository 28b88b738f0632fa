import Foundation

extension Tensor {
    /// BatchNorm2d over an (N, C, H, W) input (eps 1e-5 by default). In training mode it normalises with
    /// the batch statistics over all N·H·W positions and moves the running statistics by `momentum`
    /// (the running variance takes the unbiased batch variance, as PyTorch does; not when
    /// ``Autograd/isRecomputing``); otherwise it uses
    /// the running statistics. With `relu`, the result is ReLU(BatchNorm2d(x)) in one pass over memory
    /// each way (the same values and gradients as `.relu()` after it).
    public func batchNorm2d(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor,
                            training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5, relu: Bool = false) -> Tensor {
        precondition(rank == 4 && weight.count == shape[1] && bias.count == shape[1]
                     && runningMean.count == shape[1] && runningVariance.count == shape[1],
                     "batchNorm2d: input \(shape) does not match \(weight.count) channels")
        let n = shape[0], c = shape[1], plane = shape[2] * shape[3]
        let reduced = n * plane
        var mean = [Float](repeating: 0, count: c)
        var invStd = [Float](repeating: 0, count: c)
        if training {
            precondition(reduced > 1, "batchNorm2d in training mode needs more than one value per channel, input \(shape)")
            var batchVariance = [Float](repeating: 0, count: c)
            data.withUnsafeBufferPointer { x in
                mean.withUnsafeMutableBufferPointer { meanOut in
                    batchVariance.withUnsafeMutableBufferPointer { varianceOut in
                        Parallel.forRange(c, costPerItem: reduced) { channels in
                            for ch in channels {
                                // One pass over memory: each plane's mean and squared deviations (the second
                                // read hits the cache), merged as Chan et al. do, in double precision.
                                var sum: Double = 0, squares: Double = 0
                                for f in 0..<n {
                                    let src = x.baseAddress! + (f * c + ch) * plane
                                    let planeSum = Kernels.sum(src, count: plane)
                                    let planeMean = planeSum / Float(plane)
                                    sum += Double(planeSum)
                                    squares += Double(Kernels.squaredDeviations(src, count: plane, center: planeMean))
                                        + Double(planeSum) * Double(planeMean)
                                }
                                let mu = sum / Double(reduced)
                                meanOut[ch] = Float(mu)
                                varianceOut[ch] = Float(max(0, squares / Double(reduced) - mu * mu))
                            }
                        }
                    }
                }
            }
            let unbiased = Float(reduced) / Float(reduced - 1)
            let movesRunningStatistics = !Autograd.isRecomputing
            for ch in 0..<c {
                invStd[ch] = 1 / (batchVariance[ch] + epsilon).squareRoot()
                if movesRunningStatistics {
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                    runningVariance.data[ch] = (1 - momentum) * runningVariance.data[ch] + momentum * batchVariance[ch] * unbiased
                }
            }
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.data[ch]
                invStd[ch] = 1 / (runningVariance.data[ch] + epsilon).squareRoot()
            }
        }
        let gamma = weight.data, beta = bias.data
        let out = data.withUnsafeBufferPointer { x in
            Kernels.uninitialized(count) { y in
                Parallel.forRange(n * c, costPerItem: plane) { range in
                    for item in range {
                        let ch = item % c
                        let scale = gamma[ch] * invStd[ch], shift = beta[ch] - mean[ch] * scale
                        let src = x.baseAddress! + item * plane, dst = y.baseAddress! + item * plane
                        if relu {
                            for i in 0..<plane { dst[i] = max(src[i] * scale + shift, 0) }
                        } else {
                            for i in 0..<plane { dst[i] = src[i] * scale + shift }
                        }
                    }
                }
            }
        }
        return .result(shape: shape, data: out, inputs: [self, weight, bias]) { [self] g in
            // dβ = Σ dy and dγ = Σ dy·x̂; in training mode dx = γ/σ·(dy − mean(dy) − x̂·mean(dy·x̂)),
            // which is a·dy + b·(x − μ) + k per channel. With `relu`, dy is the gradient masked by out > 0.
            var dGamma = [Float](repeating: 0, count: c), dBeta = [Float](repeating: 0, count: c)
            out.withUnsafeBufferPointer { y in g.withUnsafeBufferPointer { dy in
                let mask = relu ? y.baseAddress! : nil
                data.withUnsafeBufferPointer { x in
                    dGamma.withUnsafeMutableBufferPointer { dGammaOut in
                        dBeta.withUnsafeMutableBufferPointer { dBetaOut in
                            Parallel.forRange(c, costPerItem: reduced) { channels in
                                for ch in channels {
                                    var sumDy: Double = 0, sumDyCentered: Double = 0
                                    for f in 0..<n {
                                        let offset = (f * c + ch) * plane
                                        let (a, b) = Kernels.centeredMoments(dy.baseAddress! + offset, x.baseAddress! + offset,
                                                                             mask: mask.map { $0 + offset },
                                                                             count: plane, center: mean[ch])
                                        sumDy += Double(a)
                                        sumDyCentered += Double(b)
                                    }
                                    dBetaOut[ch] = Float(sumDy)
                                    dGammaOut[ch] = Float(sumDyCentered) * invStd[ch]
                                }
                            }
                        }
                    }
                }
                guard requiresGrad else { return }
                accumulateGrad(data.withUnsafeBufferPointer { x in
                    Kernels.uninitialized(count) { dx in
                        Parallel.forRange(n * c, costPerItem: plane) { range in
                            for item in range {
                                let ch = item % c
                                let scale = gamma[ch] * invStd[ch], mu = mean[ch]
                                var b: Float = 0, k: Float = 0
                                if training {
                                    k = -scale * dBeta[ch] / Float(reduced)
                                    b = -scale * invStd[ch] * dGamma[ch] / Float(reduced)
                                }
                                let src = x.baseAddress! + item * plane, grad = dy.baseAddress! + item * plane
                                let dst = dx.baseAddress! + item * plane
                                if let mask {
                                    Kernels.maskedAffine(grad, mask: mask + item * plane, x: src, count: plane,
                                                         scale: scale, slope: b, center: mu, offset: k, into: dst)
                                } else {
                                    for i in 0..<plane { dst[i] = scale * grad[i] + b * (src[i] - mu) + k }
                                }
                            }
                        }
                    }
                })
            } }
            weight.accumulateGrad(dGamma)
            bias.accumulateGrad(dBeta)
        }
    }

    /// LayerNorm over the last dimension with an affine weight and bias (PyTorch's `nn.LayerNorm`).
    public func layerNorm(weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
        let d = shape[rank - 1]
        precondition(weight.count == d && bias.count == d, "layerNorm: input \(shape) vs weight \(weight.shape)")
        let rows = count / d
        var out = [Float](repeating: 0, count: count)
        var normalized = [Float](repeating: 0, count: count)
        var invStd = [Float](repeating: 0, count: rows)
        let gamma = weight.data, beta = bias.data
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                normalized.withUnsafeMutableBufferPointer { xh in
                    invStd.withUnsafeMutableBufferPointer { inv in
                        Parallel.forRange(rows, costPerItem: d) { range in
                            for r in range {
                                let src = x.baseAddress! + r * d
                                let mean = Kernels.sum(src, count: d) / Float(d)
                                let variance = Kernels.squaredDeviations(src, count: d, center: mean) / Float(d)
                                let s = 1 / (variance + epsilon).squareRoot()
                                inv[r] = s
                                for i in 0..<d {
                                    let h = (src[i] - mean) * s
                                    xh[r * d + i] = h
                                    y[r * d + i] = h * gamma[i] + beta[i]
                                }
                            }
                        }
                    }
                }
            }
        }
        return .result(shape: shape, data: out, inputs: [self, weight, bias]) { [self] g in
            g.withUnsafeBufferPointer { dy in
                // dγ and dβ sum over the rows, each thread for its own columns.
                weight.withGradBuffer { dGamma in
                    bias.withGradBuffer { dBeta in
                        normalized.withUnsafeBufferPointer { xh in
                            Parallel.forRange(d, costPerItem: rows) { columns in
                                for r in 0..<rows {
                                    let g = dy.baseAddress! + r * d, h = xh.baseAddress! + r * d
                                    for i in columns {
                                        dGamma[i] += g[i] * h[i]
                                        dBeta[i] += g[i]
                                    }
                                }
                            }
                        }
                    }
                }
                withGradBuffer { dx in
                    gamma.withUnsafeBufferPointer { gamma in
                        normalized.withUnsafeBufferPointer { xh in
                            Parallel.forRange(rows, costPerItem: d) { range in
                                for r in range {
                                    let g = dy.baseAddress! + r * d, h = xh.baseAddress! + r * d, out = dx.baseAddress! + r * d
                                    let moments = Kernels.scaledMoments(g, scale: gamma.baseAddress!, h, count: d)
                                    let meanG = moments.sum / Float(d), meanGX = moments.product / Float(d), s = invStd[r]
                                    for i in 0..<d { out[i] += s * (g[i] * gamma[i] - meanG - h[i] * meanGX) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Softmax over the last dimension.
    public func softmax() -> Tensor {
        let d = shape[rank - 1]
        let rows = count / d
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                Parallel.forRange(rows, costPerItem: d) { range in
                    for r in range {
                        let src = x.baseAddress! + r * d, dst = y.baseAddress! + r * d
                        var peak = -Float.infinity
                        for i in 0..<d { peak = max(peak, src[i]) }
                        var total: Float = 0
                        for i in 0..<d { let e = expf(src[i] - peak); dst[i] = e; total += e }
                        let inv = 1 / total
                        for i in 0..<d { dst[i] *= inv }
                    }
                }
            }
        }
        return .result(shape: shape, data: out, inputs: [self]) { [self] g in
            withGradBuffer { dx in
                g.withUnsafeBufferPointer { dy in
                    out.withUnsafeBufferPointer { y in
                        Parallel.forRange(rows, costPerItem: d) { range in
                            for r in range {
                                var dot: Float = 0
                                for i in 0..<d { dot += dy[r * d + i] * y[r * d + i] }
                                for i in 0..<d { dx[r * d + i] += y[r * d + i] * (dy[r * d + i] - dot) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Max pooling over (N, C, H, W) with a square window, zero-free padding (padded positions never win).
    public func maxPool2d(kernel: Int, stride: Int, padding: Int) -> Tensor {
        precondition(rank == 4, "maxPool2d needs (N,C,H,W), got \(shape)")
        precondition(padding <= kernel / 2, "maxPool2d: padding \(padding) exceeds half the kernel \(kernel), as PyTorch forbids")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
        var out = [Float](repeating: 0, count: planes * oh * ow)
        var winners = [Int32](repeating: 0, count: planes * oh * ow)
        data.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                winners.withUnsafeMutableBufferPointer { idx in
                    Parallel.forRange(planes, costPerItem: oh * ow * kernel * kernel) { range in
                        if kernel == 3 && stride == 2 && padding == 1 {
                            for p in range {
                                Self.maxPool3x3Stride2(x.baseAddress! + p * h * w, height: h, width: w,
                                                       into: y.baseAddress! + p * oh * ow, winners: idx.baseAddress! + p * oh * ow)
                            }
                            return
                        }
                        for p in range {
                            let src = x.baseAddress! + p * h * w
                            for oy in 0..<oh {
                                let y0 = oy * stride - padding
                                let rows = max(0, -y0)..<max(0, -y0, min(kernel, h - y0))
                                for ox in 0..<ow {
                                    let x0 = ox * stride - padding
                                    let columns = max(0, -x0)..<max(0, -x0, min(kernel, w - x0))
                                    // The first tap in the map starts; later ones win when larger (or NaN).
                                    var bestIndex = (y0 + rows.lowerBound) * w + x0 + columns.lowerBound
                                    var best = src[bestIndex]
                                    for ky in rows {
                                        let line = (y0 + ky) * w + x0
                                        for kx in columns {
                                            let v = src[line + kx]
                                            if v > best || v.isNaN { best = v; bestIndex = line + kx }
                                        }
                                    }
                                    y[(p * oh + oy) * ow + ox] = best
                                    idx[(p * oh + oy) * ow + ox] = Int32(bestIndex)
                                }
                            }
                        }
                    }
                }
            }
        }
        return .result(shape: [shape[0], shape[1], oh, ow], data: out, inputs: [self]) { [self] g in
            withGradBuffer { dx in
                Parallel.forRange(planes, costPerItem: oh * ow) { range in
                    for p in range {
                        for i in 0..<(oh * ow) {
                            dx[p * h * w + Int(winners[p * oh * ow + i])] += g[p * oh * ow + i]
                        }
                    }
                }
            }
        }
    }

    /// 0, 2, …, 30: the input columns of sixteen neighbouring outputs of a stride-2 pool.
    private static let evenLanes = SIMD16<Int32>(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)

    /// Max pooling of one plane with a 3×3 window, stride 2 and padding 1 (the stem's): the maxima of
    /// three columns in every row first, then of three such rows, sixteen outputs at a time (the last
    /// sixteen of a row overlapping the ones before where the row is no multiple of sixteen). The
    /// winner is the first maximum in row-major window order (or the last NaN), as in the general path.
    static func maxPool3x3Stride2(_ src: UnsafePointer<Float>, height h: Int, width w: Int,
                                  into out: UnsafeMutablePointer<Float>, winners: UnsafeMutablePointer<Int32>) {
        let oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1
        withUnsafeTemporaryAllocation(of: Float.self, capacity: h * ow) { rowMax in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: h * ow) { rowWinner in
                let rowMax = rowMax.baseAddress!, rowWinner = rowWinner.baseAddress!
                // Columns 2·ox − 1, 2·ox, 2·ox + 1 of every row; ox = 0 has no left column.
                for r in 0..<h {
                    let line = src + r * w, maxima = rowMax + r * ow, index = rowWinner + r * ow
                    @inline(__always) func scalar(_ ox: Int) {
                        var best = -Float.infinity, winner = -1
                        for column in max(0, 2 * ox - 1)...min(w - 1, 2 * ox + 1) {
                            let v = line[column]
                            if winner < 0 || v > best || v.isNaN { best = v; winner = column }
                        }
                        maxima[ox] = best
                        index[ox] = Int32(r * w + winner)
                    }
                    scalar(0)
                    // Sixteen outputs from two loads: columns 2·ox − 1 + 2j from one, 2·ox + 2j and 2·ox + 1 + 2j
                    // from the next, which ends at column 2·ox + 31.
                    @inline(__always) func sixteen(_ ox: Int) {
                        let a = UnsafeRawPointer(line + 2 * ox - 1).loadUnaligned(as: SIMD32<Float>.self).evenHalf
                        let pair = UnsafeRawPointer(line + 2 * ox).loadUnaligned(as: SIMD32<Float>.self)
                        let b = pair.evenHalf, c = pair.oddHalf
                        // code: which of the three columns won, 0, 1 or 2.
                        var best = a, code = SIMD16<Int32>()
                        let takeB = (b .> best) .| (b .!= b)
                        best.replace(with: b, where: takeB)
                        code.replace(with: 1, where: takeB)
                        let takeC = (c .> best) .| (c .!= c)
                        best.replace(with: c, where: takeC)
                        code.replace(with: 2, where: takeC)
                        UnsafeMutableRawPointer(maxima + ox).storeBytes(of: best, as: SIMD16<Float>.self)
                        let columns = SIMD16<Int32>(repeating: Int32(r * w + 2 * ox - 1)) &+ Self.evenLanes
                        UnsafeMutableRawPointer(index + ox).storeBytes(of: columns &+ code, as: SIMD16<Int32>.self)
                    }
                    var ox = 1
                    while ox + 16 <= ow && 2 * ox + 32 <= w {
                        sixteen(ox)
                        ox += 16
                    }
                    // An output computed twice comes out the same, so the last sixteen may overlap the ones before
                    // (a 56-wide map's 28 outputs: 1–16, then 12–27).
                    if ox < ow && ow >= 17 && 2 * (ow - 16) + 32 <= w {
                        sixteen(ow - 16)
                        ox = ow
                    }
                    while ox < ow { scalar(ox); ox += 1 }
                }
                // Rows 2·oy − 1, 2·oy, 2·oy + 1.
                for oy in 0..<oh {
                    let first = max(0, 2 * oy - 1), last = min(h - 1, 2 * oy + 1)
                    let target = out + oy * ow, chosen = winners + oy * ow
                    target.update(from: rowMax + first * ow, count: ow)
                    chosen.update(from: rowWinner + first * ow, count: ow)
                    guard first < last else { continue }
                    for r in (first + 1)...last {
                        let maxima = rowMax + r * ow, index = rowWinner + r * ow
                        // Merging an output twice leaves it as it was, so the last sixteen may overlap.
                        @inline(__always) func merge(_ ox: Int) {
                            var best = UnsafeRawPointer(target + ox).loadUnaligned(as: SIMD16<Float>.self)
                            let candidate = UnsafeRawPointer(maxima + ox).loadUnaligned(as: SIMD16<Float>.self)
                            let take = (candidate .> best) .| (candidate .!= candidate)
                            best.replace(with: candidate, where: take)
                            // A float comparison's mask selects Int32 lanes as well (the same mask type).
                            var winner = UnsafeRawPointer(chosen + ox).loadUnaligned(as: SIMD16<Int32>.self)
                            winner.replace(with: UnsafeRawPointer(index + ox).loadUnaligned(as: SIMD16<Int32>.self), where: take)
                            UnsafeMutableRawPointer(target + ox).storeBytes(of: best, as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(chosen + ox).storeBytes(of: winner, as: SIMD16<Int32>.self)
                        }
                        var ox = 0
                        while ox + 16 <= ow {
                            merge(ox)
                            ox += 16
                        }
                        if ox < ow && ow >= 16 {
                            merge(ow - 16)
                            ox = ow
                        }
                        for ox in ox..<ow where maxima[ox] > target[ox] || maxima[ox].isNaN {
                            target[ox] = maxima[ox]
                            chosen[ox] = index[ox]
                        }
                    }
                }
            }
        }
    }
}
