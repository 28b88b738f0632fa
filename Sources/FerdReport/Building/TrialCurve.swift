/// One trial's learning curve: per epoch, the training loss and the test UAR and WAR.
public struct TrialCurve: Sendable, Equatable {
    /// One epoch of the curve.
    public struct Point: Sendable, Equatable {
        public var epoch: Int
        public var trainLoss: Double
        public var uar: Double
        public var war: Double
    }

    public var trialID: Int
    public var gridPointID: Int
    public var fold: Int
    public var attempt: Int
    /// The epoch the selection scores the fold at, when the fold is scored.
    public var selectedEpoch: Int?
    public var points: [Point]
}
