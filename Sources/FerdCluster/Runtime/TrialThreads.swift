import Foundation

/// The worker's running attempts, one thread each. Threads report through a locked inbox that the worker's
/// loop drains; cancellation is a locked set the threads poll through `cancelled()`.
///
/// Besides the coordinator's CANCEL of one attempt (whose end is not reported), the worker itself can stop
/// every attempt in two ways: `finishEpochs()` lets each one finish its current epoch (its METRIC is
/// reported) and stop at that boundary; `interruptAll()` stops them between steps. An attempt stopped either
/// way that did not complete is reported as a retryable FAIL that says it was interrupted, so the
/// coordinator queues it again.
final class TrialThreads: @unchecked Sendable {
    /// What a trial thread hands back to the loop.
    enum Report: Sendable {
        /// A finished epoch and, if the runner wrote one, its resume checkpoint to offer.
        case metric(MetricReport, resumeCheckpoint: URL?)
        /// The RESULT or FAIL (nil when cancelled) and, for a RESULT, the checkpoint file to offer.
        case finished(Scheduler.TrialAttempt, Message?, checkpoint: URL?)
    }

    private let runner: any TrialRunner
    private let workerID: String
    private let lock = NSLock()
    private var inbox: [Report] = []
    private var cancelled: Set<Scheduler.TrialAttempt> = []
    /// Attempts that finished an epoch after `finishEpochs()`: they stop now.
    private var epochBoundaryReached: Set<Scheduler.TrialAttempt> = []
    /// Attempts that were told to stop by `finishEpochs()` or `interruptAll()` (not by a CANCEL).
    private var stoppedByWorker: Set<Scheduler.TrialAttempt> = []
    private var lastEpoch: [Scheduler.TrialAttempt: Int] = [:]
    private var draining = false
    private var interrupted = false
    private var active = 0

    init(runner: any TrialRunner, workerID: String = "") {
        self.runner = runner
        self.workerID = workerID
    }

    /// Starts `assignment` on a new thread, continuing from `resumeFile` when given.
    func start(_ assignment: Assignment, resumeFile: URL? = nil) {
        let key = Scheduler.TrialAttempt(trialID: assignment.trialID, attempt: assignment.attempt)
        lock.withLock { active += 1 }
        let thread = Thread { [self] in
            var outcome: TrialOutcome
            do {
                outcome = try runner.run(trial: assignment, resumeFile: resumeFile,
                                         report: { event in reportEpoch(event, of: key) },
                                         cancelled: { shouldStop(key) }, aborted: { [self] in isAborted(key) })
            } catch {
                outcome = .failed(reason: "\(error)", retryable: true)
            }
            let (wasCancelled, byWorker, epoch) = lock.withLock {
                defer {
                    stoppedByWorker.remove(key)
                    epochBoundaryReached.remove(key)
                    lastEpoch[key] = nil
                }
                return (cancelled.remove(key) != nil, stoppedByWorker.contains(key), lastEpoch[key])
            }
            if byWorker, case .failed = outcome {
                let progress = epoch.map { "after epoch \($0)" } ?? "before its first epoch ended"
                outcome = .failed(reason: "interrupted: worker \(workerID) is shutting down; attempt stopped \(progress)",
                                  retryable: true)
            }
            post(.finished(key, wasCancelled ? nil : outcome.message(for: key),
                           checkpoint: wasCancelled ? nil : outcome.checkpointFile))
            lock.withLock { active -= 1 }
        }
        thread.name = "ferd-trial-\(key.trialID)-\(key.attempt)"
        thread.start()
    }

    /// The coordinator's CANCEL: the attempt stops between steps and its end is not reported.
    func cancel(_ key: Scheduler.TrialAttempt) {
        lock.withLock { _ = cancelled.insert(key) }
    }

    /// Graceful shutdown: every running attempt stops at the end of its current epoch (after reporting it).
    func finishEpochs() {
        lock.withLock { draining = true }
    }

    /// Immediate shutdown: every running attempt stops between steps.
    func interruptAll() {
        lock.withLock { interrupted = true }
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

    /// The number of attempt threads still running.
    var activeCount: Int { lock.withLock { active } }

    private func reportEpoch(_ event: MetricEvent, of key: Scheduler.TrialAttempt) {
        lock.withLock {
            inbox.append(.metric(event.report(for: key), resumeCheckpoint: event.resumeCheckpoint?.file))
            lastEpoch[key] = event.epoch
            if draining { epochBoundaryReached.insert(key) }
        }
    }

    private func shouldStop(_ key: Scheduler.TrialAttempt) -> Bool {
        lock.withLock {
            if cancelled.contains(key) { return true }
            if interrupted || epochBoundaryReached.contains(key) {
                stoppedByWorker.insert(key)
                return true
            }
            return false
        }
    }

    private func isAborted(_ key: Scheduler.TrialAttempt) -> Bool {
        lock.withLock { cancelled.contains(key) || interrupted }
    }

    private func post(_ report: Report) {
        lock.withLock { inbox.append(report) }
    }
}
