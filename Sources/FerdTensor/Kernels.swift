/// Small vector kernels on contiguous buffers shared by the operations.
enum Kernels {
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
        var out = [Float](repeating: 0, count: source.count)
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                let sp = s.baseAddress!, op = o.baseAddress!
                Parallel.forRange(s.count) { range in
                    for i in range { op[i] = transform(sp[i]) }
                }
            }
        }
        return out
    }

    /// Combines two equally long arrays element-wise into a new array.
    @inline(__always)
    static func zip(_ a: [Float], _ b: [Float], _ combine: (Float, Float) -> Float) -> [Float] {
        precondition(a.count == b.count)
        guard !a.isEmpty else { return [] }
        var out = [Float](repeating: 0, count: a.count)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { o in
                    let x = ap.baseAddress!, y = bp.baseAddress!, op = o.baseAddress!
                    Parallel.forRange(a.count) { range in
                        for i in range { op[i] = combine(x[i], y[i]) }
                    }
                }
            }
        }
        return out
    }
}
