/// The seven basic expressions of DFEW and FERV39k, in the label order every codebase trains on
/// (DFEW's 1..7 minus one).
public enum Emotion: Int, CaseIterable, Sendable, Codable {
    case happy, sad, neutral, angry, surprise, disgust, fear

    /// The name used in tables, as the papers print it.
    public var name: String {
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
}
