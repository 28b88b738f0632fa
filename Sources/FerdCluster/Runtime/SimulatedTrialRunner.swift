import Foundation

/// A testing and benchmarking aid, not a trainer: pretends to run an attempt by waiting `secondsPerEpoch`
/// per epoch (checking `cancelled` every 10 ms, like a trainer between steps), reporting `epochs` METRICs
/// and completing with scores that depend only on the trial id, without a checkpoint (size 0, so none is
/// requested). Stopped before the last epoch, it fails the attempt (retryable). `ferd worker
/// --simulate-trials` uses it.
public struct SimulatedTrialRunner: TrialRunner {
    public var secondsPerEpoch: Double
    public var epochs: Int

    public init(secondsPerEpoch: Double, epochs: Int = 3) {
        precondition(secondsPerEpoch >= 0 && epochs >= 1, "a simulated trial needs at least one epoch")
        self.secondsPerEpoch = secondsPerEpoch
        self.epochs = epochs
    }

    /// The UAR a simulated attempt of `trialID` reports.
    public static func uar(trialID: Int) -> Double { 0.3 + Double(trialID % 7) / 20 }

    static let confusion = (0..<WireFormat.classCount).map { row in
        (0..<WireFormat.classCount).map { column in row == column ? 8 : 1 }
    }

    public func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        let uar = Self.uar(trialID: trial.trialID)
        for epoch in 1...epochs {
            let started = Date()
            let end = started.addingTimeInterval(secondsPerEpoch)
            while Date() < end {
                if cancelled() { return .failed(reason: "simulated trial stopped during epoch \(epoch)", retryable: true) }
                Thread.sleep(forTimeInterval: min(0.01, max(0, end.timeIntervalSinceNow)))
            }
            report(MetricEvent(epoch: epoch, trainLoss: 1 / Double(epoch), uar: uar, war: uar, learningRate: 0.01,
                               seconds: Date().timeIntervalSince(started), confusion: Self.confusion))
            if cancelled(), epoch < epochs {
                return .failed(reason: "simulated trial stopped after epoch \(epoch)", retryable: true)
            }
        }
        return .completed(TrialScores(bestEpoch: epochs, uar: uar, war: uar,
                                      perClassRecall: Array(repeating: uar, count: WireFormat.classCount),
                                      confusion: Self.confusion, checkpointSHA256: String(repeating: "0", count: 64),
                                      checkpointSize: 0))
    }
}
