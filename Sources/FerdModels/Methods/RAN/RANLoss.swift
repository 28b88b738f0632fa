import FerdTensor

extension Tensor {
    /// RAN's region-biased loss on the attention weights μ (N, regions) with the whole frame last:
    /// mean over the N frames of max(0, δ − (max over the crops of μ − μ_whole)). The best crop is a
    /// constant of the step (the first on ties).
    public func regionBiasedLoss(margin: Float) -> Tensor {
        precondition(rank == 2 && shape[1] >= 2, "regionBiasedLoss: attention weights must be (N, regions ≥ 2), got \(shape)")
        let frames = shape[0], regions = shape[1]
        var best = [Int](repeating: -1, count: frames)
        var total: Double = 0
        for f in 0..<frames {
            let row = f * regions
            var top = 0
            for r in 1..<(regions - 1) where data[row + r] > data[row + top] { top = r }
            let hinge = Double(margin) - (Double(data[row + top]) - Double(data[row + regions - 1]))
            if hinge > 0 {
                total += hinge
                best[f] = top
            }
        }
        return .result(shape: [], data: [Float(total / Double(frames))], inputs: [self]) { [self] g in
            var dx = [Float](repeating: 0, count: count)
            let scale = g[0] / Float(frames)
            for f in 0..<frames where best[f] >= 0 {
                dx[f * regions + best[f]] -= scale
                dx[f * regions + regions - 1] += scale
            }
            accumulateGrad(dx)
        }
    }
}
