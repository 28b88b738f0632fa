import XCTest
@testable import FerdCluster

/// Drives the scheduler with long pseudo-random event sequences and checks its promises after every step.
final class SchedulerInvariantTests: XCTestCase {
    func testRandomEventSequencesKeepThePromises() {
        var outcomes: [Scheduler.TrialState: Int] = [:]
        for seed in 1...20 as ClosedRange<UInt64> {
            for (state, count) in run(seed: seed) {
                outcomes[state, default: 0] += count
            }
        }
        XCTAssertGreaterThan(outcomes[.done] ?? 0, 0, "the sequences should finish some trials")
        XCTAssertGreaterThan(outcomes[.lost] ?? 0, 0, "the sequences should lose some trials")
        XCTAssertGreaterThan(outcomes[.failed] ?? 0, 0, "the sequences should fail some trials")
    }

    /// Returns how often each state was entered.
    private func run(seed: UInt64) -> [Scheduler.TrialState: Int] {
        var entered: [Scheduler.TrialState: Int] = [:]
        var random = TestRandom(seed: seed)
        var scheduler = Scheduler(configuration: .init(maxAttempts: 3))
        let workerIDs = ["w0", "w1", "w2", "w3"]
        var assigned: Set<Key> = []
        var storedTrials: Set<Int> = []
        var running: [Scheduler.WorkerID: Set<Key>] = [:]
        var now = 0.0
        scheduler.enqueue(1...30)

        for _ in 0..<600 {
            now += Double(random.below(1500)) / 1000
            let worker = workerIDs[random.below(workerIDs.count)]
            let known = Array(running[worker] ?? [])
            let message: Message? = switch random.below(9) {
            case 0: .hello(Hello(workerID: worker, ferdVersion: "t", cores: 2, backend: "cpu", slots: 1 + random.below(3)))
            case 1: .ready(Ready(credit: random.below(4)))
            case 2: heartbeat(UInt64(random.below(100)))
            case 3, 4: known.randomElement(using: &random).map { result($0.trialID, attempt: $0.attempt) }
            case 5: known.randomElement(using: &random).map {
                .fail(FailureReport(trialID: $0.trialID, attempt: $0.attempt, error: "x", retryable: random.below(2) == 0))
            }
            case 6: result(1 + random.below(30), attempt: 1 + random.below(3))
            case 7: .bye
            default: nil
            }
            let actions = message.map { scheduler.receive($0, from: worker, at: now) } ?? scheduler.handle(.tick(at: now))
            if case .hello = message { running[worker] = [] }
            if message == .bye { running[worker] = nil }

            for action in actions {
                switch action {
                case let .send(.assign(assignment), to):
                    let key = Key(trialID: assignment.trialID, attempt: assignment.attempt)
                    XCTAssertTrue(assigned.insert(key).inserted, "seed \(seed): \(key) assigned twice")
                    running[to, default: []].insert(key)
                case let .recordResult(report, _):
                    XCTAssertTrue(storedTrials.insert(report.trialID).inserted, "seed \(seed): result stored twice")
                case let .workerGone(id, _):
                    running[id] = nil
                case let .trialChanged(change):
                    entered[change.state, default: 0] += 1
                default:
                    break
                }
            }
            check(scheduler, seed: seed)
        }
        return entered
    }

    private func check(_ scheduler: Scheduler, seed: UInt64) {
        for worker in scheduler.workers.values {
            XCTAssertLessThanOrEqual(worker.running.count, worker.slots, "seed \(seed)")
        }
        for trial in scheduler.trials.values {
            XCTAssertLessThanOrEqual(trial.attempt, scheduler.configuration.maxAttempts, "seed \(seed)")
            let isPending = scheduler.pending.contains(trial.spec.id)
            XCTAssertEqual(isPending, trial.state == .queued || trial.state == .lost, "seed \(seed)")
            if trial.state == .running, let worker = trial.worker {
                let key = Key(trialID: trial.spec.id, attempt: trial.attempt)
                XCTAssertEqual(scheduler.workers[worker]?.running.contains(key), true, "seed \(seed)")
            }
        }
        XCTAssertEqual(Set(scheduler.pending).count, scheduler.pending.count, "seed \(seed): trial queued twice")
    }
}

extension Array {
    func randomElement(using random: inout TestRandom) -> Element? {
        isEmpty ? nil : self[random.below(count)]
    }
}
