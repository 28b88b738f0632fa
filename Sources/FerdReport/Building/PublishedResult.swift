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

/// A dataset whose published method results the method comparison table shows.
public enum PublishedDataset: String, Sendable, CaseIterable, Codable {
    case dfew = "DFEW"
    case ferv39k = "FERV39k"
    case rafDB = "RAF-DB"

    /// The dataset's paper and the protocol the published rows follow.
    public var citation: String {
        switch self {
        case .dfew: PublishedResult.dfewDataset + "; 5-fold cross-validation"
        case .ferv39k: "Wang et al., FERV39k: A Large-Scale Multi-Scene Dataset for Facial Expression Recognition in Videos, CVPR 2022; its train/test split"
        case .rafDB: "Li, Deng & Du, Reliable Crowdsourcing and Deep Locality-Preserving Learning for Expression Recognition in the Wild, CVPR 2017; basic expressions, its train/test split"
        }
    }

    /// The dataset an experiment trains on, from its file: FERV39k or RAF-DB when its text names them
    /// (the `data:` path or layout), else DFEW.
    public static func inferred(fromConfig config: String) -> PublishedDataset {
        let text = config.lowercased()
        if text.contains("ferv39k") { return .ferv39k }
        if text.contains("raf-db") || text.contains("rafdb") || text.contains("raf_db") { return .rafDB }
        return .dfew
    }
}

/// A published result of one method on one dataset, for the method comparison: per-class recall where the
/// paper prints it, UAR where it does, WAR (accuracy). Printed for comparison only, never computed.
public struct PublishedMethodResult: Sendable, Equatable {
    /// The method's name as the papers print it.
    public var method: String
    /// ferd's `method:` word when ferd trains the method, else nil (NR-DFERNet).
    public var ferdMethod: String?
    public var citation: String
    /// In label order; nil where not published.
    public var recall: [Double]?
    public var uar: Double?
    public var war: Double

    public init(method: String, ferdMethod: String?, citation: String, recall: [Double]? = nil, uar: Double? = nil, war: Double) {
        self.method = method
        self.ferdMethod = ferdMethod
        self.citation = citation
        self.recall = recall
        self.uar = uar
        self.war = war
    }

    /// The published rows of `dataset`. DFEW and FERV39k: as reported in the comparison tables of later work
    /// (e.g. SVFAP); RAF-DB: SCN's paper (88.14; 87.03 when trained on RAF-DB alone, per its code's README) and
    /// RAN's (ResNet-18).
    public static func results(for dataset: PublishedDataset) -> [PublishedMethodResult] {
        let ferdMethods = ["Former-DFER": "former-dfer", "STT": "stt", "GCA+IAL": "gca-ial"]
        let citations = Dictionary(PublishedResult.dfew.map { ($0.method, $0.citation) }, uniquingKeysWith: { a, _ in a })
        switch dataset {
        case .dfew:
            return PublishedResult.dfew.map {
                PublishedMethodResult(method: $0.method, ferdMethod: ferdMethods[$0.method], citation: $0.citation,
                                      recall: $0.recall, uar: $0.uar, war: $0.war)
            }
        case .ferv39k:
            return [("Former-DFER", 0.3720, 0.4685), ("STT", 0.3776, 0.4811), ("NR-DFERNet", 0.3399, 0.4597), ("GCA+IAL", 0.3582, 0.4854)]
                .map { name, uar, war in
                    PublishedMethodResult(method: name, ferdMethod: ferdMethods[name], citation: citations[name]!, uar: uar, war: war)
                }
        case .rafDB:
            return [
                PublishedMethodResult(method: "SCN", ferdMethod: "scn",
                                      citation: "Wang, Peng, Yang, Meng & Qiao, Suppressing Uncertainties for Large-Scale Facial "
                                          + "Expression Recognition, CVPR 2020 (88.14 in its abstract; 87.03 when trained on RAF-DB "
                                          + "alone, per its code's README)", war: 0.8814),
                PublishedMethodResult(method: "RAN (ResNet-18)", ferdMethod: "ran",
                                      citation: "Wang, Peng, Yang, Meng & Qiao, Region Attention Networks for Pose and Occlusion "
                                          + "Robust Facial Expression Recognition, IEEE TIP 2020", war: 0.8690),
            ]
        }
    }
}
