/// A running attempt's step progress, for the worker's display: the trial, the epoch and how far its training or
/// evaluation is. Both engines' runners report it to their `progress` handler.
public struct TrialProgress: Sendable, Equatable {
    public enum Phase: String, Sendable {
        case training
        case evaluating
    }

    public var trialID: Int
    public var attempt: Int
    public var epoch: Int
    public var epochs: Int
    public var phase: Phase
    public var batch: Int
    public var batches: Int
    /// The step's training loss; nil while evaluating.
    public var loss: Double?

    public init(trialID: Int, attempt: Int, epoch: Int, epochs: Int, phase: Phase, batch: Int, batches: Int,
                loss: Double?) {
        self.trialID = trialID
        self.attempt = attempt
        self.epoch = epoch
        self.epochs = epochs
        self.phase = phase
        self.batch = batch
        self.batches = batches
        self.loss = loss
    }
}
