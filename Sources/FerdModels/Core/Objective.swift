import FerdTensor

/// One named, unweighted term of a training objective.
public struct LossPart: Sendable, Equatable {
    public let name: String
    public let value: Float

    public init(name: String, value: Float) {
        self.name = name
        self.value = value
    }

    /// The cross-entropy of the clip logits, in every method's objective.
    public static let crossEntropy = "ce"
    /// GCA+IAL: the intensity-aware loss.
    public static let intensityAware = "ial"
    /// GCA+IAL: the auxiliary heads' cross-entropies are `aux2` (layer2) and `aux3` (layer3).
    public static let auxiliaryPrefix = "aux"
    /// SCN: the rank regularisation of the importance weights.
    public static let rankRegularization = "rank"
    /// RAN: the region-biased loss.
    public static let regionBiased = "region"
    /// STT: the compactness term of the compact softmax cross-entropy.
    public static let compactness = "compact"
}

/// The parts of one evaluation of the training objective: the weighted total to back-propagate and
/// each term's unweighted value, named per method (``LossPart``).
public struct LossBreakdown {
    public let total: Tensor
    /// The terms in a fixed order per method, the cross-entropy first.
    public let parts: [LossPart]

    public init(total: Tensor, parts: [LossPart]) {
        self.total = total
        self.parts = parts
    }

    /// The value of the part named `name`, or nil.
    public subscript(name: String) -> Float? { parts.first { $0.name == name }?.value }

    /// The cross-entropy of the clip logits.
    public var crossEntropy: Float { self[LossPart.crossEntropy] ?? 0 }
    /// GCA+IAL's intensity-aware loss (0 for other methods).
    public var intensityAware: Float { self[LossPart.intensityAware] ?? 0 }
    /// GCA+IAL's auxiliary cross-entropies, layer2's first (empty for other methods).
    public var auxiliary: [Float] { parts.filter { $0.name.hasPrefix(LossPart.auxiliaryPrefix) }.map(\.value) }
}

extension ModelOutput {
    /// The training objective of `method` on these outputs and the clips' targets:
    /// - gca-ial: CE + λ·IAL + Σ aux_i·CE(aux head i) (``loss(targets:weights:)``, `weights`);
    /// - scn: CE + rank regularisation of the frames' α (`methodLoss.scn`);
    /// - ran: CE + region-biased loss of the frames' μ (`methodLoss.ran`);
    /// - stt: CE + λ·compactness (`methodLoss.stt`);
    /// - former-dfer: CE.
    /// Throws when the output lacks what the method's loss needs (SCN's α, RAN's μ).
    public func objective(method: ModelMethod, targets: [Int], weights: LossWeights = .reference,
                          methodLoss: MethodLossSettings = .defaults) throws(ModelError) -> LossBreakdown {
        if method == .gcaIAL { return loss(targets: targets, weights: weights) }
        let ce = logits.crossEntropy(targets: targets)
        let cepart = LossPart(name: LossPart.crossEntropy, value: ce.item)
        switch method {
        case .gcaIAL, .formerDFER:
            return LossBreakdown(total: ce, parts: [cepart])
        case .scn:
            guard let importance else { throw ModelError.input("the SCN objective needs the importance weights α; the model did not output them") }
            let settings = methodLoss.scn
            let rank = importance.rankRegularization(fraction: settings.rankFraction, margin: settings.rankMargin)
            return LossBreakdown(total: ce + rank, parts: [cepart, LossPart(name: LossPart.rankRegularization, value: rank.item)])
        case .ran:
            guard let regionAttention else { throw ModelError.input("the RAN objective needs the region attention μ; the model did not output it") }
            let region = regionAttention.regionBiasedLoss(margin: methodLoss.ran.margin)
            return LossBreakdown(total: ce + region, parts: [cepart, LossPart(name: LossPart.regionBiased, value: region.item)])
        case .stt:
            let compact = logits.complementUniformity(targets: targets)
            return LossBreakdown(total: ce + compact * methodLoss.stt.compactWeight,
                                 parts: [cepart, LossPart(name: LossPart.compactness, value: compact.item)])
        }
    }
}
