/// Strides of a contiguous row-major tensor of `shape`.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[d] = running
        running *= shape[d]
    }
    return strides
}

extension Tensor {
    /// The same values viewed with another shape; one extent may be -1 and is inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[unknown] = count / known
        }
        precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return .result(shape: resolved, data: data, inputs: [self]) { [self] g in accumulateGrad(g) }
    }

    /// Reorders the dimensions: result dimension i is input dimension `order[i]` (PyTorch's `permute`).
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) does not fit rank \(rank)")
        let outShape = order.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let gatherStrides = order.map { inStrides[$0] }
        let out = Tensor.permute(data, shape: outShape, sourceStrides: gatherStrides)
        return .result(shape: outShape, data: out, inputs: [self]) { [self] g in
            var inverse = [Int](repeating: 0, count: order.count)
            for (i, d) in order.enumerated() { inverse[d] = i }
            let outStrides = contiguousStrides(outShape)
            accumulateGrad(Tensor.permute(g, shape: shape, sourceStrides: inverse.map { outStrides[$0] }))
        }
    }

    /// Gathers `source` into a contiguous array of `shape`, reading element (i0,i1,…) at Σ ik·sourceStrides[k].
    static func permute(_ source: [Float], shape: [Int], sourceStrides: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: source.count)
        guard !source.isEmpty else { return out }
        let rank = shape.count
        let inner = shape[rank - 1], innerStride = sourceStrides[rank - 1]
        let rows = source.count / inner
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                Parallel.forRange(rows, costPerItem: inner) { range in
                    for row in range {
                        var remaining = row, offset = 0
                        for d in stride(from: rank - 2, through: 0, by: -1) {
                            offset += (remaining % shape[d]) * sourceStrides[d]
                            remaining /= shape[d]
                        }
                        let base = row * inner
                        for i in 0..<inner { o[base + i] = s[offset + i * innerStride] }
                    }
                }
            }
        }
        return out
    }

    /// The part `start..<end` along dimension `dim`.
    public func sliced(dim: Int, _ range: Range<Int>) -> Tensor {
        precondition(dim < rank && range.lowerBound >= 0 && range.upperBound <= shape[dim],
                     "slice \(range) out of bounds for dimension \(dim) of \(shape)")
        let outer = shape[..<dim].reduce(1, *)
        let inner = shape[(dim + 1)...].reduce(1, *)
        let length = range.count
        var outShape = shape
        outShape[dim] = length
        var out = [Float](repeating: 0, count: outer * length * inner)
        let from = range.lowerBound, extent = shape[dim]
        data.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for b in 0..<outer {
                    let src = s.baseAddress! + (b * extent + from) * inner
                    (o.baseAddress! + b * length * inner).update(from: src, count: length * inner)
                }
            }
        }
        return .result(shape: outShape, data: out, inputs: [self]) { [self] g in
            withGradBuffer { tg in
                g.withUnsafeBufferPointer { gp in
                    for b in 0..<outer {
                        let dst = tg.baseAddress! + (b * extent + from) * inner
                        let src = gp.baseAddress! + b * length * inner
                        for i in 0..<(length * inner) { dst[i] += src[i] }
                    }
                }
            }
        }
    }

    /// Joins tensors along dimension `dim`; all other extents must agree.
    public static func concatenate(_ parts: [Tensor], dim: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenate needs at least one tensor")
        let first = parts[0].shape
        for part in parts {
            precondition(part.rank == first.count && (0..<first.count).allSatisfy { $0 == dim || part.shape[$0] == first[$0] },
                         "cannot concatenate \(part.shape) with \(first) along dimension \(dim)")
        }
        let outer = first[..<dim].reduce(1, *)
        let inner = first[(dim + 1)...].reduce(1, *)
        let extents = parts.map { $0.shape[dim] }
        let total = extents.reduce(0, +)
        var outShape = first
        outShape[dim] = total
        var out = [Float](repeating: 0, count: outer * total * inner)
        var offset = 0
        for (part, extent) in zip(parts, extents) {
            part.data.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    for b in 0..<outer {
                        (o.baseAddress! + (b * total + offset) * inner)
                            .update(from: s.baseAddress! + b * extent * inner, count: extent * inner)
                    }
                }
            }
            offset += extent
        }
        return .result(shape: outShape, data: out, inputs: parts) { g in
            var offset = 0
            for (part, extent) in zip(parts, extents) {
                let start = offset
                part.withGradBuffer { tg in
                    g.withUnsafeBufferPointer { gp in
                        for b in 0..<outer {
                            let src = gp.baseAddress! + (b * total + start) * inner
                            let dst = tg.baseAddress! + b * extent * inner
                            for i in 0..<(extent * inner) { dst[i] += src[i] }
                        }
                    }
                }
                offset += extent
            }
        }
    }

    /// Sums over dimension `dim`, removing it unless `keepingDimension`.
    public func sum(dim: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(dim: dim, scale: 1, keepingDimension: keepingDimension)
    }

    /// Averages over dimension `dim`, removing it unless `keepingDimension`.
    public func mean(dim: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(dim: dim, scale: 1 / Float(shape[dim]), keepingDimension: keepingDimension)
    }

    /// The sum of all values, as a scalar.
    public func sum() -> Tensor {
        reshaped([count]).reduce(dim: 0, scale: 1, keepingDimension: false)
    }

    /// The mean of all values, as a scalar.
    public func mean() -> Tensor {
        reshaped([count]).reduce(dim: 0, scale: 1 / Float(count), keepingDimension: false)
    }

    private func reduce(dim: Int, scale: Float, keepingDimension: Bool) -> Tensor {
        precondition(dim < rank, "dimension \(dim) out of range for \(shape)")
        let outer = shape[..<dim].reduce(1, *)
        let extent = shape[dim]
        let inner = shape[(dim + 1)...].reduce(1, *)
        var outShape = shape
        if keepingDimension { outShape[dim] = 1 } else { outShape.remove(at: dim) }
        var out = [Float](repeating: 0, count: outer * inner)
        data.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                Parallel.forRange(outer, costPerItem: extent * inner) { range in
                    for b in range {
                        let dst = o.baseAddress! + b * inner
                        for e in 0..<extent {
                            let src = s.baseAddress! + (b * extent + e) * inner
                            for i in 0..<inner { dst[i] += src[i] }
                        }
                        for i in 0..<inner { dst[i] *= scale }
                    }
                }
            }
        }
        return .result(shape: outShape, data: out, inputs: [self]) { [self] g in
            withGradBuffer { tg in
                g.withUnsafeBufferPointer { gp in
                    Parallel.forRange(outer, costPerItem: extent * inner) { range in
                        for b in range {
                            let src = gp.baseAddress! + b * inner
                            for e in 0..<extent {
                                let dst = tg.baseAddress! + (b * extent + e) * inner
                                for i in 0..<inner { dst[i] += src[i] * scale }
                            }
                        }
                    }
                }
            }
        }
    }
}
