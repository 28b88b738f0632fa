extension Tensor {
    /// y = x·Wᵀ + b over the last dimension (PyTorch's `nn.Linear`): x (…, in), W (out, in), b (out).
    public func linear(weight: Tensor, bias: Tensor? = nil) -> Tensor {
        let inFeatures = shape[rank - 1]
        precondition(weight.rank == 2 && weight.shape[1] == inFeatures,
                     "linear: input \(shape) does not match weight \(weight.shape)")
        let outFeatures = weight.shape[0]
        if let bias { precondition(bias.count == outFeatures, "linear: bias \(bias.shape) for \(outFeatures) outputs") }
        let rows = count / inFeatures
        var outShape = shape
        outShape[rank - 1] = outFeatures
        var out = [Float](repeating: 0, count: rows * outFeatures)
        out.withUnsafeMutableBufferPointer { o in
            if let bias {
                bias.data.withUnsafeBufferPointer { b in
                    for r in 0..<rows { (o.baseAddress! + r * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                }
            }
            data.withUnsafeBufferPointer { x in
                weight.data.withUnsafeBufferPointer { w in
                    BLAS.gemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                              a: x.baseAddress!, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures,
                              beta: bias == nil ? 0 : 1, c: o.baseAddress!, ldc: outFeatures)
                }
            }
        }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return .result(shape: outShape, data: out, inputs: inputs) { [self] g in
            g.withUnsafeBufferPointer { gp in
                withGradTarget { dx, overwrite in
                    weight.data.withUnsafeBufferPointer { w in
                        BLAS.gemm(m: rows, n: inFeatures, k: outFeatures, a: gp.baseAddress!, lda: outFeatures,
                                  b: w.baseAddress!, ldb: inFeatures, beta: overwrite ? 0 : 1, c: dx.baseAddress!, ldc: inFeatures)
                    }
                }
                weight.withGradTarget { dw, overwrite in
                    data.withUnsafeBufferPointer { x in
                        BLAS.gemm(transposeA: true, m: outFeatures, n: inFeatures, k: rows, a: gp.baseAddress!,
                                  lda: outFeatures, b: x.baseAddress!, ldb: inFeatures, beta: overwrite ? 0 : 1,
                                  c: dw.baseAddress!, ldc: inFeatures)
                    }
                }
                bias?.withGradBuffer { db in
                    for r in 0..<rows {
                        for j in 0..<outFeatures { db[j] += gp[r * outFeatures + j] }
                    }
                }
            }
        }
    }

    /// Batched matrix product over the last two dimensions: (…, M, K)·(…, K, N), or with
    /// `transposingOther` (…, M, K)·(…, N, K)ᵀ. Leading dimensions must be equal.
    public func matmul(_ other: Tensor, transposingOther: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank == rank && shape.dropLast(2) == other.shape.dropLast(2),
                     "matmul: shapes \(shape) and \(other.shape) do not match")
        let m = shape[rank - 2], k = shape[rank - 1]
        let n = transposingOther ? other.shape[rank - 2] : other.shape[rank - 1]
        precondition((transposingOther ? other.shape[rank - 1] : other.shape[rank - 2]) == k,
                     "matmul: inner dimensions of \(shape) and \(other.shape) differ")
        let batch = count / (m * k)
        var out = [Float](repeating: 0, count: batch * m * n)
        let ldb = transposingOther ? k : n
        data.withUnsafeBufferPointer { a in
            other.data.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    for i in 0..<batch {
                        BLAS.gemm(transposeB: transposingOther, m: m, n: n, k: k,
                                  a: a.baseAddress! + i * m * k, lda: k, b: b.baseAddress! + i * k * n, ldb: ldb,
                                  c: c.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        let outShape = Array(shape.dropLast(2)) + [m, n]
        return .result(shape: outShape, data: out, inputs: [self, other]) { [self] g in
            g.withUnsafeBufferPointer { gp in
                withGradTarget { da, overwrite in
                    other.data.withUnsafeBufferPointer { b in
                        for i in 0..<batch {
                            // dA = dC·Bᵀ (B is K×N) or dC·B (B stored N×K).
                            BLAS.gemm(transposeB: !transposingOther, m: m, n: k, k: n,
                                      a: gp.baseAddress! + i * m * n, lda: n, b: b.baseAddress! + i * k * n, ldb: ldb,
                                      beta: overwrite ? 0 : 1, c: da.baseAddress! + i * m * k, ldc: k)
                        }
                    }
                }
                other.withGradTarget { db, overwrite in
                    data.withUnsafeBufferPointer { a in
                        for i in 0..<batch {
                            if transposingOther {
                                // dB (N×K) = dCᵀ·A
                                BLAS.gemm(transposeA: true, m: n, n: k, k: m,
                                          a: gp.baseAddress! + i * m * n, lda: n, b: a.baseAddress! + i * m * k, ldb: k,
                                          beta: overwrite ? 0 : 1, c: db.baseAddress! + i * k * n, ldc: k)
                            } else {
                                // dB (K×N) = Aᵀ·dC
                                BLAS.gemm(transposeA: true, m: k, n: n, k: m,
                                          a: a.baseAddress! + i * m * k, lda: k, b: gp.baseAddress! + i * m * n, ldb: n,
                                          beta: overwrite ? 0 : 1, c: db.baseAddress! + i * k * n, ldc: n)
                            }
                        }
                    }
                }
            }
        }
    }
}
