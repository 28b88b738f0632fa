/// RAN's region scheme: which crops of a frame its regions are.
public enum RANCropScheme: String, Sendable, Codable, CaseIterable {
    /// The seven fixed crops of the RAN authors' on-the-fly AffectNet code, then the whole frame.
    case fixed
}

/// The attention of an STT block.
public enum STTAttention: String, Sendable, Codable, CaseIterable {
    /// Divided attention: spatial attention within each frame, then temporal attention per location.
    case spaceTime = "space-time"
    /// One attention over the class token and all frames' tokens.
    case joint
}

extension ModelConfiguration {
    /// The checks of the methods built on a torchvision ResNet-18 (SCN, RAN, STT, Former-DFER).
    func validateResNet18Method() throws(ModelError) {
        guard frames >= 1 else { throw ModelError.configuration("frames is \(frames); a clip needs at least 1 frame") }
        guard widths.count == 5, widths.allSatisfy({ $0 > 0 }) else {
            throw ModelError.configuration("widths must list 5 positive channel counts (stem, layer1…layer4), got \(widths)")
        }
        guard imageSize >= 16, mapSizes[5] >= 1 else {
            throw ModelError.configuration("imageSize \(imageSize) is too small; use at least 16 pixels")
        }
        func checkShape(_ shape: TransformerShape, _ field: String, minimumDepth: Int) throws(ModelError) {
            guard shape.depth >= minimumDepth else {
                throw ModelError.configuration("\(field).depth is \(shape.depth); \(method.rawValue) needs at least \(minimumDepth)")
            }
            guard shape.depth == 0 || (shape.heads > 0 && shape.headDimension > 0 && shape.hiddenDimension > 0) else {
                throw ModelError.configuration("\(field) needs positive heads, headDimension and hiddenDimension, got \(shape)")
            }
        }
        switch method {
        case .formerDFER:
            try checkShape(spatialTransformer, "spatialTransformer", minimumDepth: 0)
            try checkShape(temporalTransformer, "temporalTransformer", minimumDepth: 0)
        case .stt:
            try checkShape(temporalTransformer, "temporalTransformer", minimumDepth: 1)
            guard (0..<1).contains(dropPath) else {
                throw ModelError.configuration("dropPath is \(dropPath); it must be in [0, 1)")
            }
        case .gcaIAL, .scn, .ran:
            break
        }
    }
}
