import Foundation

/// The worker's running attempts, one thread each. Threads report through a locked inbox that the worker's
/// loop drains; cancellation is a locked set the threads poll through `cancelled()`.
final class TrialThreads: @unchecked Sendable {
    /// What a trial thread hands back to the loop.
    enum Report: Sendable {
        case metric(MetricReport)
        /// The RESULT or FAIL (nil when cancelled) and, for a RESULT, the checkpoint file to offer.
        case finished(Scheduler.TrialAttempt, Message?, checkpoint: URL?)
    }

    private let runner: any TrialRunner
    private let lock = NSLock()
    private var inbox: [Report] = []
    private var cancelled: Set<Scheduler.TrialAttempt> = []
    private var active = 0

    init(runner: any TrialRunner) {
        self.runner = runner
    }

    /// Starts `assignment` on a new thread.
    func start(_ assignment: Assignment) {
        let key = Scheduler.TrialAttempt(trialID: assignment.trialID, attempt: assignment.attempt)
        lock.withLock { active += 1 }
        let thread = Thread { [self] in
            let outcome: TrialOutcome
            do {
                outcome = try runner.run(trial: assignment,
                                         report: { event in post(.metric(event.report(for: key))) },
                                         cancelled: { isCancelled(key) })
            } catch {
                outcome = .failed(reason: "\(error)", retryable: true)
            }
            let wasCancelled = lock.withLock { cancelled.remove(key) != nil }
            post(.finished(key, wasCancelled ? nil : outcome.message(for: key),
                           checkpoint: wasCancelled ? nil : outcome.checkpointFile))
            lock.withLock { active -= 1 }
        }
        thread.name = "ferd-trial-\(key.trialID)-\(key.attempt)"
        thread.start()
    }

    func cancel(_ key: Scheduler.TrialAttempt) {
        lock.withLock { _ = cancelled.insert(key) }
    }

    /// Takes every report posted since the last call, oldest first.
    func drain() -> [Report] {
        lock.withLock {
            defer { inbox.removeAll() }
            return inbox
        }
    }

    /// Waits until every thread has ended or `timeout` seconds passed; true if all ended.
    func waitForAll(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while lock.withLock({ active }) > 0 {
            guard Date() < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return true
    }

    private func isCancelled(_ key: Scheduler.TrialAttempt) -> Bool {
        lock.withLock { cancelled.contains(key) }
    }

    private func post(_ report: Report) {
        lock.withLock { inbox.append(report) }
    }
}
