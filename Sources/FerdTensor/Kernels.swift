/// Small vector kernels on contiguous buffers shared by the operations.
enum Kernels {
    /// An array of `count` values that `fill` writes completely, without zero-filling it first.
    @inline(__always)
    static func uninitialized(_ count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// `count` zeros, written by all threads (one thread's memset of a large gradient leaves the others idle).
    static func zeros(_ count: Int) -> [Float] {
        uninitialized(count) { buffer in
            let base = buffer.baseAddress
            Parallel.forRange(count) { range in (base! + range.lowerBound).update(repeating: 0, count: range.count) }
        }
    }

    /// `target[i] += source[i]` for every i.
    static func addInPlace(_ target: UnsafeMutableBufferPointer<Float>, _ source: UnsafeBufferPointer<Float>) {
        precondition(target.count == source.count)
        guard !target.isEmpty else { return }
        let t = target.baseAddress!, s = source.baseAddress!
        Parallel.forRange(target.count) { range in
            for i in range { t[i] += s[i] }
        }
    }

    /// Applies `transform` element-wise from `source` to a new array.
    @inline(__always)
    static func map(_ source: [Float], _ transform: (Float) -> Float) -> [Float] {
        guard !source.isEmpty else { return [] }
        return source.withUnsafeBufferPointer { s in
            uninitialized(s.count) { o in
                let sp = s.baseAddress!, op = o.baseAddress!
                Parallel.forRange(s.count) { range in
                    for i in range { op[i] = transform(sp[i]) }
                }
            }
        }
    }

    /// Combines two equally long arrays element-wise into a new array.
    @inline(__always)
    static func zip(_ a: [Float], _ b: [Float], _ combine: (Float, Float) -> Float) -> [Float] {
        precondition(a.count == b.count)
        guard !a.isEmpty else { return [] }
        return a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                uninitialized(a.count) { o in
                    let x = ap.baseAddress!, y = bp.baseAddress!, op = o.baseAddress!
                    Parallel.forRange(a.count) { range in
                        for i in range { op[i] = combine(x[i], y[i]) }
                    }
                }
            }
        }
    }
}

extension Kernels {
    /// Σ x[i]. These reductions run on SIMD lanes by hand: the plain loops do not vectorise, since
    /// float addition does not reassociate.
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD16<Float>(), i = 0
        while i + 16 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var total = lanes.sum()
        while i < count { total += x[i]; i += 1 }
        return total
    }

    /// Σ (x[i] − center)².
    static func squaredDeviations(_ x: UnsafePointer<Float>, count: Int, center: Float) -> Float {
        var lanes = SIMD16<Float>(), i = 0
        let c = SIMD16<Float>(repeating: center)
        while i + 16 <= count {
            let d = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - c
            lanes += d * d
            i += 16
        }
        var total = lanes.sum()
        while i < count { let d = x[i] - center; total += d * d; i += 1 }
        return total
    }

    /// (Σ g[i], Σ g[i]·(x[i] − center)), with g[i] taken as 0 where `mask` (if any) is not positive:
    /// the gradient of a ReLU applied after the values whose moments these are.
    static func centeredMoments(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mask: UnsafePointer<Float>? = nil,
                                count: Int, center: Float) -> (sum: Float, product: Float) {
        var sums = SIMD16<Float>(), products = SIMD16<Float>(), i = 0
        let c = SIMD16<Float>(repeating: center)
        while i + 16 <= count {
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            if let mask {
                gv.replace(with: 0, where: .!(UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD16<Float>.self) .> 0))
            }
            sums += gv
            products += gv * (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - c)
            i += 16
        }
        var sum = sums.sum(), product = products.sum()
        while i < count {
            let gi = mask == nil || mask![i] > 0 ? g[i] : 0
            sum += gi
            product += gi * (x[i] - center)
            i += 1
        }
        return (sum, product)
    }

    /// (Σ g[i]·scale[i], Σ g[i]·scale[i]·x[i]): layer norm's input gradient terms.
    static func scaledMoments(_ g: UnsafePointer<Float>, scale: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                              count: Int) -> (sum: Float, product: Float) {
        var sums = SIMD16<Float>(), products = SIMD16<Float>(), i = 0
        while i + 16 <= count {
            let gs = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(scale + i).loadUnaligned(as: SIMD16<Float>.self)
            sums += gs
            products += gs * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var sum = sums.sum(), product = products.sum()
        while i < count {
            let gs = g[i] * scale[i]
            sum += gs
            product += gs * x[i]
            i += 1
        }
        return (sum, product)
    }

    /// out[i] = scale·(mask[i] > 0 ? g[i] : 0) + slope·(x[i] − center) + offset: batch norm's input
    /// gradient behind a ReLU.
    static func maskedAffine(_ g: UnsafePointer<Float>, mask: UnsafePointer<Float>, x: UnsafePointer<Float>, count: Int,
                             scale: Float, slope: Float, center: Float, offset: Float, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        let s = SIMD16<Float>(repeating: scale), b = SIMD16<Float>(repeating: slope)
        let c = SIMD16<Float>(repeating: center), k = SIMD16<Float>(repeating: offset)
        while i + 16 <= count {
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self)
            gv.replace(with: 0, where: .!(UnsafeRawPointer(mask + i).loadUnaligned(as: SIMD16<Float>.self) .> 0))
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: s * gv + b * (xv - c) + k, as: SIMD16<Float>.self)
            i += 16
        }
        while i < count {
            out[i] = scale * (mask[i] > 0 ? g[i] : 0) + slope * (x[i] - center) + offset
            i += 1
        }
    }
}
