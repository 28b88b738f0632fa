/// A published DFEW 5-fold row (model-spec.md §5): per-class recall in label order, UAR and WAR, as
/// fractions. These are printed for comparison only, never computed.
public struct PublishedResult: Sendable, Equatable {
    public var method: String
    public var venue: String
    public var recall: [Double]
    public var uar: Double
    public var war: Double

    /// Former-DFER, STT, NR-DFERNet and GCA+IAL on DFEW (secondary sources, see model-spec.md §5).
    public static let dfew: [PublishedResult] = [
        PublishedResult(method: "Former-DFER", venue: "MM'21",
                        recall: [0.8405, 0.6257, 0.6752, 0.7003, 0.5643, 0.0345, 0.3178], uar: 0.5369, war: 0.6570),
        PublishedResult(method: "STT", venue: "arXiv'22",
                        recall: [0.8736, 0.6790, 0.6497, 0.7124, 0.5310, 0.0349, 0.3404], uar: 0.5458, war: 0.6665),
        PublishedResult(method: "NR-DFERNet", venue: "arXiv'22",
                        recall: [0.8847, 0.6484, 0.7003, 0.7509, 0.6160, 0.0, 0.1943], uar: 0.5421, war: 0.6819),
        PublishedResult(method: "GCA+IAL", venue: "AAAI'23",
                        recall: [0.8795, 0.6721, 0.7010, 0.7606, 0.6222, 0.0, 0.2644], uar: 0.5571, war: 0.6924),
    ]
}
