import FerdTensor

/// A bias-free 2-D convolution with kaiming-normal (fan_out, ReLU gain) initialisation, as every
/// Conv2d of the reference model.
struct Conv2d {
    let weight: Tensor
    let stride: Int
    let padding: Int
    let groups: Int
    let algorithm: ConvolutionAlgorithm

    init(_ builder: ParameterBuilder, _ name: String, in inChannels: Int, out outChannels: Int, kernel: Int,
         stride: Int = 1, padding: Int = 0, groups: Int = 1, algorithm: ConvolutionAlgorithm = .automatic) {
        // PyTorch's kaiming_normal_(mode="fan_out") ignores groups: fan_out = C_out·k·k.
        let std = (2 / Float(outChannels * kernel * kernel)).squareRoot()
        weight = builder.normal("\(name).weight", [outChannels, inChannels / groups, kernel, kernel], std: std)
        self.stride = stride
        self.padding = padding
        self.groups = groups
        self.algorithm = algorithm
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, stride: stride, padding: padding, groups: groups, algorithm: algorithm)
    }
}

/// BatchNorm2d (eps 1e-5, momentum 0.1, γ=1, β=0).
struct BatchNorm2d {
    let weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor
    let store: ParameterStore
    let counterName: String

    init(_ builder: ParameterBuilder, _ name: String, channels: Int) {
        weight = builder.constant("\(name).weight", [channels], value: 1)
        bias = builder.constant("\(name).bias", [channels], value: 0)
        runningMean = builder.buffer("\(name).running_mean", [channels], value: 0)
        runningVariance = builder.buffer("\(name).running_var", [channels], value: 1)
        builder.counter("\(name).num_batches_tracked")
        store = builder.store
        counterName = builder.prefix + name + ".num_batches_tracked"
    }

    /// Normalises `x`; with `relu`, ReLU(BatchNorm2d(x)) fused into the same passes. A training pass counts
    /// one batch, except the second run of a recomputed block (``Autograd/isRecomputing``).
    func callAsFunction(_ x: Tensor, training: Bool, relu: Bool = false) -> Tensor {
        if training && !Autograd.isRecomputing { store.counters[counterName, default: 0] += 1 }
        return x.batchNorm2d(weight: weight, bias: bias, runningMean: runningMean, runningVariance: runningVariance,
                             training: training, relu: relu)
    }
}

/// `nn.Linear` with PyTorch's default initialisation U(±1/√fan_in) for weight and bias.
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    init(_ builder: ParameterBuilder, _ name: String, in inFeatures: Int, out outFeatures: Int, bias hasBias: Bool = true) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = builder.uniform("\(name).weight", [outFeatures, inFeatures], bound: bound)
        bias = hasBias ? builder.uniform("\(name).bias", [outFeatures], bound: bound) : nil
    }

    /// A linear layer with timm's ViT initialisation: weight N(0, std²), bias 0.
    init(_ builder: ParameterBuilder, _ name: String, in inFeatures: Int, out outFeatures: Int, std: Float) {
        weight = builder.normal("\(name).weight", [outFeatures, inFeatures], std: std)
        bias = builder.constant("\(name).bias", [outFeatures], value: 0)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.linear(weight: weight, bias: bias)
    }
}

/// `nn.LayerNorm` (eps 1e-5 unless given, weight 1, bias 0).
struct LayerNorm {
    let weight: Tensor, bias: Tensor
    let epsilon: Float

    init(_ builder: ParameterBuilder, _ name: String, dimension: Int, epsilon: Float = 1e-5) {
        weight = builder.constant("\(name).weight", [dimension], value: 1)
        bias = builder.constant("\(name).bias", [dimension], value: 0)
        self.epsilon = epsilon
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// The vit-pytorch style pre-norm transformer of the reference code: per layer
/// x ← x + MHSA(LN(x)); x ← x + FFN(LN(x)), no final LN, tanh-GELU, qkv without bias.
struct Transformer {
    struct Layer {
        let attentionNorm: LayerNorm, qkv: Linear, output: Linear
        let feedForwardNorm: LayerNorm, hidden: Linear, projection: Linear
    }

    let layers: [Layer]
    let heads: Int
    let headDimension: Int

    init(_ builder: ParameterBuilder, dimension: Int, shape: TransformerShape) {
        heads = shape.heads
        headDimension = shape.headDimension
        let inner = shape.heads * shape.headDimension
        layers = (0..<shape.depth).map { index in
            let layer = builder.scope("layers.\(index)")
            let attention = layer.scope("0.fn")
            let feedForward = layer.scope("1.fn")
            return Layer(
                attentionNorm: LayerNorm(attention, "norm", dimension: dimension),
                qkv: Linear(attention, "fn.to_qkv", in: dimension, out: 3 * inner, bias: false),
                output: Linear(attention, "fn.to_out.0", in: inner, out: dimension),
                feedForwardNorm: LayerNorm(feedForward, "norm", dimension: dimension),
                hidden: Linear(feedForward, "fn.net.0", in: dimension, out: shape.hiddenDimension),
                projection: Linear(feedForward, "fn.net.3", in: shape.hiddenDimension, out: dimension))
        }
    }

    /// x: (B, n, dim) → (B, n, dim).
    func callAsFunction(_ x: Tensor) -> Tensor {
        var x = x
        for layer in layers {
            x = x + attention(layer.attentionNorm(x), layer)
            x = x + layer.projection(layer.hidden(layer.feedForwardNorm(x)).gelu())
        }
        return x
    }

    private func attention(_ x: Tensor, _ layer: Layer) -> Tensor {
        multiHeadAttention(x, qkv: layer.qkv, output: layer.output, heads: heads, headDimension: headDimension)
    }
}

/// Multi-head self-attention of tokens x (B, n, dim): q, k, v from one `qkv` projection with feature
/// index head·d + j, softmax(q·kᵀ/√d)·v per head, heads joined and projected by `output`.
func multiHeadAttention(_ x: Tensor, qkv: Linear, output: Linear, heads: Int, headDimension: Int) -> Tensor {
    let batch = x.shape[0], tokens = x.shape[1], inner = heads * headDimension
    // (B, n, 3·h·d) → (3, B, h, n, d).
    let qkv = qkv(x).reshaped([batch, tokens, 3, heads, headDimension]).permuted([2, 0, 3, 1, 4])
    let q = qkv.sliced(dim: 0, 0..<1).reshaped([batch * heads, tokens, headDimension])
    let k = qkv.sliced(dim: 0, 1..<2).reshaped([batch * heads, tokens, headDimension])
    let v = qkv.sliced(dim: 0, 2..<3).reshaped([batch * heads, tokens, headDimension])
    let scores = (q.matmul(k, transposingOther: true) * (1 / Float(headDimension).squareRoot())).softmax()
    let mixed = scores.matmul(v).reshaped([batch, heads, tokens, headDimension]).permuted([0, 2, 1, 3])
    return output(mixed.reshaped([batch, tokens, inner]))
}
