/// Which channel attention the GCA-position blocks (layer2, layer3) use: the paper's Table-2 settings
/// (gca, se, none) and two of ferd's that take GCA apart (docs/METHODS.md). Every kind has the same
/// parameters, so the state dict does not depend on it.
public enum AttentionKind: String, Sendable, Codable, CaseIterable {
    /// Global-convolution attention with the clip-mean mix (the paper's method, default).
    case gca
    /// Squeeze-excitation: global average pooling and a sigmoid gate.
    case se
    /// Plain residual blocks: the baseline, setting (a).
    case none
    /// ferd's: GCA's excitation s of each frame alone, a = s (no clip-mean mix).
    case gcaFrame = "gca-frame"
    /// ferd's: GCA's clip-mean excitation alone, a = mean_t s (the same weights for every frame of a clip).
    case gcaClip = "gca-clip"
}

/// The size of one vit-pytorch style pre-norm transformer.
public struct TransformerShape: Sendable, Codable, Equatable {
    public var depth: Int
    public var heads: Int
    public var headDimension: Int
    public var hiddenDimension: Int

    public init(depth: Int, heads: Int, headDimension: Int, hiddenDimension: Int) {
        self.depth = depth
        self.heads = heads
        self.headDimension = headDimension
        self.hiddenDimension = hiddenDimension
    }
}

/// The method, topology and sizes of a model. ``paper`` is the reference GCA+IAL model; ``small`` keeps
/// the topology with fewer channels and smaller, fewer frames for CPU demos and tests.
public struct ModelConfiguration: Sendable, Codable, Equatable {
    /// The method; the fields below are read as that method's sizes (configurations written before
    /// methods existed decode as GCA+IAL).
    public var method: ModelMethod
    /// Frames per clip (T); the GCA clip mean and the dynamic-static fusion work over these.
    public var frames: Int
    /// Frame side in pixels (square RGB frames in [0, 1]).
    public var imageSize: Int
    /// Output channels of the stem and of layer1, layer2, layer3, layer4 (layer4 also sets the
    /// patch embedding's width).
    public var widths: [Int]
    /// The excitation's reduction ratio r.
    public var reduction: Int
    public var attention: AttentionKind
    /// GCA+IAL: whether layer2 and layer3 have their auxiliary classifiers (the ablation's switch; their
    /// parameters stay in the state either way).
    public var auxiliaryHeads: Bool
    public var spatialTransformer: TransformerShape
    public var temporalTransformer: TransformerShape
    public var classes: Int
    /// RAN: how the regions are cropped from each frame.
    public var ranCrops: RANCropScheme
    /// RAN: whether training keeps only each region's pooled features from the forward pass and runs the
    /// region's backbone pass again in the backward pass (activation checkpointing): the paper model at batch
    /// 32 in about a sixth of the memory, for about 30% more time; the same values.
    public var ranRecompute: Bool
    /// STT: the attention of each block.
    public var sttAttention: STTAttention
    /// STT: the stochastic-depth rate of the last block (rising linearly from 0 at block 0; training only).
    public var dropPath: Float

    public init(method: ModelMethod = .gcaIAL, frames: Int, imageSize: Int, widths: [Int], reduction: Int = 16,
                attention: AttentionKind = .gca, auxiliaryHeads: Bool = true,
                spatialTransformer: TransformerShape, temporalTransformer: TransformerShape, classes: Int = 7,
                ranCrops: RANCropScheme = .fixed, ranRecompute: Bool = false, sttAttention: STTAttention = .spaceTime, dropPath: Float = 0.1) {
        self.method = method
        self.frames = frames
        self.imageSize = imageSize
        self.widths = widths
        self.reduction = reduction
        self.attention = attention
        self.auxiliaryHeads = auxiliaryHeads
        self.spatialTransformer = spatialTransformer
        self.temporalTransformer = temporalTransformer
        self.classes = classes
        self.ranCrops = ranCrops
        self.ranRecompute = ranRecompute
        self.sttAttention = sttAttention
        self.dropPath = dropPath
    }

    private enum CodingKeys: String, CodingKey {
        case method, frames, imageSize, widths, reduction, attention, auxiliaryHeads, spatialTransformer,
             temporalTransformer, classes, ranCrops, ranRecompute, sttAttention, dropPath
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decodeIfPresent(ModelMethod.self, forKey: .method) ?? .gcaIAL
        frames = try c.decode(Int.self, forKey: .frames)
        imageSize = try c.decode(Int.self, forKey: .imageSize)
        widths = try c.decode([Int].self, forKey: .widths)
        reduction = try c.decode(Int.self, forKey: .reduction)
        attention = try c.decode(AttentionKind.self, forKey: .attention)
        auxiliaryHeads = try c.decodeIfPresent(Bool.self, forKey: .auxiliaryHeads) ?? true
        spatialTransformer = try c.decode(TransformerShape.self, forKey: .spatialTransformer)
        temporalTransformer = try c.decode(TransformerShape.self, forKey: .temporalTransformer)
        classes = try c.decode(Int.self, forKey: .classes)
        ranCrops = try c.decodeIfPresent(RANCropScheme.self, forKey: .ranCrops) ?? .fixed
        ranRecompute = try c.decodeIfPresent(Bool.self, forKey: .ranRecompute) ?? false
        sttAttention = try c.decodeIfPresent(STTAttention.self, forKey: .sttAttention) ?? .spaceTime
        dropPath = try c.decodeIfPresent(Float.self, forKey: .dropPath) ?? 0.1
    }

    /// The reference model: 16 frames of 112×112, widths 64/64/128/256/256 (19,083,527 parameters).
    public static let paper = ModelConfiguration(
        frames: 16, imageSize: 112, widths: [64, 64, 128, 256, 256],
        spatialTransformer: TransformerShape(depth: 2, heads: 4, headDimension: 32, hiddenDimension: 256),
        temporalTransformer: TransformerShape(depth: 2, heads: 4, headDimension: 32, hiddenDimension: 512))

    /// The same topology for CPUs: 8 frames of 56×56, widths 16/16/32/64/64.
    public static let small = ModelConfiguration(
        frames: 8, imageSize: 56, widths: [16, 16, 32, 64, 64],
        spatialTransformer: TransformerShape(depth: 2, heads: 2, headDimension: 16, hiddenDimension: 64),
        temporalTransformer: TransformerShape(depth: 2, heads: 2, headDimension: 16, hiddenDimension: 128))

    /// A preset by name (`paper` or `small`) of `method`: `paper` is the method's published model, `small`
    /// the same topology on 8 frames of 56×56 with a quarter of the widths (docs/METHODS.md lists them).
    public static func preset(named name: String, method: ModelMethod = .gcaIAL) -> ModelConfiguration? {
        let paper: Bool
        switch name {
        case "paper": paper = true
        case "small": paper = false
        default: return nil
        }
        let none = TransformerShape(depth: 0, heads: 1, headDimension: 1, hiddenDimension: 1)
        let frames = paper ? 16 : 8, imageSize = paper ? 112 : 56
        let widths = paper ? [64, 64, 128, 256, 512] : [16, 16, 32, 64, 128]
        switch method {
        case .gcaIAL:
            return paper ? .paper : .small
        case .scn, .ran:
            return ModelConfiguration(method: method, frames: frames, imageSize: imageSize, widths: widths,
                                      spatialTransformer: none, temporalTransformer: none)
        case .formerDFER:
            return ModelConfiguration(
                method: method, frames: frames, imageSize: imageSize, widths: widths,
                spatialTransformer: TransformerShape(depth: 1, heads: paper ? 8 : 2, headDimension: 32, hiddenDimension: paper ? 512 : 128),
                temporalTransformer: TransformerShape(depth: 3, heads: paper ? 8 : 2, headDimension: 64, hiddenDimension: paper ? 1024 : 256))
        case .stt:
            return ModelConfiguration(
                method: method, frames: frames, imageSize: imageSize, widths: widths, spatialTransformer: none,
                temporalTransformer: TransformerShape(depth: 4, heads: paper ? 8 : 2, headDimension: 64, hiddenDimension: paper ? 2048 : 512))
        }
    }

    /// Feature-map sides after the stem (before pooling), maxpool, layer1, layer2, layer3 and layer4.
    public var mapSizes: [Int] {
        func down(_ side: Int, kernel: Int = 3, stride: Int = 2, padding: Int = 1) -> Int {
            (side + 2 * padding - kernel) / stride + 1
        }
        let stem = down(imageSize)
        let pooled = down(stem)
        let layer2 = down(pooled)
        let layer3 = down(layer2)
        return [stem, pooled, pooled, layer2, layer3, down(layer3)]
    }

    /// Tokens of the static branch: the final map's positions.
    public var spatialTokens: Int { mapSizes[5] * mapSizes[5] }
    /// Positions of layer3's output map: the spatial tokens of Former-DFER and STT.
    public var layer3Tokens: Int { mapSizes[4] * mapSizes[4] }
    /// Width of a temporal token: layer4 channels × final map positions (4096 for the paper model).
    public var temporalDimension: Int { widths[4] * spatialTokens }

    /// Checks that the sizes fit together for the method; the message names the field and the fix.
    public func validate() throws(ModelError) {
        guard classes >= 2 else { throw ModelError.configuration("classes is \(classes); a classifier needs at least 2") }
        guard method == .gcaIAL else { return try validateResNet18Method() }
        guard frames >= 2 else { throw ModelError.configuration("frames is \(frames); the dynamic branch needs at least 2 frames per clip") }
        guard widths.count == 5, widths.allSatisfy({ $0 > 0 }) else {
            throw ModelError.configuration("widths must list 5 positive channel counts (stem, layer1…layer4), got \(widths)")
        }
        guard widths[0] == widths[1] else {
            throw ModelError.configuration("widths[0] (stem) must equal widths[1] (layer1: an identity shortcut), got \(widths)")
        }
        guard reduction > 0, widths[2] % reduction == 0, widths[3] % reduction == 0 else {
            throw ModelError.configuration("reduction r = \(reduction) must divide the layer2 and layer3 widths \(widths[2]), \(widths[3])")
        }
        guard mapSizes[5] >= 1, imageSize >= 16 else {
            throw ModelError.configuration("imageSize \(imageSize) is too small; use at least 16 pixels")
        }
    }
}

/// Why a model could not be built or loaded.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    case checkpoint(String)
    case input(String)

    public var description: String {
        switch self {
        case .configuration(let text): "model configuration: \(text)"
        case .checkpoint(let text): "checkpoint: \(text)"
        case .input(let text): "model input: \(text)"
        }
    }
}
