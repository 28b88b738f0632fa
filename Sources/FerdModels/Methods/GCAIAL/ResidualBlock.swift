import FerdTensor

/// The channel attention of one residual block, as configured.
struct AttentionSettings {
    let kind: AttentionKind
    /// The side of the block's output map, which the global convolution's kernel covers.
    let mapSize: Int
    let reduction: Int
    let frames: Int
    let classes: Int
    /// False for layer1, whose attention parameters exist in the reference state_dict but are unused.
    let active: Bool
}

/// A ResNet ``BasicBlock`` whose u = BN2(conv2(ReLU(BN1(conv1(x))))) is optionally rescaled by channel
/// attention before y = ReLU(u + shortcut(x)). With attention settings it carries every key of the
/// reference `BasicBlock` (bias1, bias2, AUX_fc, glb, gc, fc1, fc2); without, those of `BasicBlock_act`.
struct ResidualBlock {
    let block: BasicBlock
    let attention: AttentionSettings?
    let auxiliary: (Linear, Linear)?
    let globalConvolution: Conv2d?
    let squeeze: Conv2d?, excite: Conv2d?

    /// `algorithm` is the forward kernel of the two 3×3 convolutions.
    init(_ builder: ParameterBuilder, in inChannels: Int, out channels: Int, stride: Int, attention: AttentionSettings?,
         algorithm: ConvolutionAlgorithm = .automatic) {
        if attention != nil {
            _ = builder.normal("bias1", [1, channels, 1, 1], std: 1)
            _ = builder.normal("bias2", [1, channels, 1, 1], std: 1)
        }
        block = BasicBlock(builder, in: inChannels, out: channels, stride: stride, algorithm: algorithm)
        self.attention = attention
        guard let attention else {
            auxiliary = nil; globalConvolution = nil; squeeze = nil; excite = nil
            return
        }
        let hidden = channels / attention.reduction
        let classes = attention.classes
        auxiliary = (Linear(builder, "AUX_fc.0", in: channels, out: 2 * channels, bias: false),
                     Linear(builder, "AUX_fc.1", in: 2 * channels, out: classes, bias: false))
        _ = Conv2d(builder, "glb", in: channels, out: channels, kernel: 1)
        globalConvolution = Conv2d(builder, "gc.0", in: channels, out: channels, kernel: attention.mapSize, groups: channels)
        squeeze = Conv2d(builder, "fc1.0", in: channels, out: max(1, hidden), kernel: 1)
        excite = Conv2d(builder, "fc2.0", in: max(1, hidden), out: channels, kernel: 1)
    }

    /// Returns the block output and, for an active GCA block, the auxiliary logits (B, classes).
    func callAsFunction(_ x: Tensor, training: Bool) -> (output: Tensor, auxiliary: Tensor?) {
        var u = block.residual(x, training: training)
        let shortcut = block.shortcut(x, training: training)
        var auxiliaryLogits: Tensor?
        if let attention, attention.active {
            switch attention.kind {
            case .gca, .gcaFrame, .gcaClip:
                (u, auxiliaryLogits) = globalConvolutionAttention(u, attention)
            case .se:
                u = squeezeExcitation(u)
            case .none:
                break
            }
        }
        return ((u + shortcut).relu(), auxiliaryLogits)
    }

    /// GCA: z = global depthwise conv(u); aux = AUX_fc(mean_t z); s = 2σ(W2 ReLU(W1 z));
    /// a = √(s ⊙ mean_t s + 1e-5); ũ = u ⊙ a (the IAL paper's GCA, as the reference code computes it).
    /// The ablation kinds replace the mix: a = s (gca-frame) or a = mean_t s (gca-clip).
    private func globalConvolutionAttention(_ u: Tensor, _ settings: AttentionSettings) -> (Tensor, Tensor) {
        let frames = u.shape[0], channels = u.shape[1], clips = frames / settings.frames
        let z = globalConvolution!(u)
        let (auxIn, auxOut) = auxiliary!
        let aux = auxOut(auxIn(z.reshaped([clips, settings.frames, channels]).mean(dim: 1)))
        let s = excite!(squeeze!(z).relu()).sigmoid() * 2
        let perFrame = s.reshaped([clips, settings.frames, channels])
        let clipMean = perFrame.mean(dim: 1, keepingDimension: true)
        let mixed: Tensor
        switch settings.kind {
        case .gcaFrame: mixed = perFrame
        case .gcaClip: mixed = clipMean.broadcast(to: perFrame.shape)
        case .gca, .se, .none: mixed = ((perFrame * clipMean) + 1e-5).sqrt()
        }
        let weights = mixed.reshaped([frames, channels, 1, 1])
        return (u * weights, aux)
    }

    /// Squeeze-excitation: s = σ(W2 ReLU(W1 avgpool(u))); ũ = u ⊙ s.
    private func squeezeExcitation(_ u: Tensor) -> Tensor {
        let frames = u.shape[0], channels = u.shape[1], side = u.shape[2]
        let pooled = u.reshaped([frames, channels, side * side]).mean(dim: 2).reshaped([frames, channels, 1, 1])
        return u * excite!(squeeze!(pooled).relu()).sigmoid()
    }
}
