import Foundation

/// How two shapes broadcast against each other (NumPy/PyTorch rules), with the dimensions that
/// behave alike merged so the loops run over long contiguous rows.
struct Broadcast {
    let outputShape: [Int]
    /// Collapsed extents, outermost first.
    let extents: [Int]
    /// Per collapsed dimension, the element stride of each operand (0 where it is broadcast).
    let stridesA: [Int]
    let stridesB: [Int]

    init(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            precondition(pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1,
                         "shapes \(a) and \(b) do not broadcast (dimension \(d): \(pa[d]) vs \(pb[d]))")
            out[d] = max(pa[d], pb[d])
        }
        outputShape = out
        func strides(_ shape: [Int]) -> [Int] {
            var s = [Int](repeating: 0, count: rank)
            var running = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                s[d] = shape[d] == 1 && out[d] != 1 ? 0 : running
                running *= shape[d]
            }
            return s
        }
        let sa = strides(pa), sb = strides(pb)
        var extents: [Int] = [], ca: [Int] = [], cb: [Int] = []
        for d in 0..<rank where out[d] != 1 {
            if let last = extents.last, ca.last! == sa[d] * out[d], cb.last! == sb[d] * out[d] {
                extents[extents.count - 1] = last * out[d]
                ca[ca.count - 1] = sa[d]
                cb[cb.count - 1] = sb[d]
            } else {
                extents.append(out[d]); ca.append(sa[d]); cb.append(sb[d])
            }
        }
        if extents.isEmpty { extents = [1]; ca = [0]; cb = [0] }
        self.extents = extents
        self.stridesA = ca
        self.stridesB = cb
    }

    var count: Int { extents.reduce(1, *) }

    /// Calls `row(outOffset, aOffset, bOffset, length, aStride, bStride)` for every innermost row.
    func forEachRow(_ row: (Int, Int, Int, Int, Int, Int) -> Void) {
        let inner = extents.count - 1
        let length = extents[inner]
        let outer = count / length
        var index = [Int](repeating: 0, count: max(inner, 1))
        var offA = 0, offB = 0
        for r in 0..<outer {
            row(r * length, offA, offB, length, stridesA[inner], stridesB[inner])
            var d = inner - 1
            while d >= 0 {
                index[d] += 1
                offA += stridesA[d]
                offB += stridesB[d]
                if index[d] < extents[d] { break }
                offA -= stridesA[d] * extents[d]
                offB -= stridesB[d] * extents[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}

extension Tensor {
    @inline(__always)
    private static func binary(_ a: Tensor, _ b: Tensor,
                               _ forward: @escaping (Float, Float) -> Float,
                               gradA: @escaping (_ g: Float, _ a: Float, _ b: Float) -> Float,
                               gradB: @escaping (_ g: Float, _ a: Float, _ b: Float) -> Float) -> Tensor {
        if a.shape == b.shape {
            let out = Kernels.zip(a.data, b.data, forward)
            return .result(shape: a.shape, data: out, inputs: [a, b]) { g in
                if a.requiresGrad {
                    a.accumulateGrad(Kernels.zip3(g, a.data, b.data, gradA))
                }
                if b.requiresGrad {
                    b.accumulateGrad(Kernels.zip3(g, a.data, b.data, gradB))
                }
            }
        }
        let plan = Broadcast(a.shape, b.shape)
        var out = [Float](repeating: 0, count: plan.count)
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    plan.forEachRow { o, ia, ib, n, sa, sb in
                        for i in 0..<n { op[o + i] = forward(ap[ia + i * sa], bp[ib + i * sb]) }
                    }
                }
            }
        }
        return .result(shape: plan.outputShape, data: out, inputs: [a, b]) { g in
            func reduce(into target: Tensor, _ local: @escaping (Float, Float, Float) -> Float) {
                target.withGradBuffer { tg in
                    a.data.withUnsafeBufferPointer { ap in
                        b.data.withUnsafeBufferPointer { bp in
                            g.withUnsafeBufferPointer { gp in
                                let intoA = target === a
                                plan.forEachRow { o, ia, ib, n, sa, sb in
                                    for i in 0..<n {
                                        let v = local(gp[o + i], ap[ia + i * sa], bp[ib + i * sb])
                                        tg[intoA ? ia + i * sa : ib + i * sb] += v
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if a.requiresGrad { reduce(into: a, gradA) }
            if b.requiresGrad && b !== a { reduce(into: b, gradB) }
        }
    }

    /// Element-wise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape { return sameShapeSum(a, b, subtracting: false) }
        return binary(a, b, +, gradA: { g, _, _ in g }, gradB: { g, _, _ in g })
    }

    /// Element-wise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        if a.shape == b.shape { return sameShapeSum(a, b, subtracting: true) }
        return binary(a, b, -, gradA: { g, _, _ in g }, gradB: { g, _, _ in -g })
    }

    /// a + b or a − b of equal shapes (residual connections): the gradient of a is the output
    /// gradient itself, passed on without a copy.
    private static func sameShapeSum(_ a: Tensor, _ b: Tensor, subtracting: Bool) -> Tensor {
        let out = a.data.withUnsafeBufferPointer { x in
            b.data.withUnsafeBufferPointer { y in
                Kernels.uninitialized(a.count) { o in
                    let x = x.baseAddress!, y = y.baseAddress!, o = o.baseAddress!
                    Parallel.forRange(a.count) { range in
                        if subtracting {
                            for i in range { o[i] = x[i] - y[i] }
                        } else {
                            for i in range { o[i] = x[i] + y[i] }
                        }
                    }
                }
            }
        }
        return .result(shape: a.shape, data: out, inputs: [a, b]) { g in
            a.accumulateGrad(g)
            b.accumulateGrad(subtracting ? Kernels.map(g) { -$0 } : g)
        }
    }

    /// Element-wise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        if let inner = scaleRun(of: b, over: a) { return scaledRuns(a, by: b, inner: inner) }
        if let inner = scaleRun(of: a, over: b) { return scaledRuns(b, by: a, inner: inner) }
        return binary(a, b, *, gradA: { g, _, y in g * y }, gradB: { g, x, _ in g * x })
    }

    /// When every value of `scale` multiplies one contiguous run of `full` — `scale`'s shape is `full`'s with
    /// its trailing dimensions set to 1, as for per-channel weights (N, C, 1, 1) on maps (N, C, H, W) — the
    /// length of those runs (> 1).
    private static func scaleRun(of scale: Tensor, over full: Tensor) -> Int? {
        guard scale.shape.count == full.shape.count, scale.count > 0, full.count > scale.count else { return nil }
        var k = scale.shape.count
        while k > 0 && scale.shape[k - 1] == 1 { k -= 1 }
        guard scale.shape[..<k] == full.shape[..<k] else { return nil }
        return full.count / scale.count
    }

    /// `full` times `scale` broadcast over runs of `inner` values: the same products and gradient sums, in
    /// the same order, as the general broadcasting path, but run by run in parallel.
    private static func scaledRuns(_ full: Tensor, by scale: Tensor, inner: Int) -> Tensor {
        let runs = scale.count
        let out = full.data.withUnsafeBufferPointer { x in
            scale.data.withUnsafeBufferPointer { s in
                Kernels.uninitialized(full.count) { o in
                    let x = x.baseAddress!, s = s.baseAddress!, o = o.baseAddress!
                    Parallel.forRange(runs, costPerItem: inner) { range in
                        for run in range {
                            let factor = s[run], base = run * inner
                            for j in base..<(base + inner) { o[j] = x[j] * factor }
                        }
                    }
                }
            }
        }
        return .result(shape: full.shape, data: out, inputs: [full, scale]) { g in
            g.withUnsafeBufferPointer { g in
                let g = g.baseAddress!
                full.withGradBuffer { dx in
                    scale.data.withUnsafeBufferPointer { s in
                        let dx = dx.baseAddress!, s = s.baseAddress!
                        Parallel.forRange(runs, costPerItem: inner) { range in
                            for run in range {
                                let factor = s[run], base = run * inner
                                for j in base..<(base + inner) { dx[j] += g[j] * factor }
                            }
                        }
                    }
                }
                scale.withGradBuffer { ds in
                    full.data.withUnsafeBufferPointer { x in
                        let ds = ds.baseAddress!, x = x.baseAddress!
                        Parallel.forRange(runs, costPerItem: inner) { range in
                            for run in range {
                                let base = run * inner
                                var sum = ds[run]
                                for j in base..<(base + inner) { sum += g[j] * x[j] }
                                ds[run] = sum
                            }
                        }
                    }
                }
            }
        }
    }

    /// Element-wise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binary(a, b, /, gradA: { g, _, y in g / y }, gradB: { g, x, y in -g * x / (y * y) })
    }

    /// Multiplies every value by a constant.
    public static func * (a: Tensor, scale: Float) -> Tensor {
        a.unary({ $0 * scale }, derivative: { _, _ in scale })
    }

    /// Adds a constant to every value.
    public static func + (a: Tensor, offset: Float) -> Tensor {
        a.unary({ $0 + offset }, derivative: { _, _ in 1 })
    }

    /// Applies `forward` element-wise; `derivative(x, y)` gives dy/dx from the input x and output y.
    /// Always inlined so that each caller's closures are specialised into the loops.
    @inline(__always)
    func unary(_ forward: (Float) -> Float,
               derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let out = Kernels.map(data, forward)
        return .result(shape: shape, data: out, inputs: [self]) { [self] g in
            accumulateGrad(Kernels.zip3(g, data, out) { g, x, y in g * derivative(x, y) })
        }
    }

    /// max(x, 0), with its own loops: ReLU runs on the largest maps of the model.
    public func relu() -> Tensor {
        let out = data.withUnsafeBufferPointer { x in
            Kernels.uninitialized(count) { y in
                let x = x.baseAddress!, y = y.baseAddress!
                Parallel.forRange(count) { range in
                    for i in range { y[i] = max(x[i], 0) }
                }
            }
        }
        return .result(shape: shape, data: out, inputs: [self]) { [self] g in
            accumulateGrad(g.withUnsafeBufferPointer { dy in
                out.withUnsafeBufferPointer { y in
                    Kernels.uninitialized(count) { dx in
                        let dy = dy.baseAddress!, y = y.baseAddress!, dx = dx.baseAddress!
                        Parallel.forRange(count) { range in
                            // By hand on SIMD lanes: LLVM leaves this select scalar.
                            var i = range.lowerBound
                            while i + 8 <= range.upperBound {
                                let g = UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self)
                                let v = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(dx + i).storeBytes(of: g.replacing(with: 0, where: .!(v .> 0)),
                                                                           as: SIMD8<Float>.self)
                                i += 8
                            }
                            while i < range.upperBound { dx[i] = y[i] > 0 ? dy[i] : 0; i += 1 }
                        }
                    }
                }
            })
        }
    }

    /// The logistic function 1/(1+e^−x).
    public func sigmoid() -> Tensor {
        unary({ 1 / (1 + expf(-$0)) }, derivative: { _, y in y * (1 - y) })
    }

    /// Square root.
    public func sqrt() -> Tensor {
        unary({ $0.squareRoot() }, derivative: { _, y in 0.5 / y })
    }

    /// GELU with the tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³))), as PyTorch's
    /// `approximate="tanh"` and vit-pytorch's GELU on torch 1.13 define it. Eight values at a time
    /// (``VectorMath/tanh(_:)``), forward and backward; the backward recomputes tanh from the input.
    public func gelu() -> Tensor {
        let out = data.withUnsafeBufferPointer { x in
            Kernels.uninitialized(count) { y in
                let x = x.baseAddress!, y = y.baseAddress!
                Parallel.forRange(count, costPerItem: 8) { range in
                    VectorMath.forEachVector(count: range.count) { offset, lanes in
                        let i = range.lowerBound + offset
                        let v = VectorMath.load(x + i, lanes: lanes)
                        VectorMath.store(0.5 * v * (1 + VectorMath.tanh(Self.geluInner(v))), y + i, lanes: lanes)
                    }
                }
            }
        }
        return .result(shape: shape, data: out, inputs: [self]) { [self] g in
            accumulateGrad(g.withUnsafeBufferPointer { dy in
                data.withUnsafeBufferPointer { x in
                    Kernels.uninitialized(count) { dx in
                        let dy = dy.baseAddress!, x = x.baseAddress!, dx = dx.baseAddress!
                        Parallel.forRange(count, costPerItem: 8) { range in
                            VectorMath.forEachVector(count: range.count) { offset, lanes in
                                let i = range.lowerBound + offset
                                let v = VectorMath.load(x + i, lanes: lanes), t = VectorMath.tanh(Self.geluInner(v))
                                let innerSlope = Self.geluScale * (1 + 3 * Self.geluCubic * v * v)
                                let slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * innerSlope
                                VectorMath.store(VectorMath.load(dy + i, lanes: lanes) * slope, dx + i, lanes: lanes)
                            }
                        }
                    }
                }
            })
        }
    }

    /// √(2/π) and 0.044715: the scale and the cubic coefficient of GELU's tanh argument.
    private static let geluScale: Float = (2 / Float.pi).squareRoot(), geluCubic: Float = 0.044715

    /// √(2/π)(x + 0.044715x³).
    @inline(__always)
    private static func geluInner(_ x: VectorMath.Vector) -> VectorMath.Vector {
        geluScale * (x + geluCubic * x * x * x)
    }
}

extension Tensor {
    /// GELU with the exact error function x·Φ(x) = 0.5x(1+erf(x/√2)), PyTorch's default `nn.GELU()`.
    public func geluErf() -> Tensor {
        let invSqrt2: Float = 1 / Float(2).squareRoot(), invSqrt2Pi: Float = 1 / (2 * Float.pi).squareRoot()
        return unary({ x in
            0.5 * x * (1 + erff(x * invSqrt2))
        }, derivative: { x, _ in
            0.5 * (1 + erff(x * invSqrt2)) + x * invSqrt2Pi * expf(-0.5 * x * x)
        })
    }
}

extension Kernels {
    /// Combines three equally long arrays element-wise into a new array.
    @inline(__always)
    static func zip3(_ a: [Float], _ b: [Float], _ c: [Float],
                     _ combine: (Float, Float, Float) -> Float) -> [Float] {
        precondition(a.count == b.count && b.count == c.count)
        guard !a.isEmpty else { return [] }
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeBufferPointer { cp in
                    uninitialized(a.count) { o in
                        let x = ap.baseAddress!, y = bp.baseAddress!, z = cp.baseAddress!, op = o.baseAddress!
                        Parallel.forRange(a.count) { range in
                            for i in range { op[i] = combine(x[i], y[i], z[i]) }
                        }
                    }
                }
            }
        }
    }
}
