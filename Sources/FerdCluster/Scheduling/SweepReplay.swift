/// A sweep replayed from known learning curves through the real `Scheduler`, with simulated workers and a simulated
/// clock: each worker reports a trial's stored metric per epoch after that epoch's stored duration, and leaves a
/// trial it is told to cancel. It compares stopping rules (or none) on the same curves in milliseconds: the epochs
/// and the time each rule spends, and the points it finishes (docs/SWEEPS.md).
public struct SweepReplay: Sendable {
    /// One trial's curve: its slot and, per epoch, the metric and the seconds it took.
    public struct Curve: Sendable, Equatable {
        public var slot: EarlyStopping.Slot
        public var metrics: [Double]
        public var seconds: [Double]

        public init(slot: EarlyStopping.Slot, metrics: [Double], seconds: [Double]) {
            precondition(!metrics.isEmpty && metrics.count == seconds.count, "a curve needs a duration per metric")
            self.slot = slot
            self.metrics = metrics
            self.seconds = seconds
        }
    }

    /// What a replay spent and found.
    public struct Outcome: Sendable, Equatable {
        /// Epochs reported, all trials together.
        public var epochs: Int
        /// Simulated seconds from the first assignment to the last report.
        public var wallSeconds: Double
        /// Each grid point whose trials all finished: the mean over its folds of the best metric.
        public var finished: [Int: Double]
        /// The grid points early stopping ended, with the epoch that decided.
        public var stopped: [Int: Int]

        /// The finished point with the best mean (ties: the lower id).
        public var best: Int? {
            finished.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key
        }
    }

    public var curves: [Curve]
    public var workers: Int

    public init(curves: [Curve], workers: Int) {
        precondition(workers >= 1, "a replay needs a worker")
        self.curves = curves
        self.workers = workers
    }

    /// Replays the sweep under `stopping` (nil: every trial to its end) and, optionally, a budget.
    public func run(stopping: EarlyStopping.Configuration?, budget: Scheduler.Budget? = nil) -> Outcome {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(stopping: stopping, budget: budget))
        let specs = curves.enumerated().map { index, curve in
            Scheduler.TrialSpec(id: index + 1, configJSON: "{}", slot: curve.slot)
        }
        var clock = 0.0
        var running: [Scheduler.WorkerID: (trial: Int, attempt: Int, epoch: Int, due: Double)] = [:]
        var epochs = 0
        var lastReport = 0.0
        func perform(_ actions: [Scheduler.Action]) {
            for action in actions {
                switch action {
                case let .send(.assign(assignment), worker):
                    let curve = curves[assignment.trialID - 1]
                    running[worker] = (assignment.trialID, assignment.attempt, 1, clock + curve.seconds[0])
                case let .send(.cancel(cancellation), worker) where running[worker]?.trial == cancellation.trialID:
                    running[worker] = nil
                    perform(scheduler.handle(.received(.ready(Ready(credit: 1)), from: worker, at: clock)))
                default:
                    break
                }
            }
        }
        perform(scheduler.handle(.enqueue(specs, at: 0)))
        for index in 0..<workers {
            let worker = "replay-\(index)"
            let hello = Hello(workerID: worker, ferdVersion: "replay", cores: 1, backend: "replay", slots: 1)
            perform(scheduler.handle(.received(.hello(hello), from: worker, at: 0)))
            perform(scheduler.handle(.received(.ready(Ready(credit: 1)), from: worker, at: 0)))
        }
        while let (worker, job) = running.min(by: { ($0.value.due, $0.key) < ($1.value.due, $1.key) }) {
            clock = job.due
            let curve = curves[job.trial - 1]
            let metric = MetricReport(trialID: job.trial, attempt: job.attempt, epoch: job.epoch, trainLoss: 0,
                                      uar: curve.metrics[job.epoch - 1], war: curve.metrics[job.epoch - 1],
                                      learningRate: 0, seconds: curve.seconds[job.epoch - 1], confusion: [])
            epochs += 1
            lastReport = clock
            if job.epoch < curve.metrics.count {
                running[worker] = (job.trial, job.attempt, job.epoch + 1, clock + curve.seconds[job.epoch])
                perform(scheduler.handle(.received(.metric(metric), from: worker, at: clock)))
                continue
            }
            running[worker] = nil
            perform(scheduler.handle(.received(.metric(metric), from: worker, at: clock)))
            let best = curve.metrics.max() ?? 0
            let result = ResultReport(trialID: job.trial, attempt: job.attempt, bestEpoch: 1, uar: best, war: best,
                                      perClassRecall: [], confusion: [], checkpointSHA256: "", checkpointSize: 0)
            perform(scheduler.handle(.received(.result(result), from: worker, at: clock)))
            perform(scheduler.handle(.received(.ready(Ready(credit: 1)), from: worker, at: clock)))
        }
        var finished: [Int: Double] = [:]
        for point in Set(curves.map(\.slot.point)) {
            let members = specs.filter { $0.slot?.point == point }
            guard members.allSatisfy({ scheduler.trials[$0.id]?.state == .done }) else { continue }
            let bests = members.map { curves[$0.id - 1].metrics.max() ?? 0 }
            finished[point] = bests.reduce(0, +) / Double(bests.count)
        }
        let stopped = (scheduler.stopping?.stopped ?? [:]).mapValues(\.epoch)
        return Outcome(epochs: epochs, wallSeconds: lastReport, finished: finished, stopped: stopped)
    }
}
