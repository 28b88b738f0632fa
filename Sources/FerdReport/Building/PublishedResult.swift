/// A published DFEW 5-fold row: per-class recall in label order, UAR and WAR, as fractions, and the paper
/// that reports it. These are printed for comparison only, never computed.
public struct PublishedResult: Sendable, Equatable {
    public var method: String
    public var venue: String
    /// Authors, title and venue of the paper the row comes from.
    public var citation: String
    public var recall: [Double]
    public var uar: Double
    public var war: Double

    /// The dataset and protocol all the rows follow (5-fold cross-validation on its single-labelled clips).
    public static let dfewDataset = "Jiang et al., DFEW: A Large-Scale Database for Recognizing Dynamic Facial "
        + "Expressions in the Wild, ACM MM 2020"

    /// Former-DFER, STT, NR-DFERNet and GCA+IAL on DFEW: the numbers each paper publishes, as the field's
    /// comparison tables quote them.
    public static let dfew: [PublishedResult] = [
        PublishedResult(method: "Former-DFER", venue: "MM'21",
                        citation: "Zhao & Liu, Former-DFER: Dynamic Facial Expression Recognition Transformer, ACM MM 2021",
                        recall: [0.8405, 0.6257, 0.6752, 0.7003, 0.5643, 0.0345, 0.3178], uar: 0.5369, war: 0.6570),
        PublishedResult(method: "STT", venue: "arXiv'22",
                        citation: "Ma, Sun & Li, Spatio-Temporal Transformer for Dynamic Facial Expression Recognition "
                            + "in the Wild, arXiv:2205.04749, 2022",
                        recall: [0.8736, 0.6790, 0.6497, 0.7124, 0.5310, 0.0349, 0.3404], uar: 0.5458, war: 0.6665),
        PublishedResult(method: "NR-DFERNet", venue: "arXiv'22",
                        citation: "Li et al., NR-DFERNet: Noise-Robust Network for Dynamic Facial Expression Recognition, "
                            + "arXiv:2206.04975, 2022",
                        recall: [0.8847, 0.6484, 0.7003, 0.7509, 0.6160, 0.0, 0.1943], uar: 0.5421, war: 0.6819),
        PublishedResult(method: "GCA+IAL", venue: "AAAI'23",
                        citation: "Li et al., Intensity-Aware Loss for Dynamic Facial Expression Recognition in the Wild, "
                            + "AAAI 2023",
                        recall: [0.8795, 0.6721, 0.7010, 0.7606, 0.6222, 0.0, 0.2644], uar: 0.5571, war: 0.6924),
    ]
}
