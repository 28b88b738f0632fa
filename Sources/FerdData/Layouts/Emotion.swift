/// The 7 basic emotions (expression classes) in DFEW's label order: DFEW label `rawValue + 1` (1 Happy … 7 Fear);
/// every codebase trains on `rawValue` (0…6).
public enum Emotion: Int, CaseIterable, Sendable, CustomStringConvertible {
    case happy, sad, neutral, angry, surprise, disgust, fear

    /// The label as written in DFEW's split files (1…7).
    public var dfewLabel: Int { rawValue + 1 }

    /// The expression for a DFEW label (1…7), or nil when out of range.
    public init?(dfewLabel: Int) {
        self.init(rawValue: dfewLabel - 1)
    }

    public var description: String {
        switch self {
        case .happy: "Happy"
        case .sad: "Sad"
        case .neutral: "Neutral"
        case .angry: "Angry"
        case .surprise: "Surprise"
        case .disgust: "Disgust"
        case .fear: "Fear"
        }
    }

    /// Single-labelled clips per class in DFEW (11,697 in all).
    public var dfewCount: Int {
        switch self {
        case .happy: 2445
        case .sad: 1894
        case .neutral: 2669
        case .angry: 2173
        case .surprise: 1469
        case .disgust: 145
        case .fear: 902
        }
    }
}

extension Emotion {
    /// The expression a dataset calls `name`, case-insensitive: ferd's names (`Happy` … `Fear`) and the noun forms
    /// other datasets use (RAF-DB's `Happiness`, `Sadness`, `Anger`; `Surprised`, `Disgusted`, `Fearful`).
    /// Nil for any other word.
    public init?(name: String) {
        switch name.lowercased() {
        case "happy", "happiness": self = .happy
        case "sad", "sadness": self = .sad
        case "neutral": self = .neutral
        case "angry", "anger": self = .angry
        case "surprise", "surprised": self = .surprise
        case "disgust", "disgusted": self = .disgust
        case "fear", "fearful": self = .fear
        default: return nil
        }
    }

    /// The class names in label order, for error messages: `Happy, Sad, …, Fear`.
    static var namesInOrder: String { allCases.map(\.description).joined(separator: ", ") }
}
