/// One batch of clips ready for the model: frames as float32 RGB in [0, 1], laid out (B, T, 3, H, W)
/// row-major, with their labels (0…6) and clip ids.
public struct ClipBatch: Sendable {
    /// (B, T, 3, H, W).
    public var shape: [Int]
    public var values: [Float]
    public var labels: [Int]
    public var clipIDs: [String]

    public init(shape: [Int], values: [Float], labels: [Int], clipIDs: [String]) {
        precondition(shape.count == 5 && shape.reduce(1, *) == values.count && shape[0] == labels.count
                     && labels.count == clipIDs.count, "inconsistent clip batch \(shape)")
        self.shape = shape
        self.values = values
        self.labels = labels
        self.clipIDs = clipIDs
    }
}
