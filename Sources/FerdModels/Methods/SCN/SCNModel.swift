import FerdTensor

/// The Self-Cure Network of Wang et al. (CVPR 2020) applied per frame: a torchvision ResNet-18 on the
/// ImageNet-normalised frames, 512-d average-pooled features x, importance α = σ(alpha.0(x)) and frame
/// logits α·fc(x); the clip's logits are the mean of its frames' logits. Parameter names are those of the
/// authors' `Res18Feature` (`features.N`, `fc`, `alpha.0`).
public final class SCNModel: ExpressionModel {
    public let configuration: ModelConfiguration
    public let store: ParameterStore

    private let backbone: ResNet18
    private let classifier: Linear
    private let importanceHead: Linear

    /// ImageNet's channel means and standard deviations, as SCN's input transform normalises with.
    static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// Builds the model with torchvision's initialisation drawn from `seed`.
    public init(configuration: ModelConfiguration, seed: UInt64 = 0) throws(ModelError) {
        try configuration.validate()
        self.configuration = configuration
        let store = ParameterStore()
        self.store = store
        let root = ParameterBuilder(store: store, seed: seed)
        let widths = configuration.widths
        backbone = ResNet18(root.scope("features"), widths: widths, naming: .sequential)
        classifier = Linear(root, "fc", in: widths[4], out: configuration.classes)
        importanceHead = Linear(root, "alpha.0", in: widths[4], out: 1)
    }

    /// Runs the model on clips (B, T, 3, S, S) in [0, 1]; the output carries α of every frame.
    public func callAsFunction(_ clips: Tensor, training: Bool) throws(ModelError) -> ModelOutput {
        let frames = try configuration.framesOfClips(clips)
        let batch = clips.shape[0]
        let normalised = Tensor.normalisedChannels(frames, mean: Self.imageNetMean, std: Self.imageNetStd)
        let features = backbone(normalised, through: 4, training: training).globalAveragePooled()
        let importance = importanceHead(features).sigmoid()
        let frameLogits = importance * classifier(features)
        let logits = frameLogits.reshaped([batch, configuration.frames, configuration.classes]).mean(dim: 1)
        return ModelOutput(logits: logits, importance: importance.reshaped([batch * configuration.frames]))
    }
}

extension ModelConfiguration {
    /// Checks that `clips` is (B, T, 3, S, S) for this configuration and returns its frames as (B·T, 3, S, S).
    func framesOfClips(_ clips: Tensor) throws(ModelError) -> Tensor {
        guard clips.rank == 5, clips.shape[1] == frames, clips.shape[2] == 3,
              clips.shape[3] == imageSize, clips.shape[4] == imageSize else {
            throw ModelError.input("clips have shape \(clips.shape); this model takes (B, \(frames), 3, \(imageSize), \(imageSize))")
        }
        return clips.reshaped([clips.shape[0] * frames, 3, imageSize, imageSize])
    }
}

extension Tensor {
    /// (x − mean[c]) / std[c] per channel of (N, C, H, W) images, without a gradient into them.
    static func normalisedChannels(_ images: Tensor, mean: [Float], std: [Float]) -> Tensor {
        let channels = images.shape[1], plane = images.shape[2] * images.shape[3]
        var out = images.data
        out.withUnsafeMutableBufferPointer { values in
            Parallel.forRange(images.count / plane, costPerItem: plane) { planes in
                for index in planes {
                    let c = index % channels, deviation = std[c], shift = mean[c]
                    for i in (index * plane)..<((index + 1) * plane) { values[i] = (values[i] - shift) / deviation }
                }
            }
        }
        return Tensor(shape: images.shape, data: out)
    }
}
