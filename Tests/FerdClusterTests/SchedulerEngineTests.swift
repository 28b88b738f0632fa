import XCTest
@testable import FerdCluster

/// Trials that pin an engine go only to workers of that engine; trials of any engine go anywhere.
final class SchedulerEngineTests: XCTestCase {
    private func spec(_ id: Int, _ engine: TrainingEngine?) -> Scheduler.TrialSpec {
        Scheduler.TrialSpec(id: id, configJSON: "{}", engine: engine)
    }

    func testPinnedTrialsGoOnlyToWorkersOfTheirEngine() {
        var scheduler = Scheduler()
        _ = scheduler.handle(.enqueue([spec(1, .torch), spec(2, .swift), spec(3, nil), spec(4, .torch)]))
        let swiftActions = scheduler.join("cpu-box", slots: 2, engine: .swift)
        XCTAssertEqual(assignments(swiftActions).map(\.key.trialID), [2, 3], "the swift worker skips the torch trials")
        XCTAssertEqual(scheduler.pending, [1, 4])
        let torchActions = scheduler.join("gpu-box", slots: 2, engine: .torch)
        XCTAssertEqual(assignments(torchActions).map(\.worker), ["gpu-box", "gpu-box"])
        XCTAssertEqual(assignments(torchActions).map(\.key.trialID), [1, 4])
        XCTAssertTrue(scheduler.pending.isEmpty)
    }

    func testATrialWithoutAWorkerOfItsEngineWaits() {
        var scheduler = Scheduler()
        _ = scheduler.handle(.enqueue([spec(1, .torch)]))
        XCTAssertTrue(assignments(scheduler.join("cpu-box", slots: 4, engine: .swift)).isEmpty)
        XCTAssertEqual(scheduler.trials(in: .queued).map(\.spec.id), [1])
    }

    func testAGangIsFormedFromWorkersOfItsEngineOnly() {
        var scheduler = Scheduler(configuration: Scheduler.Configuration(gradientHubEndpoint: "tcp://hub:1"))
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", workersPerTrial: 2, engine: .swift)]))
        _ = scheduler.join("gpu-1", engine: .torch)
        _ = scheduler.join("gpu-2", engine: .torch)
        _ = scheduler.join("cpu-1", engine: .swift)
        let actions = scheduler.join("cpu-2", engine: .swift)
        XCTAssertEqual(Set(assignments(actions).map(\.worker)), ["cpu-1", "cpu-2"])
    }

    func testHelloCarriesTheEngine() throws {
        let hello = Hello(workerID: "w", ferdVersion: "t", cores: 2, backend: "cuda:0 (H200)", engine: .torch, slots: 1)
        XCTAssertEqual(try Message.decode(try Message.hello(hello).encode()), .hello(hello))
    }
}
