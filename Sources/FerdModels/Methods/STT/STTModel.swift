import FerdTensor

/// The spatio-temporal transformer of Ma, Sun and Li (2022) as ferd reconstructs it from the paper's
/// description (no code is published; every assumption is a configuration field, docs/METHODS.md): a
/// torchvision ResNet-18 to layer3 per frame, a 1×1 tokenizer to `widths[4]`, spatial and temporal
/// position tables and a class token, `temporalTransformer.depth` blocks (``STTAttention``), a final
/// LayerNorm on the class token and a linear head. Parameter names are ferd's (timm-like).
public final class STTModel: ExpressionModel {
    public let configuration: ModelConfiguration
    public let store: ParameterStore

    /// The attention of one block: qkv with bias and an output projection.
    struct Attention {
        let qkv: Linear, projection: Linear
        let heads: Int, headDimension: Int

        init(_ builder: ParameterBuilder, dimension: Int, shape: TransformerShape) {
            let inner = shape.heads * shape.headDimension
            qkv = Linear(builder, "qkv", in: dimension, out: 3 * inner, std: 0.02)
            projection = Linear(builder, "proj", in: inner, out: dimension, std: 0.02)
            heads = shape.heads
            headDimension = shape.headDimension
        }

        func callAsFunction(_ x: Tensor) -> Tensor {
            multiHeadAttention(x, qkv: qkv, output: projection, heads: heads, headDimension: headDimension)
        }
    }

    /// One block: spatial attention, temporal attention (space-time only) and the feed-forward network,
    /// each pre-norm with a residual connection and drop-path.
    struct Block {
        let spatialNorm: LayerNorm, spatialAttention: Attention
        let temporal: (norm: LayerNorm, attention: Attention)?
        let feedForwardNorm: LayerNorm, hidden: Linear, projection: Linear
        let dropRate: Float
    }

    private let backbone: ResNet18
    private let tokenizer: (weight: Tensor, bias: Tensor)
    private let classToken: Tensor, spatialPositions: Tensor, temporalPositions: Tensor
    let blocks: [Block]
    private let norm: LayerNorm
    private let head: Linear
    /// The draws of drop-path's masks, in training only.
    private var dropPathRandom: SeededGenerator

    /// LayerNorm's epsilon in every norm of the model (timm's ViT).
    static let normEpsilon: Float = 1e-6

    /// Builds the model drawn from `seed`: kaiming-normal backbone, PyTorch's default 1×1 tokenizer,
    /// N(0, 0.02²) tables and linear weights with zero biases.
    public init(configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
        try configuration.validate()
        self.configuration = configuration
        let store = ParameterStore()
        self.store = store
        let root = ParameterBuilder(store: store, seed: seed)
        let widths = configuration.widths, dimension = widths[4], shape = configuration.temporalTransformer
        let tokens = configuration.layer3Tokens
        backbone = ResNet18(root.scope("backbone"), widths: widths, layers: 3)
        let bound = 1 / Float(widths[3]).squareRoot()
        tokenizer = (root.uniform("tokenizer.weight", [dimension, widths[3], 1, 1], bound: bound),
                     root.uniform("tokenizer.bias", [dimension], bound: bound))
        classToken = root.normal("cls_token", [1, 1, dimension], std: 0.02)
        spatialPositions = root.normal("spatial_pos", [1, tokens, dimension], std: 0.02)
        temporalPositions = root.normal("temporal_pos", [1, configuration.frames + 1, dimension], std: 0.02)
        let epsilon = Self.normEpsilon
        blocks = (0..<shape.depth).map { index in
            let block = root.scope("blocks.\(index)")
            let spatialNorm = LayerNorm(block, "spatial_norm", dimension: dimension, epsilon: epsilon)
            let spatialAttention = Attention(block.scope("spatial_attn"), dimension: dimension, shape: shape)
            let temporal = configuration.sttAttention == .spaceTime
                ? (LayerNorm(block, "temporal_norm", dimension: dimension, epsilon: epsilon),
                   Attention(block.scope("temporal_attn"), dimension: dimension, shape: shape))
                : nil
            let rate = shape.depth > 1 ? configuration.dropPath * Float(index) / Float(shape.depth - 1) : 0
            return Block(spatialNorm: spatialNorm, spatialAttention: spatialAttention, temporal: temporal,
                         feedForwardNorm: LayerNorm(block, "ffn_norm", dimension: dimension, epsilon: epsilon),
                         hidden: Linear(block, "ffn.fc1", in: dimension, out: shape.hiddenDimension, std: 0.02),
                         projection: Linear(block, "ffn.fc2", in: shape.hiddenDimension, out: dimension, std: 0.02),
                         dropRate: rate)
        }
        norm = LayerNorm(root, "norm", dimension: dimension, epsilon: epsilon)
        head = Linear(root, "head", in: dimension, out: configuration.classes, std: 0.02)
        dropPathRandom = SeededGenerator(seed: seed ^ 0x5354_5444_524F_5050)
    }

    /// Runs the model on clips (B, T, 3, S, S) in [0, 1] (not normalised). In training mode drop-path
    /// drops each block's residual branches per clip with the block's rate.
    public func callAsFunction(_ clips: Tensor, training: Bool) throws(ModelError) -> ModelOutput {
        let frames = try configuration.framesOfClips(clips)
        let batch = clips.shape[0], time = configuration.frames, dimension = configuration.widths[4]
        let map = backbone(frames, through: 3, training: training)
            .conv2d(weight: tokenizer.weight, bias: tokenizer.bias)
        let places = map.shape[2] * map.shape[3]
        let patches = map.reshaped([batch, time, dimension, places]).permuted([0, 1, 3, 2])
            + spatialPositions.reshaped([1, 1, places, dimension])
            + temporalPositions.sliced(dim: 1, 1..<(time + 1)).reshaped([1, time, 1, dimension])
        let cls = (classToken + temporalPositions.sliced(dim: 1, 0..<1)).broadcast(to: [batch, 1, dimension])
        var x = Tensor.concatenate([cls, patches.reshaped([batch, time * places, dimension])], dim: 1)
        for block in blocks {
            x = run(block, x, frames: time, places: places, training: training)
        }
        let classOutput = norm(x.sliced(dim: 1, 0..<1).reshaped([batch, dimension]))
        return ModelOutput(logits: head(classOutput))
    }

    private func run(_ block: Block, _ x: Tensor, frames time: Int, places: Int, training: Bool) -> Tensor {
        let batch = x.shape[0], dimension = x.shape[2]
        var x = x
        if let temporal = block.temporal {
            // Spatial attention within each frame; the class token passes unchanged.
            let cls = x.sliced(dim: 1, 0..<1)
            let patches = x.sliced(dim: 1, 1..<(1 + time * places))
            let spatial = block.spatialAttention(block.spatialNorm(patches.reshaped([batch * time, places, dimension])))
            let afterSpatial = patches + dropPath(spatial.reshaped([batch, time * places, dimension]), block.dropRate, training)
            // Temporal attention per location over the frames, a copy of the class token first in each.
            let sequences = afterSpatial.reshaped([batch, time, places, dimension]).permuted([0, 2, 1, 3])
                .reshaped([batch * places, time, dimension])
            let copies = cls.reshaped([batch, 1, 1, dimension]).broadcast(to: [batch, places, 1, dimension])
                .reshaped([batch * places, 1, dimension])
            let attended = temporal.attention(temporal.norm(Tensor.concatenate([copies, sequences], dim: 1)))
            let classUpdate = attended.sliced(dim: 1, 0..<1).reshaped([batch, places, dimension]).mean(dim: 1, keepingDimension: true)
            let patchUpdate = attended.sliced(dim: 1, 1..<(time + 1)).reshaped([batch, places, time, dimension])
                .permuted([0, 2, 1, 3]).reshaped([batch, time * places, dimension])
            x = Tensor.concatenate([cls, afterSpatial], dim: 1)
                + dropPath(Tensor.concatenate([classUpdate, patchUpdate], dim: 1), block.dropRate, training)
        } else {
            x = x + dropPath(block.spatialAttention(block.spatialNorm(x)), block.dropRate, training)
        }
        let feedForward = block.projection(block.hidden(block.feedForwardNorm(x)).geluErf())
        return x + dropPath(feedForward, block.dropRate, training)
    }

    /// Stochastic depth: in training, each clip's branch is zeroed with probability `rate`, else scaled by 1/(1 − rate).
    private func dropPath(_ branch: Tensor, _ rate: Float, _ training: Bool) -> Tensor {
        guard training, rate > 0 else { return branch }
        let clips = branch.shape[0]
        let mask = (0..<clips).map { _ in dropPathRandom.uniform() < rate ? 0 : 1 / (1 - rate) }
        return branch * Tensor(shape: [clips] + [Int](repeating: 1, count: branch.rank - 1), data: mask)
    }
}
