/// The seven DFEW classes in label order (DFEW's, Jiang et al., ACM MM 2020), as the papers' per-class tables name them.
public enum ExpressionClasses {
    public static let names = ["Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear"]

    /// The name of class `index`, or "class N" beyond the seven.
    public static func name(_ index: Int) -> String {
        index < names.count ? names[index] : "class \(index)"
    }
}
