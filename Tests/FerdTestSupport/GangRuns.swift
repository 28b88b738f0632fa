import FerdModels
import FerdTraining
import Foundation
import Logging

/// Runs `body(rank)` for every rank in `0..<count` on its own thread (8 MB stacks: a training step recurses
/// deeper than a secondary thread's default allows) and returns the results by rank. `onFailure` is called on
/// the failing member's thread, e.g. to abandon a gang so that the other members stop waiting.
public func runOnThreads<T>(_ count: Int, onFailure: @escaping @Sendable (Int, Error) -> Void = { _, _ in },
                            _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, Error>] {
    let results = LockedResults<T>(count: count)
    let group = DispatchGroup()
    for rank in 0..<count {
        group.enter()
        let thread = Thread {
            let result = Result { try body(rank) }
            if case let .failure(error) = result { onFailure(rank, error) }
            results.set(rank, result)
            group.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    group.wait()
    return results.all
}

/// The members' results, written from their threads.
private final class LockedResults<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<T, Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ rank: Int, _ result: Result<T, Error>) { lock.withLock { values[rank] = result } }

    var all: [Result<T, Error>] { lock.withLock { values.map { $0! } } }
}

/// What one member of a test gang ended with: its loss per step, its epochs, and its final parameters, buffers,
/// counters and state digest.
public struct MemberRun: Sendable {
    public var stepLosses: [Double]
    public var history: [EpochReport]
    public var completed: Bool
    public var state: [String: [Float]]
    public var counters: [String: Int64]
    public var digest: String?
    /// SCN's relabelled labels the member ended with.
    public var labels: LabelStore

    /// Trains `settings` on `data` as `gang`'s member in `runDirectory` and records what it ended with.
    public static func train(settings: TrainingSettings, data: BatchProvider, runDirectory: URL,
                             gang: GangCommunicator, logger: Logger,
                             shouldStop: () -> Bool = { false }) throws -> MemberRun {
        let trainer = try Trainer(settings: settings, runDirectory: runDirectory, resume: false, logger: logger,
                                  gang: gang)
        var losses: [Double] = []
        let summary = try trainer.run(data: data, shouldStop: shouldStop, observe: { event in
            if case let .step(_, _, _, loss) = event { losses.append(loss) }
        })
        return MemberRun(stepLosses: losses, history: summary.history, completed: summary.completed,
                         state: trainer.model.store.tensors.mapValues(\.data),
                         counters: trainer.model.store.counters, digest: trainer.stateDigest, labels: trainer.labels)
    }
}
