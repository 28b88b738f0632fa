import FerdTensor

/// One axis of a bilinear resize: for each output index the two source indices and the weight of the second.
struct BilinearAxis: Equatable {
    let lower: [Int], upper: [Int], weights: [Float]

    /// `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` without antialiasing from
    /// `length` source pixels starting at `start` to `size` outputs: source = max((i + ½)·length/size − ½, 0).
    init(start: Int, length: Int, size: Int) {
        let scale = Float(length) / Float(size)
        var lower: [Int] = [], upper: [Int] = [], weights: [Float] = []
        for i in 0..<size {
            let source = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let index = Int(source)
            lower.append(start + index)
            upper.append(start + index + (index < length - 1 ? 1 : 0))
            weights.append(source - Float(index))
        }
        self.lower = lower
        self.upper = upper
        self.weights = weights
    }
}

/// RAN's regions of a frame: the crops of a ``RANCropScheme`` resized to the frame's size, then the
/// whole frame. No gradient flows into the frames.
struct RegionCrops {
    /// The fixed scheme's crops as fractions [x0, y0, x1, y1] of the frame.
    static let fixedBoxes: [[Double]] = [
        [0.125, 0.25, 0.875, 1], [0, 0, 0.75, 0.75], [0.25, 0, 1, 0.75], [0.05, 0.05, 0.95, 0.95],
        [0.1, 0.1, 0.9, 0.9], [0.125, 0.125, 0.875, 0.875], [0.125, 0, 0.875, 0.75],
    ]

    /// Each crop's columns and rows: the pixel box [⌊x0·S⌋, ⌈x1·S⌉) × [⌊y0·S⌋, ⌈y1·S⌉).
    let axes: [(columns: BilinearAxis, rows: BilinearAxis)]
    let size: Int

    init(scheme: RANCropScheme, size: Int) {
        self.size = size
        axes = Self.fixedBoxes.map { box in
            func span(_ from: Double, _ to: Double) -> (Int, Int) {
                let start = Int((from * Double(size)).rounded(.down)), end = Int((to * Double(size)).rounded(.up))
                return (start, end - start)
            }
            let (x, width) = span(box[0], box[2]), (y, height) = span(box[1], box[3])
            return (BilinearAxis(start: x, length: width, size: size), BilinearAxis(start: y, length: height, size: size))
        }
    }

    /// The number of regions: the crops and the whole frame.
    var count: Int { axes.count + 1 }

    /// Region `index` of every frame of (N, C, S, S); the last region is the frames themselves.
    func region(_ index: Int, of frames: Tensor) -> Tensor {
        guard index < axes.count else { return frames.detached() }
        let (columns, rows) = axes[index]
        let planes = frames.shape[0] * frames.shape[1], side = size, area = side * side
        var out = [Float](repeating: 0, count: planes * area)
        frames.data.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                Parallel.forRange(planes, costPerItem: area * 4) { range in
                    for plane in range {
                        let input = source.baseAddress! + plane * area, output = target.baseAddress! + plane * area
                        for oy in 0..<side {
                            let top = input + rows.lower[oy] * side, bottom = input + rows.upper[oy] * side
                            let wy = rows.weights[oy]
                            for ox in 0..<side {
                                let x0 = columns.lower[ox], x1 = columns.upper[ox], wx = columns.weights[ox]
                                let upper = (1 - wx) * top[x0] + wx * top[x1]
                                let lower = (1 - wx) * bottom[x0] + wx * bottom[x1]
                                output[oy * side + ox] = (1 - wy) * upper + wy * lower
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: frames.shape, data: out)
    }
}
