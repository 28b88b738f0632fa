import FerdTensor

/// How a ResNet-18's modules are named in a method's `state_dict`.
public enum ResNetNaming: Sendable {
    /// torchvision's attributes: `conv1`, `bn1`, `layer1` … `layer4`.
    case torchvision
    /// `nn.Sequential(*list(resnet.children())[:-1])`: `0` (conv1), `1` (bn1), `4` … `7` (layer1 … layer4).
    case sequential

    /// The name of the stem convolution, the stem norm and layer `index` (1…4).
    var stemConvolution: String { self == .torchvision ? "conv1" : "0" }
    var stemNorm: String { self == .torchvision ? "bn1" : "1" }
    func layer(_ index: Int) -> String { self == .torchvision ? "layer\(index)" : "\(index + 3)" }

    /// The name under this naming of a torchvision ResNet key (`conv1.weight`, `layer2.0.bn1.bias`, …),
    /// or nil for keys a backbone does not have (`fc.*`).
    public func name(ofTorchvisionKey key: String) -> String? {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        switch parts[0] {
        case "conv1": return stemConvolution + "." + parts[1]
        case "bn1": return stemNorm + "." + parts[1]
        case "layer1", "layer2", "layer3", "layer4": return layer(Int(parts[0].dropFirst(5))!) + "." + parts[1]
        default: return nil
        }
    }
}

/// A torchvision BasicBlock: y = ReLU(u + shortcut(x)) with u = BN2(conv2(ReLU(BN1(conv1(x))))), the
/// shortcut a 1×1 convolution and BN where the stride or the width changes. GCA+IAL's `ResidualBlock` is
/// one with channel attention applied to u.
struct BasicBlock {
    let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    let downsample: (conv: Conv2d, norm: BatchNorm2d)?

    /// `algorithm` is the forward kernel of the two 3×3 convolutions.
    init(_ builder: ParameterBuilder, in inChannels: Int, out channels: Int, stride: Int,
         algorithm: ConvolutionAlgorithm = .automatic) {
        conv1 = Conv2d(builder, "conv1", in: inChannels, out: channels, kernel: 3, stride: stride, padding: 1,
                       algorithm: algorithm)
        bn1 = BatchNorm2d(builder, "bn1", channels: channels)
        conv2 = Conv2d(builder, "conv2", in: channels, out: channels, kernel: 3, padding: 1, algorithm: algorithm)
        bn2 = BatchNorm2d(builder, "bn2", channels: channels)
        if stride != 1 || inChannels != channels {
            downsample = (Conv2d(builder, "downsample.0", in: inChannels, out: channels, kernel: 1, stride: stride),
                          BatchNorm2d(builder, "downsample.1", channels: channels))
        } else {
            downsample = nil
        }
    }

    /// u = BN2(conv2(ReLU(BN1(conv1(x))))), the branch before the shortcut is added.
    func residual(_ x: Tensor, training: Bool) -> Tensor {
        bn2(conv2(bn1(conv1(x), training: training, relu: true)), training: training)
    }

    /// x, or its 1×1 convolution and BN where the block changes the stride or the width.
    func shortcut(_ x: Tensor, training: Bool) -> Tensor {
        downsample.map { $0.norm($0.conv(x), training: training) } ?? x
    }

    func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        (residual(x, training: training) + shortcut(x, training: training)).relu()
    }
}

/// The torchvision ResNet-18 of SCN, RAN, STT and Former-DFER, run per frame on (N, 3, S, S): conv1 7×7
/// stride 2 (no bias), BN, ReLU, max-pool 3 stride 2, then layer1…layer4 of two BasicBlocks each
/// (stride 1, 2, 2, 2), kaiming-normal fan_out initialisation. `layers` stops it after layer3 (STT) or
/// layer4; the widths are [stem, layer1, layer2, layer3, layer4].
struct ResNet18 {
    let stemConvolution: Conv2d, stemNorm: BatchNorm2d
    let layers: [[BasicBlock]]

    init(_ builder: ParameterBuilder, widths: [Int], layers count: Int = 4, naming: ResNetNaming = .torchvision) {
        stemConvolution = Conv2d(builder, naming.stemConvolution, in: 3, out: widths[0], kernel: 7, stride: 2, padding: 3)
        stemNorm = BatchNorm2d(builder, naming.stemNorm, channels: widths[0])
        layers = (1...count).map { index in
            let scope = builder.scope(naming.layer(index))
            let stride = index == 1 ? 1 : 2
            return [BasicBlock(scope.scope("0"), in: widths[index - 1], out: widths[index], stride: stride),
                    BasicBlock(scope.scope("1"), in: widths[index], out: widths[index], stride: 1)]
        }
    }

    /// conv1, BN, ReLU and max-pool.
    func stem(_ x: Tensor, training: Bool) -> Tensor {
        stemNorm(stemConvolution(x), training: training, relu: true).maxPool2d(kernel: 3, stride: 2, padding: 1)
    }

    /// Layer `index` (1…4).
    func layer(_ index: Int, _ x: Tensor, training: Bool) -> Tensor {
        layers[index - 1].reduce(x) { $1($0, training: training) }
    }

    /// The stem and layers `1...last`.
    func callAsFunction(_ x: Tensor, through last: Int, training: Bool) -> Tensor {
        (1...last).reduce(stem(x, training: training)) { layer($1, $0, training: training) }
    }
}

extension Tensor {
    /// Global average pooling of (N, C, H, W) to (N, C).
    func globalAveragePooled() -> Tensor {
        reshaped([shape[0], shape[1], shape[2] * shape[3]]).mean(dim: 2)
    }
}
