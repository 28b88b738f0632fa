/// The training objectives' settings of the methods other than GCA+IAL (whose weights are ``LossWeights``).
/// Every method's settings are always present; only the trained method's are read.
public struct MethodLossSettings: Sendable, Codable, Equatable {
    public var scn: SCNLossSettings
    public var ran: RANLossSettings
    public var stt: STTLossSettings

    public init(scn: SCNLossSettings = .init(), ran: RANLossSettings = .init(), stt: STTLossSettings = .init()) {
        self.scn = scn
        self.ran = ran
        self.stt = stt
    }

    /// Each method's published (or, where unpublished, documented) defaults.
    public static let defaults = MethodLossSettings()
}

/// SCN's rank regularisation and relabelling (Wang et al., CVPR 2020; defaults of its released code).
public struct SCNLossSettings: Sendable, Codable, Equatable {
    /// β: the fraction of a batch in the high-importance group.
    public var rankFraction: Float
    /// δ1: the margin between the mean importance of the high and the low group.
    public var rankMargin: Float
    /// δ2: a label is replaced by the prediction when the predicted probability exceeds the label's by more.
    public var relabelMargin: Float
    /// The first epoch (1-based) in which labels are replaced.
    public var relabelEpoch: Int

    public init(rankFraction: Float = 0.7, rankMargin: Float = 0.15, relabelMargin: Float = 0.2, relabelEpoch: Int = 10) {
        self.rankFraction = rankFraction
        self.rankMargin = rankMargin
        self.relabelMargin = relabelMargin
        self.relabelEpoch = relabelEpoch
    }
}

/// RAN's region-biased loss (Wang et al., TIP 2020).
public struct RANLossSettings: Sendable, Codable, Equatable {
    /// δ: the margin by which the best crop's attention weight should exceed the whole face's.
    public var margin: Float

    public init(margin: Float = 0.02) {
        self.margin = margin
    }
}

/// STT's compact softmax cross-entropy, as reconstructed (docs/METHODS.md).
public struct STTLossSettings: Sendable, Codable, Equatable {
    /// λ: the weight of the compactness term added to the cross-entropy.
    public var compactWeight: Float

    public init(compactWeight: Float = 1) {
        self.compactWeight = compactWeight
    }
}
